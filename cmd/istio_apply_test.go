package cmd_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/istio"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// diff, apply and prune on an istio cluster serving the real Istio CRDs:
// every Istio kind is created, the fleet is then in sync, and a route taken
// out of the fleet is pruned.
func TestApplyIstioCluster(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{{Name: "mesh", CRDs: localfleet.Families(istio.Name)}}})
	if err := tf.Cluster("mesh").Sim().EnsureNamespace(context.Background(), "istio-system"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	fleetFile := filepath.Join(t.TempDir(), "fleet.yaml")
	write := func(routes ...*fleettest.RouteDoc) {
		docs := []fleettest.Doc{
			fleettest.Cluster("mesh", "istio").Failover("192.0.2.1", 0),
			fleettest.Cluster("far", "gloo").Failover("192.0.2.2", 0),
			fleettest.Service("shop", "web", 8080).HealthCheck(),
		}
		for _, r := range routes {
			docs = append(docs, r)
		}
		if err := os.WriteFile(fleetFile, []byte(fleettest.YAML(docs...)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (int, string, string) {
		ios, _, out, errOut := iostreams.Test()
		code := cmd.Main(append([]string{"--kubeconfig", tf.Kubeconfig, "-f", fleetFile, "--cluster", "mesh"}, args...), ios)
		return code, out.String(), errOut.String()
	}
	write(fleettest.Route("shop", "shop", "shop.example.com").On("mesh").To("web"))
	if code, out, errOut := run("diff"); code != 1 {
		t.Fatalf("diff before apply: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := run("apply", "--yes")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	// Two Gateways (routes, failover), two VirtualServices (route, failover),
	// the ServiceEntry and the DestinationRule of web's tiers.
	if !strings.Contains(out, "mesh\t6\t0\t0\t0\t0\t") {
		t.Errorf("apply: want 6 created:\n%s", out)
	}
	live := func() map[string]bool {
		dyn := dynamic.NewForConfigOrDie(tf.Cluster("mesh").Config)
		names := map[string]bool{}
		for _, res := range []string{"gateways", "virtualservices", "destinationrules", "serviceentries"} {
			list, err := dyn.Resource(schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: res}).Namespace("istio-system").List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range list.Items {
				names[o.GetKind()+"/"+o.GetName()] = true
			}
		}
		return names
	}
	want := []string{"Gateway/gatefed", "Gateway/gatefed-failover", "VirtualService/gatefed-shop-shop",
		"VirtualService/gatefed-failover-shop-web", "ServiceEntry/gatefed-shop-web", "DestinationRule/gatefed-shop-web"}
	got := live()
	for _, w := range want {
		if !got[w] {
			t.Errorf("after apply, no %s in the cluster: %v", w, got)
		}
	}
	if code, out, errOut := run("diff"); code != 0 {
		t.Fatalf("diff after apply: exit %d, want 0\n%s\n%s", code, out, errOut)
	}

	write() // the route is gone: its VirtualService, Gateway, ServiceEntry and DestinationRule go too
	if code, out, errOut = run("apply", "--yes"); code != 0 {
		t.Fatalf("apply without the route: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "mesh\t0\t0\t4\t2\t0\t") {
		t.Errorf("apply without the route: want 4 deleted, 2 unchanged:\n%s", out)
	}
	got = live()
	for _, w := range want {
		if kept := w == "Gateway/gatefed-failover" || w == "VirtualService/gatefed-failover-shop-web"; got[w] != kept {
			t.Errorf("after the prune, %s in the cluster: %v, want %v", w, got[w], kept)
		}
	}
	if code, out, errOut := run("diff"); code != 0 {
		t.Fatalf("diff after prune: exit %d, want 0\n%s\n%s", code, out, errOut)
	}
}
