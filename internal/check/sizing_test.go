package check

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/version"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
)

// offlineEnv is a cluster's environment with its render and no API, as
// when the cluster is unreachable: sizing counts from the render alone.
func offlineEnv(t *testing.T, r *runner, name string) *clusterEnv {
	t.Helper()
	for _, out := range r.rendered.Clusters {
		if out.Cluster.Name() == name {
			return &clusterEnv{run: r, cluster: out.Cluster, objects: out.Objects, input: r.input(out.Cluster),
				apiErr: errors.New("offline")}
		}
	}
	t.Fatalf("cluster %s not rendered", name)
	return nil
}

func testRunner(t *testing.T) *runner {
	t.Helper()
	r, err := newRunner(fleettest.Load(t, sizingFleet), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestProxyLoadFromRender(t *testing.T) {
	r := testRunner(t)
	cases := []struct {
		cluster string
		want    ProxyLoad
	}{
		// Gloo a: Upstreams for checkout (local + failover to b and c) and
		// ledger, local-only Upstreams for both served services, one
		// VirtualService with two routes, the failover Gateway (TCP).
		// Hosts without live endpoints: checkout 1+2, ledger 1, local-only 1+1.
		{"a", ProxyLoad{EnvoyClusters: 4, Endpoints: 6, Routes: 2, TCPListeners: 1}},
		// Gloo b: checkout (local, then a, then c), ledger (static to a),
		// local-only checkout; hosts 1+2, 1, 1.
		{"b", ProxyLoad{EnvoyClusters: 3, Endpoints: 5, Routes: 2, TCPListeners: 1}},
		// Envoy Gateway c: one Envoy cluster per HTTPRoute rule (checkout:
		// Service + Backends a and b; ledger: Backend a) and one for the
		// failover TLSRoute to checkout; routes: one match per rule.
		{"c", ProxyLoad{EnvoyClusters: 3, Endpoints: 5, Routes: 3, TCPListeners: 1}},
		// Gloo d: not a target, runs nothing: checkout static to a with
		// failover to b and c, ledger static to a.
		{"d", ProxyLoad{EnvoyClusters: 2, Endpoints: 4, Routes: 2}},
	}
	for _, c := range cases {
		env := offlineEnv(t, r, c.cluster)
		got := proxyLoad(context.Background(), env, liveConfig{})
		if got != c.want {
			t.Errorf("cluster %s: load %+v, want %+v", c.cluster, got, c.want)
		}
	}
}

func TestSizingCheckOffline(t *testing.T) {
	r := testRunner(t)
	env := offlineEnv(t, r, "a")
	res := &result{Result: Result{Name: Sizing}}
	checkSizing(context.Background(), env, res)
	out := res.finish()
	d, ok := out.Details.(*SizingDetails)
	if !ok {
		t.Fatalf("details %T, want *SizingDetails", out.Details)
	}
	if d.LiveRead {
		t.Error("LiveRead is true for a cluster whose API is unreachable")
	}
	wantProxy := int64(26_888_000 + 4*72_000 + 2*250 + 18_000)
	if d.EstimatedProxyBytes != wantProxy {
		t.Errorf("estimated proxy bytes %d, want %d", d.EstimatedProxyBytes, wantProxy)
	}
	if want := configBytes(env.objects); d.ConfigBytes != want || want == 0 {
		t.Errorf("config bytes %d, want %d (non-zero)", d.ConfigBytes, want)
	}
	if want := int64(256<<20) + 10*d.ConfigBytes; d.EstimatedControlPlaneBytes != want {
		t.Errorf("control plane bytes %d, want %d", d.EstimatedControlPlaneBytes, want)
	}
	// Losing a strands ledger for b, c and d: three N-1 warnings, and one
	// for the proxy Deployment that could not be read.
	if out.Status != Warn {
		t.Errorf("status %s, want warn (ledger runs only in a)", out.Status)
	}
	n1, deployment := 0, 0
	for _, f := range out.Findings {
		switch {
		case f.Severity == Warning && strings.HasPrefix(f.Message, "N-1: if a were lost, GlobalService shop/ledger would have no cluster left"):
			n1++
		case f.Severity == Warning && strings.Contains(f.Message, "Deployment could not be read"):
			deployment++
		case f.Severity == Warning:
			t.Errorf("unexpected warning %q", f.Message)
		}
	}
	if n1 != 3 || deployment != 1 {
		t.Errorf("%d N-1 and %d Deployment warnings, want 3 and 1: %+v", n1, deployment, out.Findings)
	}
	if !hasInfo(out.Findings, "N-1: if a were lost, b takes shop/checkout from d") {
		t.Errorf("no finding says b absorbs d's checkout traffic: %+v", out.Findings)
	}
}

func hasInfo(fs []Finding, msg string) bool {
	for _, f := range fs {
		if f.Severity == Info && f.Message == msg {
			return true
		}
	}
	return false
}

func TestIfLost(t *testing.T) {
	r := testRunner(t)
	a := r.fleet.Cluster("a")
	got := ifLost(r, a)
	want := []LossImpact{
		{Service: "shop/checkout", From: "b", Tiers: []string{"b", "c"}},
		{Service: "shop/checkout", From: "c", Tiers: []string{"c", "b"}},
		{Service: "shop/checkout", From: "d", Tiers: []string{"b", "c"}, AbsorbedBy: "b"},
		{Service: "shop/ledger", From: "b", Tiers: []string{}, Lost: true},
		{Service: "shop/ledger", From: "c", Tiers: []string{}, Lost: true},
		{Service: "shop/ledger", From: "d", Tiers: []string{}, Lost: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ifLost(a):\n got %+v\nwant %+v", got, want)
	}

	// b serves checkout only; every path keeps a tier and nobody had b first
	// except b itself (whose own gateway goes with it).
	got = ifLost(r, r.fleet.Cluster("b"))
	want = []LossImpact{
		{Service: "shop/checkout", From: "a", Tiers: []string{"a", "c"}},
		{Service: "shop/checkout", From: "c", Tiers: []string{"c", "a"}},
		{Service: "shop/checkout", From: "d", Tiers: []string{"a", "c"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ifLost(b):\n got %+v\nwant %+v", got, want)
	}
	// d serves nothing.
	if got := ifLost(r, r.fleet.Cluster("d")); len(got) != 0 {
		t.Errorf("ifLost(d) = %+v, want none", got)
	}
}

func TestHealthSignals(t *testing.T) {
	r := testRunner(t)
	for _, name := range []string{"a", "c", "d"} {
		env := offlineEnv(t, r, name)
		res := &result{}
		healthSignals(env, res)
		out := res.finish()
		if out.Status != Pass || len(out.Findings) != 1 {
			t.Errorf("cluster %s: checkout has a health check: got %s %+v", name, out.Status, out.Findings)
		}
	}
	// Without the health check, every failover path warns.
	f := fleettest.Load(t, sizingFleet)
	f.Service("shop/checkout").Spec.HealthCheck = nil
	r2, err := newRunner(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "c", "d"} {
		env := offlineEnv(t, r2, name)
		res := &result{}
		healthSignals(env, res)
		out := res.finish()
		if out.Status != Warn {
			t.Errorf("cluster %s: no health signal: got %s %+v", name, out.Status, out.Findings)
		}
	}
}

func TestSelected(t *testing.T) {
	got, err := Selected([]string{"sizing", "drift,connectivity"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{GatewayInstall, ConfigStatus, ServicePresence, FailoverReadiness, FailoverTrust}; !reflect.DeepEqual(got, want) {
		t.Errorf("Selected = %v, want %v", got, want)
	}
	var ie *InputError
	if _, err := Selected([]string{"latency"}); !errors.As(err, &ie) {
		t.Errorf("unknown check: err %v, want an InputError", err)
	}
	if _, err := Selected(Names); !errors.As(err, &ie) {
		t.Errorf("everything excluded: err %v, want an InputError", err)
	}
}

func TestVersionSkew(t *testing.T) {
	mk := func(name, git, minor string) *clusterEnv {
		c := &fleet.Cluster{Metadata: fleet.ObjectMeta{Name: name}}
		return &clusterEnv{cluster: c, version: &version.Info{GitVersion: git, Minor: minor}}
	}
	envs := []*clusterEnv{mk("a", "v1.37.2", "37"), mk("b", "v1.36.1", "36"), mk("c", "v1.35.0-eks-1", "35+"), nil}
	rep := &Report{}
	for _, e := range envs[:3] {
		rep.Clusters = append(rep.Clusters, &ClusterReport{Name: e.cluster.Name(), Checks: []*Result{{Name: Connectivity, Status: Pass}}})
	}
	versionSkew(rep, envs)
	want := map[string]Status{"a": Pass, "b": Pass, "c": Warn}
	for _, c := range rep.Clusters {
		r := c.Check(Connectivity)
		if r.Status != want[c.Name] {
			t.Errorf("%s: %s, want %s (%+v)", c.Name, r.Status, want[c.Name], r.Findings)
		}
	}
	f := rep.Clusters[2].Check(Connectivity).Findings
	if len(f) != 1 || f[0].Message != "server v1.35.0-eks-1 is 2 minor versions behind a (a runs 1.37); the fleet spans more than one minor version" {
		t.Errorf("c's finding: %+v", f)
	}
	if m, ok := minorOf("v1.31.4", ""); !ok || m != 31 {
		t.Errorf("minorOf from the git version: %d %v", m, ok)
	}
}
