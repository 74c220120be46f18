package cmd_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/rollout"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// waveClusters are the six clusters of the rollout test: two zones in each
// of three regions. west-a runs Envoy Gateway with the real controller; the
// others are Gloo clusters whose verdicts a stand-in writes.
var waveClusters = []struct{ name, region, zone string }{
	{"east-a", "us-east-1", "us-east-1a"}, {"east-b", "us-east-1", "us-east-1b"},
	{"west-a", "us-west-2", "us-west-2a"}, {"west-b", "us-west-2", "us-west-2b"},
	{"eu-a", "eu-west-1", "eu-west-1a"}, {"eu-b", "eu-west-1", "eu-west-1b"},
}

// waveCRDs are the CRDs a cluster's provider needs, and no more.
func waveCRDs(cluster string) localfleet.CRDSet {
	if cluster == "west-a" {
		return localfleet.Families(localfleet.GatewayAPI, envoygateway.Name)
	}
	return localfleet.Families(gloo.Name)
}

// waveFleet is the fleet: checkout everywhere with locality failover,
// ledger in eu-a, west-a and east-a with ordered failover. westB is
// west-b's failover address, which west-a's Backends point at.
func waveFleet(tf *testfleet.Fleet, westB string) string {
	var docs []fleettest.Doc
	for _, c := range waveClusters {
		provider, addr := gloo.Name, "192.0.2.1"
		if c.name == "west-a" {
			provider = envoygateway.Name
		}
		if c.name == "west-b" {
			addr = westB
		}
		docs = append(docs, fleettest.Cluster(c.name, provider).Kubeconfig(tf.Kubeconfig).Context(tf.Cluster(c.name).Context).
			Region(c.region).Zone(c.zone).Failover(addr, 0))
	}
	docs = append(docs,
		fleettest.Service("shop", "checkout", 8080).Locality().HealthCheck(),
		fleettest.Service("shop", "ledger", 9090).On("eu-a", "west-a", "east-a").Ordered("eu-a", "west-a").HealthCheck(),
		fleettest.Route("shop", "web", "shop.example.com").
			Rule("name: checkout", "backends: "+fleettest.Backends("checkout")).
			Rule("name: ledger", "match: {pathPrefix: /ledger}", "backends: "+fleettest.Backends("ledger")))
	return fleettest.YAML(docs...)
}

// A rollout in waves on six real API servers, west-a with the real Envoy
// Gateway controller:
//   - the plan keeps every cluster apart from its first failover tier;
//   - west-b's failover address is loopback, so the controller refuses
//     west-a's route in wave 2: the rollout stops there with exit 2 and the
//     controller's reason, and wave 3 (east-b, west-b) is not written;
//   - with the address fixed and east-b's API server down, the rerun goes
//     through waves 1 and 2 and stops at wave 3 before writing it;
//   - with east-b back, the rerun completes; clusters in sync are not written.
func TestApplyWavesOnRealClusters(t *testing.T) {
	// Six API servers start at once: a generous hang guard on a busy machine.
	opts := localfleet.Options{StartTimeout: 10 * time.Minute}
	for _, c := range waveClusters {
		opts.Clusters = append(opts.Clusters, localfleet.ClusterOptions{Name: c.name, CRDs: localfleet.NoCRDs})
	}
	tf := testfleet.StartT(t, opts)
	installCRDsOneByOne(t, tf)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // includes waiting for the one controller per machine
	defer cancel()
	setUpWaveClusters(ctx, t, tf)
	// The binaries stay where they are found now (a stopped API server is
	// started again), while gatefed's caches go to the test's directory.
	t.Setenv(localfleet.EnvKubeBinDir, localfleet.KubeBinDir())
	t.Setenv(localfleet.EnvEtcdBin, localfleet.EtcdBin())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	fleetFile := filepath.Join(dir, "fleet.yaml")
	run := func(westB string, args ...string) (int, string, string) {
		t.Helper()
		if err := os.WriteFile(fleetFile, []byte(waveFleet(tf, westB)), 0o644); err != nil {
			t.Fatal(err)
		}
		ios, _, out, errOut := iostreams.Test()
		code := cmd.Main(append([]string{"-f", fleetFile, "apply", "--waves", "--yes"}, args...), ios)
		t.Logf("gatefed apply --waves %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
		return code, out.String(), errOut.String()
	}

	// The plan.
	wait := []string{"--gates", "wait", "--timeout", "3m"}
	// The refused Backend stays without a verdict: the wait ends at its timeout.
	refused := []string{"--gates", "wait", "--timeout", "90s"}
	code, out, _ := run("127.0.0.1", "--dry-run", "-o", "json")
	var plan rollout.Plan
	if err := json.Unmarshal([]byte(out), &plan); code != 0 || err != nil {
		t.Fatalf("plan: exit %d, %v", code, err)
	}
	wave := map[string]int{}
	for _, w := range plan.Waves {
		for _, c := range w.Clusters {
			wave[c] = w.Wave
		}
		for _, a := range w.Apart {
			if wave[a.Other] == w.Wave || a.OtherWave == w.Wave {
				t.Errorf("wave %d holds %s and %s", w.Wave, a.Cluster, a.Other)
			}
		}
	}
	if len(plan.Waves) != 3 || wave["west-a"] != 2 || wave["east-b"] != 3 || wave["west-b"] != 3 {
		t.Fatalf("waves %+v: want west-a in wave 2, east-b and west-b in wave 3", plan.Waves)
	}

	// The controller refuses west-a's route in wave 2.
	code, _, errOut := run("127.0.0.1", refused...)
	if code != 2 || !strings.Contains(errOut, "Error: rollout stopped at wave 2, cluster west-a, gate wait: ") ||
		!strings.Contains(errOut, "loopback") || !strings.Contains(errOut, "Not started: wave 3 (east-b, west-b).") {
		t.Fatalf("refused route: exit %d, want 2 naming wave 2, west-a, the wait gate and the controller's loopback reason", code)
	}
	for _, c := range []string{"east-b", "west-b"} {
		if untouched := applySetParent(ctx, t, tf, c) == nil; !untouched {
			t.Errorf("%s (wave 3) was written", c)
		}
	}

	// Fixed, with east-b's API server down: stops at wave 3 before writing it.
	if err := tf.StopCluster("east-b"); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run("192.0.2.7", wait...)
	if code != 2 || !strings.Contains(errOut, "Error: rollout stopped at wave 3, cluster east-b, gate apply: not applied: ") ||
		!strings.Contains(errOut, "wave 2: west-a: applied: ") {
		t.Fatalf("API server down: exit %d, want 2 at wave 3, cluster east-b", code)
	}
	if applySetParent(ctx, t, tf, "west-b") != nil {
		t.Errorf("west-b, in the wave with the stopped cluster, was written")
	}

	// East-b back: the rerun completes; waves 1 and 2 are in sync already.
	if err := tf.StartCluster(ctx, "east-b"); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run("192.0.2.7", append(wait, "-o", "json")...)
	if code != 0 {
		t.Fatalf("rerun: exit %d", code)
	}
	status := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev rollout.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		if ev.Type == rollout.EventCluster {
			status[ev.Cluster] = ev.Status
		}
	}
	for _, c := range waveClusters {
		want := rollout.StatusInSync
		if c.name == "east-b" || c.name == "west-b" {
			want = rollout.StatusApplied
		}
		if status[c.name] != want {
			t.Errorf("rerun: %s %q, want %q", c.name, status[c.name], want)
		}
	}

	// The check gate too: the Gloo clusters have neither failover Secrets nor
	// a failover port, and nothing listens at their failover address.
	code, _, errOut = run("192.0.2.7", "--timeout", "20s")
	if code != 2 || !strings.Contains(errOut, "Error: rollout stopped at wave 1, cluster eu-a, gate check: failover-readiness: ") {
		t.Errorf("check gate: exit %d, want 2 at wave 1, eu-a, failover-readiness", code)
	}
	if !regexp.MustCompile(`gate check: failover-readiness: .*\nHint: \S`).MatchString(errOut) {
		t.Errorf("check gate: the stop is not followed by its finding's hint:\n%s", errOut)
	}
}

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// applySetParent is the cluster's ApplySet parent, nil when gatefed never wrote there.
func applySetParent(ctx context.Context, t *testing.T, tf *testfleet.Fleet, cluster string) *unstructured.Unstructured {
	t.Helper()
	dyn, err := tf.Cluster(cluster).Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	ns := gloo.Descriptor.Defaults.Namespace
	o, err := dyn.Resource(configMapsGVR).Namespace(ns).Get(ctx, apply.DefaultParentName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// setUpWaveClusters adds what the clusters' operators installed: the
// gateway namespaces, Envoy Gateway on west-a with its GatewayClass,
// Gateway, failover Secrets and the services, and on the Gloo clusters a
// stand-in for Gloo that accepts every object. A stand-in for kubelet and
// the cloud keeps west-a's proxies up, so that the controller programs its
// Gateways.
func setUpWaveClusters(ctx context.Context, t *testing.T, tf *testfleet.Fleet) {
	t.Helper()
	west := tf.Cluster("west-a")
	eg, err := west.StartEnvoyGateway(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := eg.Stop(); err != nil {
			t.Error(err)
		}
	})
	sim := west.Sim()
	ns := testfleet.EnvoyGatewayNamespace
	for _, n := range []string{ns, "shop"} {
		if err := sim.EnsureNamespace(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	createEnvoyGatewayParents(ctx, t, sim)
	ca, err := localfleet.NewCertAuthority("failover")
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := testfleet.FailoverSecrets(ca, "west-a", ns, render.FailoverDomain, "*.shop."+render.FailoverDomain)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if _, err := sim.Kube.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, svc := range []localfleet.Service{{Namespace: "shop", Name: "checkout", Port: 8080, Ready: 1}, {Namespace: "shop", Name: "ledger", Port: 9090, Ready: 1}} {
		if err := sim.Service(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}
	standIns, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go keepProxiesUp(standIns, sim, ns+"/eg", ns+"/gatefed-failover")
	for _, c := range waveClusters {
		if c.name == "west-a" {
			continue
		}
		if err := tf.Cluster(c.name).Sim().EnsureNamespace(ctx, "gloo-system"); err != nil {
			t.Fatal(err)
		}
		go acceptGlooObjects(standIns, tf.Cluster(c.name))
	}
}

func createEnvoyGatewayParents(ctx context.Context, t *testing.T, sim *testfleet.Sim) {
	t.Helper()
	if err := sim.EnvoyGatewayParents(ctx, envoygateway.Descriptor.Defaults.ClassName, testfleet.EnvoyGatewayNamespace, "eg"); err != nil {
		t.Fatal(err)
	}
}

// keepProxiesUp stands in for kubelet and the cloud on the Envoy Gateway
// cluster: once the Gateways exist, their proxies are made available with
// an address, again and again, until ctx ends.
func keepProxiesUp(ctx context.Context, sim *testfleet.Sim, gateways ...string) {
	for ctx.Err() == nil {
		_, _ = sim.ProxyInfra(ctx, "127.0.0.1", gateways...)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// acceptGlooObjects stands in for Gloo on a cluster: every Gloo object
// without a verdict is marked Accepted, until ctx ends. A stopped API server
// is tried again.
func acceptGlooObjects(ctx context.Context, c *testfleet.Cluster) {
	sim := c.Sim()
	gvrs := []schema.GroupVersionResource{testfleet.UpstreamGVR, testfleet.UpstreamGroupGVR,
		testfleet.VirtualServiceGVR, testfleet.RouteTableGVR, testfleet.GlooGatewayGVR}
	for ctx.Err() == nil {
		for _, gvr := range gvrs {
			list, err := sim.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, o := range list.Items {
				// Gloo's CRDs default status to {statuses: {}}.
				if statuses, _, _ := unstructured.NestedMap(o.Object, "status", "statuses"); len(statuses) == 0 {
					_ = sim.GlooStatus(ctx, gvr, o.GetNamespace(), o.GetName(), testfleet.GlooStatus{State: gloo.StateAccepted})
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// installCRDsOneByOne installs each cluster's CRDs (waveCRDs) one cluster
// after the other: six API servers taking Gloo's large CRDs at once time out
// on a busy machine.
func installCRDsOneByOne(t *testing.T, tf *testfleet.Fleet) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // hang guard
	defer cancel()
	for _, c := range waveClusters {
		crds, err := localfleet.CRDs(waveCRDs(c.name))
		if err != nil {
			t.Fatal(err)
		}
		cfg := rest.CopyConfig(tf.Cluster(c.name).Config)
		cfg.Timeout = 3 * time.Minute
		api := apiextclient.NewForConfigOrDie(cfg).ApiextensionsV1().CustomResourceDefinitions()
		for _, crd := range crds {
			for {
				_, err := api.Create(ctx, crd.DeepCopy(), metav1.CreateOptions{})
				if err == nil || apierrors.IsAlreadyExists(err) {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("cluster %s: CRD %s: %v", c.name, crd.Name, err)
				}
				time.Sleep(time.Second)
			}
		}
		dyn, err := tf.Cluster(c.name).Dynamic()
		if err != nil {
			t.Fatal(err)
		}
		for _, crd := range crds {
			v := crd.Spec.Versions[len(crd.Spec.Versions)-1].Name
			gvr := schema.GroupVersionResource{Group: crd.Spec.Group, Version: v, Resource: crd.Spec.Names.Plural}
			for {
				if _, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("cluster %s: %s not served", c.name, gvr)
				}
				time.Sleep(time.Second)
			}
		}
	}
}
