package localfleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// IstioVersion is the istio.io/istio version hack/istio/go.mod pins.
const IstioVersion = "v0.0.0-20260827124520-eed52ebb66ad"

// IstioCRDFile is where the Istio CRDs of IstioVersion are kept:
// <cache>/istio-crds/<IstioVersion>/crd-all.gen.yaml, copied from the
// istio.io/istio module (manifests/charts/base/files/crd-all.gen.yaml) the
// first time a fleet needs them.
func IstioCRDFile() string {
	return filepath.Join(CacheDir(), "istio-crds", IstioVersion, "crd-all.gen.yaml")
}

func loadIstioCRDs() ([]*apiextv1.CustomResourceDefinition, error) {
	return loadModuleCRDs(IstioCRDFile(), "istio.io/istio@"+IstioVersion, filepath.Join("manifests", "charts", "base", "files", "crd-all.gen.yaml"))
}

// loadModuleCRDs reads the CRDs cached in file, first copying them there
// from files of a module version (see fetchModuleFile).
func loadModuleCRDs(file, mod string, files ...string) ([]*apiextv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = fetchModuleFile(mod, files, file)
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
		part, err := os.ReadFile(filepath.Join(info.Dir, f))
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

// CertManagerCRDFile is where cert-manager's CRDs (deploy/crds of the
// github.com/cert-manager/cert-manager module) are kept, joined.
func CertManagerCRDFile() string {
	return filepath.Join(CacheDir(), "cert-manager-crds", CertManagerVersion, "crds.yaml")
}

func loadCertManagerCRDs() ([]*apiextv1.CustomResourceDefinition, error) {
	var files []string
	for _, n := range []string{"certificates", "certificaterequests", "issuers", "clusterissuers"} {
		files = append(files, filepath.Join("deploy", "crds", "cert-manager.io_"+n+".yaml"))
	}
	return loadModuleCRDs(CertManagerCRDFile(), "github.com/cert-manager/cert-manager@"+CertManagerVersion, files...)
}
