package check_test

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/check/applydiff"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// realEGFleet is an envoy-gateway cluster "eg" whose checkout fails over to
// "far" at farAddress. Only eg runs; far is a document.
func realEGFleet(kubeconfig, farAddress string) string {
	return fleettest.YAML(
		fleettest.Cluster("eg", "envoy-gateway").Kubeconfig(kubeconfig).Region("r1").Failover("192.0.2.10", 0),
		fleettest.Cluster("far", "gloo").Kubeconfig(kubeconfig).Region("r2").Failover(farAddress, 0),
		fleettest.Service("shop", "checkout", 8080).On("eg", "far").
			Spec("healthCheck", "{path: /healthz}").Spec("outlierDetection", "{consecutive5xx: 5}"),
		fleettest.Route("shop", "web", "shop.example.com").On("eg").
			Rule("name: checkout", "backends: "+fleettest.Backends("checkout")),
	)
}

// config-status reports the verdicts the real Envoy Gateway controller
// wrote: every object accepted, and then the controller's own reason when it
// refuses a Backend (a loopback failover address).
//
// failover-readiness and sizing are left out: the failover addresses are
// documentation addresses nobody may dial, and the proxy runs the
// controller's default single replica.
func TestCheckReadsTheEnvoyGatewayControllersVerdicts(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{{Name: "eg"}}})
	c := tf.Cluster("eg")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // includes waiting for the one controller per machine
	defer cancel()
	sim := startEnvoyGatewayCluster(ctx, t, c, testfleet.EnvoyGatewayOptions{})
	if err := sim.Service(ctx, localfleet.Service{Namespace: "shop", Name: "checkout", Port: 8080, Ready: 2}); err != nil {
		t.Fatal(err)
	}
	ca, err := localfleet.NewCertAuthority("failover")
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := testfleet.FailoverSecrets(ca, "eg", "envoy-gateway-system", "*.shop."+render.FailoverDomain)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range secrets {
		if _, err := sim.Kube.CoreV1().Secrets("envoy-gateway-system").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	run := func(farAddress string) *check.ClusterReport {
		t.Helper()
		fleettest.Write(t, dir, realEGFleet(tf.Kubeconfig, farAddress))
		f := fleettest.LoadDir(t, dir)
		res, err := render.Render(f, render.Options{Clusters: []string{"eg"}})
		if err != nil {
			t.Fatal(err)
		}
		eng := apply.New(apply.Options{Prune: true, CacheDir: filepath.Join(dir, "cache")})
		p := eng.Plan(ctx, []apply.Target{{Cluster: res.Clusters[0].Cluster, Objects: res.Clusters[0].Objects}})
		if ar := eng.Apply(ctx, p); ar.Failed() {
			t.Fatalf("apply: %+v", ar.Clusters[0])
		}
		// kubelet and the cloud, for the proxies the controller created.
		if _, err := sim.ProxyInfra(ctx, "192.0.2.10", "envoy-gateway-system/eg", "envoy-gateway-system/gatefed-failover"); err != nil {
			t.Fatal(err)
		}
		rep, err := check.RunUntil(ctx, f, check.Options{
			Clusters: []string{"eg"}, Timeout: time.Minute,
			Exclude: []string{check.FailoverReadiness, check.FailoverTrust, check.Sizing},
			Differ:  applydiff.Differ{CacheDir: filepath.Join(dir, "differ")},
		}, time.Minute, false, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Clusters[0]
	}

	cr := run("192.0.2.20")
	for _, r := range cr.Checks {
		if r.Status != check.Pass {
			t.Errorf("%s: %s %+v", r.Name, r.Status, r.Findings)
		}
	}

	// A loopback failover address: the controller refuses the Backend and
	// the route's reference, and check reports its reason.
	cr = run("127.0.0.1")
	r := cr.Check(check.ConfigStatus)
	found := false
	for _, fd := range r.Findings {
		found = found || fd.Severity == check.Failure && strings.Contains(fd.Message, "HTTPRoute envoy-gateway-system/gatefed-shop-web is rejected") &&
			strings.Contains(fd.Message, "IP address 127.0.0.1 in the loopback range is only supported when using the Host infrastructure")
	}
	if r.Status != check.Fail || !found {
		t.Errorf("config-status with a loopback failover address: %s %+v", r.Status, r.Findings)
	}
}

// startEnvoyGatewayCluster runs the real Envoy Gateway controller on c until
// the test ends, and adds what the cluster's operator installed: the
// namespaces, the controller's Deployment record (the controller itself runs
// as a process), its GatewayClass and the Gateway.
func startEnvoyGatewayCluster(ctx context.Context, t *testing.T, c *testfleet.Cluster, opts testfleet.EnvoyGatewayOptions) *testfleet.Sim {
	t.Helper()
	eg, err := c.StartEnvoyGatewayWith(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := eg.Stop(); err != nil {
			t.Error(err)
		}
	})
	sim := c.Sim()
	for _, ns := range []string{"envoy-gateway-system", "shop"} {
		if err := sim.EnsureNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.Deployment(ctx, localfleet.Deployment{Namespace: "envoy-gateway-system", Name: "envoy-gateway", Available: true, Container: "envoy-gateway"}); err != nil {
		t.Fatal(err)
	}
	if err := sim.EnvoyGatewayParents(ctx, "eg", "envoy-gateway-system", "eg"); err != nil {
		t.Fatal(err)
	}
	return sim
}
