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
	file := IstioCRDFile()
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = fetchIstioCRDs(file)
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

// fetchIstioCRDs downloads istio.io/istio@IstioVersion through the module
// proxy (go mod download, outside any module) and copies its CRD file to dest.
func fetchIstioCRDs(dest string) ([]byte, error) {
	mod := "istio.io/istio@" + IstioVersion
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=", "GO111MODULE=on")
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return nil, fmt.Errorf("go mod download %s: %v %s (%v)", mod, runErr, info.Error, err)
	}
	data, err := os.ReadFile(filepath.Join(info.Dir, "manifests", "charts", "base", "files", "crd-all.gen.yaml"))
	if err != nil {
		return nil, err
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
