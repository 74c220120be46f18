package configmap_test

import (
	"context"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/providers"
	"github.com/gatefed/gatefed/internal/providers/configmap"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// TestMain registers the providers gatefed is built with plus this one: the
// one line a new provider adds to providers.All.
func TestMain(m *testing.M) {
	for _, p := range append(providers.All(), configmap.New()) {
		render.Register(p)
	}
	os.Exit(m.Run())
}

// gatefed runs the CLI in-process and returns its exit status and outputs.
func gatefed(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	code := cmd.Main(args, ios)
	return code, out.String(), errOut.String()
}

// A provider that is one package and one list entry takes part in every
// command: validate knows its name, defaults and limits, render writes its
// objects, and diff, apply and check run it against a real API server.
func TestAFourthProviderRunsThroughEveryCommand(t *testing.T) {
	const ns = "configmap-gateway"
	route := fleettest.Route("shop", "shop", "shop.example.com").To("checkout")
	fleetText := fleettest.YAML(
		fleettest.Cluster("c1", configmap.Name),
		fleettest.Service("shop", "checkout", 8080),
		route,
	)
	dir := fleettest.Dir(t, fleetText)

	// validate: the name is known, and the provider's limits are enforced.
	if code, _, errOut := gatefed(t, "-f", dir, "validate"); code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, errOut)
	}
	bad := fleettest.Dir(t, fleettest.YAML(
		fleettest.Cluster("c1", configmap.Name),
		fleettest.Service("shop", "checkout", 8080),
		fleettest.Route("shop", "shop", "shop.example.com").Rule("backends: [{service: checkout}]", "rateLimit: {requests: 10, unit: Second}"),
	))
	code, _, errOut := gatefed(t, "-f", bad, "validate")
	if want := `The ConfigMap gateway (cluster "c1") has no rate limit: leave rateLimit out`; code != 2 || !strings.Contains(errOut, want) {
		t.Fatalf("validate with rateLimit: exit %d, want 2 and %q in:\n%s", code, want, errOut)
	}
	code, _, errOut = gatefed(t, "-f", fleettest.Dir(t, fleettest.YAML(fleettest.Cluster("c1", "configmaps"))), "validate")
	if want := `unknown provider "configmaps" (did you mean "configmap"?) (want gloo, envoy-gateway, istio or configmap)`; code != 2 || !strings.Contains(errOut, want) {
		t.Fatalf("validate with a misspelt provider: exit %d, want 2 and %q in:\n%s", code, want, errOut)
	}

	// render: one ConfigMap in the provider's default namespace.
	code, out, errOut := gatefed(t, "-f", dir, "render")
	for _, want := range []string{"kind: ConfigMap", "name: gatefed-shop-shop", "namespace: " + ns, "hosts: shop.example.com", "rule-0: shop/checkout=c1", "gatefed.dev/source: GlobalRoute/shop/shop"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("render: exit %d, want %q in:\n%s\n%s", code, want, out, errOut)
		}
	}

	// diff, apply, diff and check against a real API server.
	f := testfleet.StartT(t, localfleet.Options{Count: 1, CRDs: localfleet.NoCRDs})
	cs, err := f.Clusters[0].Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.Clusters[0].Sim().Service(ctx, localfleet.Service{Namespace: "shop", Name: "checkout", Port: 8080, Ready: 2}); err != nil {
		t.Fatal(err)
	}
	withCluster := []string{"--kubeconfig", f.Kubeconfig, "-f", dir}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if code, out, errOut := gatefed(t, append(withCluster, "diff")...); code != 1 || !strings.Contains(out, "gatefed-shop-shop") {
		t.Fatalf("diff before apply: exit %d, want 1 (changes pending)\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := gatefed(t, append(withCluster, "apply", "--yes")...); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "gatefed-shop-shop", metav1.GetOptions{})
	if err != nil || cm.Data["rule-0"] != "shop/checkout=c1" {
		t.Fatalf("applied ConfigMap: %v %v", cm, err)
	}
	if code, out, errOut := gatefed(t, append(withCluster, "diff")...); code != 0 {
		t.Fatalf("diff after apply: exit %d, want 0 (in sync)\n%s\n%s", code, out, errOut)
	}
	// check: its install (no CRDs), the drift of its objects and the
	// service it routes to are read; it runs no proxy to size, so every
	// check passes or skips.
	code, out, errOut = gatefed(t, append(withCluster, "check", "-o", "json")...)
	for _, want := range []string{
		`"the configmap CRDs are installed"`,
		`"in sync: 1 object match the render"`,
		`"provider configmap runs no proxy gatefed can size"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check: want %s in its report", want)
		}
	}
	if code != 0 {
		t.Errorf("check: exit %d, want 0\n%s\n%s", code, out, errOut)
	}
}
