package render_test

import (
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// A failover target at a loopback address is warned about on the sources
// whose gateway refuses it (their descriptor says why), and on no other.
func TestLoopbackFailoverTargetWarnsWhereRefused(t *testing.T) {
	refusing := 0
	for _, d := range provider.All() {
		t.Run(d.Name, func(t *testing.T) {
			f := fleettest.Load(t, fleettest.YAML(
				fleettest.Cluster("src", d.Name).Failover("10.0.0.3", 0),
				fleettest.Cluster("a", "gloo").Failover("10.0.0.1", 0),
				fleettest.Cluster("b", "gloo").Failover("127.0.0.1", 0),
				fleettest.Service("shop", "checkout", 8080).On("a", "b").Spec("outlierDetection", "{consecutive5xx: 3}"),
				fleettest.Route("shop", "storefront", "shop.example.com").To("checkout"),
			))
			res, err := render.Render(f, render.Options{Clusters: []string{"src"}})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(res.Warnings, "\n")
			want := ""
			if why := d.Failover.LoopbackRefused; why != "" {
				refusing++
				want = "cluster src: GlobalService shop/checkout: failover target b has the loopback address 127.0.0.1: " + d.Title + " " + why + ", so the routes to it will not resolve"
			}
			if got != want {
				t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if refusing == 0 {
		t.Error("no provider refuses a loopback failover target: the warning is never tested")
	}
}
