package localfleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/gatefed/gatefed/internal/provider"
)

// moduleCRDFile is where the CRDs of a family held in module files are
// kept once fetched: <cache>/<family>-crds/<version>/, in the file's own
// name (crds.yaml when several files are joined).
func moduleCRDFile(family string, m provider.ModuleFiles) string {
	name := "crds.yaml"
	if len(m.Files) == 1 {
		name = path.Base(m.Files[0])
	}
	return filepath.Join(CacheDir(), family+"-crds", m.Version, name)
}

// loadModuleCRDs reads a family's CRDs cached in moduleCRDFile, first
// copying them there from the module's files (see fetchModuleFile).
func loadModuleCRDs(family string, m provider.ModuleFiles) ([]*apiextv1.CustomResourceDefinition, error) {
	file := moduleCRDFile(family, m)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = fetchModuleFile(m.Module+"@"+m.Version, m.Files, file)
	}
	if err != nil {
		return nil, err
	}
	crds, err := DecodeCRDs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return crds, nil
}

// fetchModuleFile downloads a module version through the module proxy (go
// mod download, outside any module) and copies its files, joined, to dest.
func fetchModuleFile(mod string, files []string, dest string) ([]byte, error) {
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=", "GO111MODULE=on")
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return nil, fmt.Errorf("go mod download %s: %v %s (%v)", mod, runErr, info.Error, err)
	}
	var data []byte
	for _, f := range files {
		part, err := os.ReadFile(filepath.Join(info.Dir, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		data = append(append(data, "\n---\n"...), part...)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".crd-all-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return nil, err
	}
	return data, os.Rename(tmp.Name(), dest)
}

// CertManagerVersion is the cert-manager release whose CRDs tests install.
const CertManagerVersion = "v1.21.2"

// certManagerCRDs are cert-manager's CRDs in its module, kept joined.
var certManagerCRDs = provider.ModuleFiles{
	Module:  "github.com/cert-manager/cert-manager",
	Version: CertManagerVersion,
	Files: []string{
		"deploy/crds/cert-manager.io_certificates.yaml",
		"deploy/crds/cert-manager.io_certificaterequests.yaml",
		"deploy/crds/cert-manager.io_issuers.yaml",
		"deploy/crds/cert-manager.io_clusterissuers.yaml",
	},
}
