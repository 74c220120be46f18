package testfleet

import (
	"os"
	"path/filepath"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/istio"
)

// EnvIstioBinDir overrides the directory holding istioctl and istiogen.
const EnvIstioBinDir = "GATEFED_ISTIO_BIN_DIR"

// IstioBinDir is the directory holding istioctl and istiogen.
func IstioBinDir() string {
	if d := os.Getenv(EnvIstioBinDir); d != "" {
		return d
	}
	return filepath.Join(localfleet.CacheDir(), "istio", istio.ModuleVersion)
}

// IstioctlBin is the path of istioctl, Istio's command line.
func IstioctlBin() string { return filepath.Join(IstioBinDir(), "istioctl") }

// IstiogenBin is the path of istiogen (hack/istio/istiogen), which prints the
// Envoy configuration Istio's own code generates for a gateway proxy.
func IstiogenBin() string { return filepath.Join(IstioBinDir(), "istiogen") }

// CheckIstioBinaries reports a missing istioctl or istiogen with the exact
// command that builds them.
func CheckIstioBinaries() error {
	return localfleet.MissingBinaries(EnvIstioBinDir, "make kube-bins", nil, localfleet.Binary{Name: "istioctl", Path: IstioctlBin()}, localfleet.Binary{Name: "istiogen", Path: IstiogenBin()})
}
