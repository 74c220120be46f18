package check_test

import (
	"encoding/json"
	"testing"

	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/istio"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// gateway-install on istio clusters: the networking.istio.io CRDs gatefed
// renders must be served. "mesh" serves the real Istio CRDs, "bare" none.
func TestCheckIstioInstall(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{
		{Name: "mesh", CRDs: localfleet.Families(istio.Name)},
		{Name: "bare", CRDs: localfleet.NoCRDs},
	}})
	dir := t.TempDir()
	fleettest.Write(t, dir, fleettest.YAML(
		fleettest.Cluster("mesh", "istio").Kubeconfig(tf.Kubeconfig),
		fleettest.Cluster("bare", "istio").Kubeconfig(tf.Kubeconfig),
	))
	out, errOut, code := runCheckIn(t, dir, false, "-x", "config-status,drift,service-presence,failover-readiness,sizing", "-o", "json")
	if code != 1 {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	grid := rep.grid()
	if grid["mesh"][check.GatewayInstall] != "pass" || grid["bare"][check.GatewayInstall] != "fail" {
		t.Errorf("gateway-install: mesh %s, bare %s; want pass, fail\n%s", grid["mesh"][check.GatewayInstall], grid["bare"][check.GatewayInstall], out)
	}
	if !hasFinding(rep.findings("mesh", check.GatewayInstall), check.Info, "the istio CRDs are installed") {
		t.Errorf("mesh: %+v", rep.findings("mesh", check.GatewayInstall))
	}
	fs := rep.findings("bare", check.GatewayInstall)
	if !hasFinding(fs, check.Failure, "the istio CRDs", "gateways.networking.istio.io", "virtualservices.networking.istio.io",
		"destinationrules.networking.istio.io", "serviceentries.networking.istio.io", "are not installed") || len(fs) == 0 || fs[0].Hint == "" {
		t.Errorf("bare: %+v", fs)
	}
}
