package discover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/plan"
	"github.com/gatefed/gatefed/internal/providers"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// shared runs clusters a, b and c; no controller is needed, so no CRDs.
var shared *testfleet.Fleet

func TestMain(m *testing.M) {
	providers.Register()
	os.Exit(testfleet.Main(m, localfleet.Options{
		Clusters: []localfleet.ClusterOptions{{Name: "a"}, {Name: "b"}, {Name: "c"}},
		CRDs:     localfleet.NoCRDs,
	}, &shared))
}

// fleetDoc is a fleet of a (gloo), b and c (envoy-gateway), all failover
// targets, and d (gloo), which only routes and has no API server: nothing is
// placed there, so discovery never reads it. checkout fails over b, c, a;
// cart by locality. extra is appended.
func fleetDoc(kubeconfig, ns string, extra ...fleettest.Doc) string {
	docs := []fleettest.Doc{
		fleettest.Cluster("a", "gloo").Kubeconfig(kubeconfig).Region("r1").Failover("192.0.2.1", 0),
		fleettest.Cluster("b", "envoy-gateway").Kubeconfig(kubeconfig).Region("r1").Failover("192.0.2.2", 0),
		fleettest.Cluster("c", "envoy-gateway").Kubeconfig(kubeconfig).Region("r2").Failover("192.0.2.3", 0),
		fleettest.Cluster("d", "gloo").Kubeconfig(kubeconfig).Context("no-such-context").Region("r2"),
		fleettest.Service(ns, "checkout", 8080).On("a", "b", "c").Ordered("b", "c", "a").HealthCheck(),
		fleettest.Service(ns, "cart", 8080).On("a", "b", "c").HealthCheck(),
		fleettest.Route(ns, "web", "shop.example.com").
			Rule("name: checkout", "match: {pathPrefix: /checkout}", "backends: "+fleettest.Backends("checkout")).
			To("cart"),
	}
	return fleettest.YAML(append(docs, extra...)...)
}

// presence sets the scene: checkout runs in a, is absent from b and has no
// ready endpoint in c; cart runs in a and c and listens on the wrong port in b.
func presence(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ns := shared.Namespace(t, "shop")
	for _, s := range []struct {
		cluster string
		svc     localfleet.Service
	}{
		{"a", localfleet.Service{Namespace: ns, Name: "checkout", Ready: 2}},
		{"c", localfleet.Service{Namespace: ns, Name: "checkout", Ready: 0, NotReady: 2}},
		{"a", localfleet.Service{Namespace: ns, Name: "cart", Ready: 1}},
		{"b", localfleet.Service{Namespace: ns, Name: "cart", Port: 9090, Ready: 1}},
		{"c", localfleet.Service{Namespace: ns, Name: "cart", Ready: 3, NotReady: 1}},
	} {
		if err := shared.Cluster(s.cluster).Sim().Service(ctx, s.svc); err != nil {
			t.Fatalf("cluster %s: %v", s.cluster, err)
		}
	}
	return ns
}

func TestDiscoverReadsPresence(t *testing.T) {
	ns := presence(t)
	f := fleettest.Load(t, fleetDoc(shared.Kubeconfig, ns))
	res, err := Discover(context.Background(), f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"checkout@a": "",
		"checkout@b": "service " + ns + "/checkout not found",
		"checkout@c": "no ready endpoints",
		"cart@a":     "",
		"cart@b":     "service has no port 8080",
		"cart@c":     "",
	}
	for k, w := range want {
		name, cluster, _ := strings.Cut(k, "@")
		if got := res.Unavailable(f.Service(ns+"/"+name), cluster); got != w {
			t.Errorf("%s: %q, want %q", k, got, w)
		}
	}
	if res.Checked != 6 || len(res.Unreachable) != 0 {
		t.Errorf("checked %d pairs, unreachable %v; want 6 and none", res.Checked, res.Unreachable)
	}
}

// annotations returns the tiers and skipped annotations of an object.
func annotations(t *testing.T, objs []*unstructured.Unstructured, kind, name string) (tiers, skipped string) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o.GetAnnotations()[render.AnnotationTiers], o.GetAnnotations()[render.AnnotationSkipped]
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return "", ""
}

// routeOf returns the object of a kind rendered from a GlobalRoute.
func routeOf(t *testing.T, objs []*unstructured.Unstructured, kind, route string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetAnnotations()[render.AnnotationSource] == "GlobalRoute/"+route {
			return o
		}
	}
	t.Fatalf("no %s from GlobalRoute %s", kind, route)
	return nil
}

// From every source the rendered tiers are the policy's order less the
// clusters where the service is not there, and the objects say why.
func TestRenderRoutesAroundAbsentServices(t *testing.T) {
	ns := presence(t)
	f := fleettest.Load(t, fleetDoc(shared.Kubeconfig, ns))
	res, err := Discover(context.Background(), f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.Render(f, render.Options{Availability: res})
	if err != nil {
		t.Fatal(err)
	}
	notFound := "b: service " + ns + "/checkout not found"
	checkoutSkips := map[string]string{ // by source: tiers are b, c, a by policy, less b and c
		"a": notFound + "; c: no ready endpoints",
		"b": notFound + "; c: no ready endpoints",
		"c": "c: no ready endpoints; " + notFound,
		"d": notFound + "; c: no ready endpoints",
	}
	cartTiers := map[string]string{ // locality: local first, then same region, then by name; b lacks the port
		"a": "a,c", "b": "a,c", "c": "c,a", "d": "c,a",
	}
	for _, co := range out.Clusters {
		src := co.Cluster.Name()
		switch co.Cluster.Spec.Gateway.Provider {
		case "gloo":
			tiers, skipped := annotations(t, co.Objects, "Upstream", gloo.UpstreamName(f.Service(ns+"/checkout")))
			if tiers != "a" || skipped != checkoutSkips[src] {
				t.Errorf("gloo %s: checkout Upstream tiers %q skipped %q; want a and %q", src, tiers, skipped, checkoutSkips[src])
			}
			tiers, skipped = annotations(t, co.Objects, "Upstream", gloo.UpstreamName(f.Service(ns+"/cart")))
			if tiers != cartTiers[src] || skipped != "b: service has no port 8080" {
				t.Errorf("gloo %s: cart Upstream tiers %q skipped %q", src, tiers, skipped)
			}
		case "envoy-gateway":
			hr := routeOf(t, co.Objects, "HTTPRoute", ns+"/web")
			tiers, skipped := annotations(t, co.Objects, "HTTPRoute", hr.GetName())
			wantTiers := ns + "/checkout=a; " + ns + "/cart=" + cartTiers[src]
			if tiers != wantTiers {
				t.Errorf("envoy-gateway %s: HTTPRoute tiers %q, want %q", src, tiers, wantTiers)
			}
			for _, want := range []string{strings.ReplaceAll(checkoutSkips[src], "; ", ", "), "b: service has no port 8080"} {
				for _, part := range strings.Split(want, ", ") {
					if !strings.Contains(skipped, part) {
						t.Errorf("envoy-gateway %s: HTTPRoute skipped %q lacks %q", src, skipped, part)
					}
				}
			}
		}
	}
	// The summary: one report per source and service with skips.
	got := map[string]string{}
	for _, s := range out.Skips {
		var parts []string
		for _, k := range s.Skipped {
			parts = append(parts, k.Cluster+": "+k.Reason)
		}
		got[s.Cluster+" "+s.Service] = strings.Join(parts, "; ")
	}
	for src, want := range checkoutSkips {
		if got[src+" "+ns+"/checkout"] != want {
			t.Errorf("skip report from %s for checkout: %q, want %q", src, got[src+" "+ns+"/checkout"], want)
		}
		if got[src+" "+ns+"/cart"] != "b: service has no port 8080" {
			t.Errorf("skip report from %s for cart: %q", src, got[src+" "+ns+"/cart"])
		}
	}
	if len(out.Skips) != 8 {
		t.Errorf("%d skip reports, want 8: %+v", len(out.Skips), out.Skips)
	}
}

// Endpoints that become ready bring the cluster back on the next render.
func TestEndpointsBecomingReadyRestoreTheTier(t *testing.T) {
	ns := presence(t)
	f := fleettest.Load(t, fleetDoc(shared.Kubeconfig, ns))
	if err := shared.Cluster("c").Sim().Service(context.Background(), localfleet.Service{Namespace: ns, Name: "checkout", Ready: 1, NotReady: 1}); err != nil {
		t.Fatal(err)
	}
	res, err := Discover(context.Background(), f, Options{Sources: []string{"d"}})
	if err != nil {
		t.Fatal(err)
	}
	tiers, skips := plan.Tiers(f, f.Service(ns+"/checkout"), f.Cluster("d"), res)
	var names []string
	for _, t := range tiers {
		names = append(names, t.Cluster.Name())
	}
	if strings.Join(names, ",") != "c,a" || len(skips) != 1 || skips[0].Cluster != "b" {
		t.Errorf("tiers %v skips %v; want c,a and b skipped", names, skips)
	}
}

// unreachableKubeconfig writes a kubeconfig whose only context, e, points
// at a port nothing listens on.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	doc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e
  cluster: {server: "https://%s", insecure-skip-tls-verify: true}
users:
- name: e
  user: {token: none}
contexts:
- name: e
  context: {cluster: e, user: e}
current-context: e
`, addr)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUnreachableCluster(t *testing.T) {
	ns := presence(t)
	extra := []fleettest.Doc{
		fleettest.Cluster("e", "gloo").Kubeconfig(unreachableKubeconfig(t)).Region("r3").Failover("192.0.2.5", 0),
		fleettest.Service(ns, "api", 8080).On("a", "e").HealthCheck(),
	}
	if err := shared.Cluster("a").Sim().Service(context.Background(), localfleet.Service{Namespace: ns, Name: "api", Ready: 1}); err != nil {
		t.Fatal(err)
	}
	f := fleettest.Load(t, fleetDoc(shared.Kubeconfig, ns, extra...))
	api := f.Service(ns + "/api")
	cart := f.Service(ns + "/cart")

	res, err := Discover(context.Background(), f, Options{})
	var ue *UnreachableClustersError
	if !errors.As(err, &ue) || len(ue.Clusters) != 1 || ue.Clusters[0].Cluster != "e" {
		t.Fatalf("policy error: err = %v, want cluster e unreachable", err)
	}
	if !strings.Contains(err.Error(), "cannot read cluster e: ") || !strings.Contains(err.Error(), "--discover-unreachable=skip") {
		t.Errorf("error text: %v", err)
	}

	res, err = Discover(context.Background(), f, Options{Unreachable: UnreachableSkip})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Unavailable(api, "e"); got != ReasonUnreachable {
		t.Errorf("skip: api@e = %q, want unreachable", got)
	}
	if got := res.Unavailable(cart, "e"); got != "" {
		t.Errorf("skip: cart is not placed in e, yet %q", got)
	}
	if got := res.Unavailable(api, "a"); got != "" {
		t.Errorf("skip: api@a = %q", got)
	}
	if got := res.Unavailable(cart, "b"); got != "service has no port 8080" {
		t.Errorf("skip: the reachable clusters are still read: cart@b = %q", got)
	}
	if len(res.Unreachable) != 1 {
		t.Errorf("unreachable = %v", res.Unreachable)
	}

	res, err = Discover(context.Background(), f, Options{Unreachable: UnreachableKeep})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Unavailable(api, "e"); got != "" {
		t.Errorf("keep: api@e = %q, want available", got)
	}
	if len(res.Unreachable) != 1 {
		t.Errorf("keep still reports the unreachable cluster: %v", res.Unreachable)
	}

	// Only the clusters the sources' tiers can reach are read: b neither
	// routes to api nor runs it, so rendering b never contacts e.
	res, err = Discover(context.Background(), f, Options{Sources: []string{"b"}})
	if err != nil {
		t.Fatalf("sources b: %v", err)
	}
	if res.Checked != 6 {
		t.Errorf("sources b: checked %d pairs, want 6 (checkout and cart in a, b, c)", res.Checked)
	}

	if _, err := Discover(context.Background(), f, Options{Unreachable: "sometimes"}); err == nil || !strings.Contains(err.Error(), "want error, skip or keep") {
		t.Errorf("unknown policy: err = %v", err)
	}
}
