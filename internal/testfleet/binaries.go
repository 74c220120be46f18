package testfleet

import (
	"os"
	"path/filepath"

	"github.com/gatefed/gatefed/internal/localfleet"
)

// EnvoyGatewayVersion is the github.com/envoyproxy/gateway version
// hack/envoygateway/go.mod pins.
const EnvoyGatewayVersion = "v1.9.1"

// EnvEGBinDir overrides the directory holding egctl, envoy-gateway and xdsdump.
const EnvEGBinDir = "GATEFED_EG_BIN_DIR"

// EnvoyGatewayBinDir is the directory holding egctl and envoy-gateway.
func EnvoyGatewayBinDir() string {
	if d := os.Getenv(EnvEGBinDir); d != "" {
		return d
	}
	return filepath.Join(localfleet.CacheDir(), "envoy-gateway", EnvoyGatewayVersion)
}

// EgctlBin is the path of egctl, Envoy Gateway's command line.
func EgctlBin() string { return filepath.Join(EnvoyGatewayBinDir(), "egctl") }

// EnvoyGatewayBin is the path of the Envoy Gateway controller.
func EnvoyGatewayBin() string { return filepath.Join(EnvoyGatewayBinDir(), "envoy-gateway") }

// XDSDumpBin is the path of xdsdump (hack/envoygateway/xdsdump), which reads
// the configuration an xDS server sends one node.
func XDSDumpBin() string { return filepath.Join(EnvoyGatewayBinDir(), "xdsdump") }

// CheckEnvoyGatewayBinaries reports a missing egctl or envoy-gateway with the
// exact command that builds them.
func CheckEnvoyGatewayBinaries() error {
	return localfleet.MissingBinaries(EnvEGBinDir, "make kube-bins", nil,
		localfleet.Binary{Name: "egctl", Path: EgctlBin()}, localfleet.Binary{Name: "envoy-gateway", Path: EnvoyGatewayBin()}, localfleet.Binary{Name: "xdsdump", Path: XDSDumpBin()})
}
