package cmd_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// discoverApplyFleet: c1 (gloo) and c2 (envoy-gateway) of the shared test
// fleet serve the route; checkout is placed in c1, c2 and c9, whose API
// server cannot be reached.
func discoverApplyFleet(gatewayNS, shopNS, unreachable string) string {
	return fleettest.YAML(
		fleettest.Cluster("c1", "gloo").Region("r1").GatewayNamespace(gatewayNS).Failover("192.0.2.1", 0),
		fleettest.Cluster("c2", "envoy-gateway").Region("r1").GatewayNamespace(gatewayNS).Failover("192.0.2.2", 0),
		fleettest.Cluster("c9", "gloo").Kubeconfig(unreachable).Region("r2").GatewayNamespace(gatewayNS).Failover("192.0.2.3", 0),
		fleettest.Service(shopNS, "checkout", 8080).Ordered("c2", "c1", "c9").HealthCheck(),
		fleettest.Route(shopNS, "web", "shop.example.com").On("c1", "c2").To("checkout"),
	)
}

// gatefedObjects lists the objects of a kind in a namespace that carry
// gatefed's label.
func gatefedObjects(t *testing.T, c *testfleet.Cluster, gvr schema.GroupVersionResource, ns string) []unstructured.Unstructured {
	t.Helper()
	dyn, err := c.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	list, err := dyn.Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: render.LabelManagedBy + "=" + render.ManagedByValue})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// skippedIn returns the objects that carry the skipped-clusters annotation.
func skippedIn(objs []unstructured.Unstructured) []unstructured.Unstructured {
	var out []unstructured.Unstructured
	for _, o := range objs {
		if _, ok := o.GetAnnotations()[render.AnnotationSkipped]; ok {
			out = append(out, o)
		}
	}
	return out
}

// diff and apply with --discover against real API servers: checkout runs in
// c1 only, so c2 is left out of its tiers (and c9, which cannot be read, with
// --discover-unreachable=skip); what apply writes says so, on the cluster.
func TestDiscoverDiffApply(t *testing.T) {
	fl, err := sharedTestFleet()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	gatewayNS := fl.Namespace(t, "discover-apply")
	shopNS := fl.Namespace(t, "discover-apply-shop")
	c1, c2 := fl.Cluster("c1"), fl.Cluster("c2")
	if err := c1.Sim().Service(context.Background(), localfleet.Service{Namespace: shopNS, Name: "checkout", Ready: 1}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	unreachable := filepath.Join(dir, "unreachable.kubeconfig")
	writeFile(t, unreachable, `apiVersion: v1
kind: Config
clusters: [{name: c9, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: c9, user: {token: none}}]
contexts: [{name: c9, context: {cluster: c9, user: c9}}]
`)
	fleettest.Write(t, dir, discoverApplyFleet(gatewayNS, shopNS, unreachable))
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runGatefed(t, dir, append([]string{"--kubeconfig", fl.Kubeconfig}, append(args, "--cluster", "c1", "--cluster", "c2")...)...)
	}
	skippedLine := func(from string) string {
		return fmt.Sprintf("Skipped: cluster %s: GlobalService %s/checkout: c2 (service %s/checkout not found), c9 (unreachable)\n", from, shopNS, shopNS)
	}

	// c9 cannot be read: an error by default, before any cluster is planned;
	// apply writes nothing.
	for _, verb := range []string{"diff", "apply"} {
		code, stdout, stderr := run(verb, "--discover")
		if code != 2 || stdout != "" || !strings.Contains(stderr, "Error: --discover: cannot read cluster c9: ") {
			t.Errorf("%s, c9 unreachable, policy error: exit %d, stdout %q, stderr %q", verb, code, stdout, stderr)
		}
	}
	for _, c := range []*testfleet.Cluster{c1, c2} {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().ConfigMaps(gatewayNS).Get(context.Background(), "gatefed-applyset", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: the ApplySet parent exists after a refused apply (err %v)", c.Name, err)
		}
	}
	if objs := gatefedObjects(t, c1, testfleet.UpstreamGVR, gatewayNS); len(objs) != 0 {
		t.Errorf("c1: %d Upstreams written by a refused apply", len(objs))
	}
	if objs := gatefedObjects(t, c2, testfleet.HTTPRouteGVR, gatewayNS); len(objs) != 0 {
		t.Errorf("c2: %d HTTPRoutes written by a refused apply", len(objs))
	}

	// skip: the diff shows the objects to create with the annotation, and
	// stderr says which clusters were left out of which tiers.
	code, stdout, stderr := run("diff", "--discover", "--discover-unreachable=skip")
	if code != 1 {
		t.Fatalf("diff --discover: exit %d, want 1 (changes pending)\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"Warning: cannot read cluster c9: ",
		"its services are treated as unavailable (--discover-unreachable=skip)\n",
		skippedLine("c1"),
		skippedLine("c2"),
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("diff --discover: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, render.AnnotationSkipped) {
		t.Errorf("diff --discover: no object to create carries %s:\n%s", render.AnnotationSkipped, stdout)
	}

	// apply writes what diff showed.
	code, stdout, stderr = run("apply", "--discover", "--discover-unreachable=skip")
	if code != 0 {
		t.Fatalf("apply --discover: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{skippedLine("c1"), skippedLine("c2")} {
		if !strings.Contains(stderr, want) {
			t.Errorf("apply --discover: stderr lacks %q:\n%s", want, stderr)
		}
	}
	// c1's Upstream for checkout has c1 as its only tier.
	ups := skippedIn(gatefedObjects(t, c1, testfleet.UpstreamGVR, gatewayNS))
	wantSkipped := fmt.Sprintf("c2: service %s/checkout not found; c9: unreachable", shopNS)
	if len(ups) != 1 {
		t.Fatalf("c1: %d Upstreams with %s, want 1", len(ups), render.AnnotationSkipped)
	}
	if ann := ups[0].GetAnnotations(); ann[render.AnnotationSkipped] != wantSkipped || ann[render.AnnotationTiers] != "c1" {
		t.Errorf("c1: Upstream %s: skipped %q, tiers %q; want %q, %q", ups[0].GetName(),
			ann[render.AnnotationSkipped], ann[render.AnnotationTiers], wantSkipped, "c1")
	}
	// c2's HTTPRoute sends checkout to c1 alone.
	routes := skippedIn(gatefedObjects(t, c2, testfleet.HTTPRouteGVR, gatewayNS))
	if len(routes) != 1 {
		t.Fatalf("c2: %d HTTPRoutes with %s, want 1", len(routes), render.AnnotationSkipped)
	}
	wantRouteSkipped := fmt.Sprintf("%s/checkout=c2: service %s/checkout not found, c9: unreachable", shopNS, shopNS)
	wantRouteTiers := shopNS + "/checkout=c1"
	if ann := routes[0].GetAnnotations(); ann[render.AnnotationSkipped] != wantRouteSkipped || ann[render.AnnotationTiers] != wantRouteTiers {
		t.Errorf("c2: HTTPRoute %s: skipped %q, tiers %q; want %q, %q", routes[0].GetName(),
			ann[render.AnnotationSkipped], ann[render.AnnotationTiers], wantRouteSkipped, wantRouteTiers)
	}

	// The clusters now hold the discovered render; without --discover the
	// tiers differ again.
	if code, stdout, stderr = run("diff", "--discover", "--discover-unreachable=skip"); code != 0 {
		t.Errorf("diff --discover after apply: exit %d, want 0\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, stderr = run("diff"); code != 1 || !strings.Contains(stdout, render.AnnotationSkipped) || strings.Contains(stderr, "Skipped:") {
		t.Errorf("diff without --discover: exit %d, want 1 with the annotation removed and no skip summary\n%s\n%s", code, stdout, stderr)
	}

	// checkout is deployed to c2: only c9 is left out now.
	if err := c2.Sim().Service(context.Background(), localfleet.Service{Namespace: shopNS, Name: "checkout", Ready: 1}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run("apply", "--discover", "--discover-unreachable=skip")
	if code != 0 || strings.Contains(stderr, "c2 (service") || !strings.Contains(stderr, fmt.Sprintf("Skipped: cluster c1: GlobalService %s/checkout: c9 (unreachable)\n", shopNS)) {
		t.Errorf("apply --discover with checkout on c2: exit %d\n%s\n%s", code, stdout, stderr)
	}
	ups = skippedIn(gatefedObjects(t, c1, testfleet.UpstreamGVR, gatewayNS))
	if len(ups) != 1 || ups[0].GetAnnotations()[render.AnnotationSkipped] != "c9: unreachable" || ups[0].GetAnnotations()[render.AnnotationTiers] != "c1,c2" {
		for _, u := range ups {
			t.Logf("c1: Upstream %s: %v", u.GetName(), u.GetAnnotations())
		}
		t.Errorf("c1: want one Upstream with tiers c1,c2 and only c9 skipped, got %d", len(ups))
	}
}
