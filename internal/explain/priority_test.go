package explain

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleettest"
)

// An Envoy Gateway source without strictTiers gives every tier after the
// first priority 1: once its own tier is gone, the others share the
// backend's traffic. With strictTiers, and on gloo, they keep their order.
func TestSharedFallbackPriority(t *testing.T) {
	strict := strings.Replace(orderedFleet, "spec: {region: r1, gateway: {provider: envoy-gateway}", "spec: {region: r1, gateway: {provider: envoy-gateway, strictTiers: true}", 1)
	if strict == orderedFleet {
		t.Fatal("no envoy-gateway cluster b in r1 to give strictTiers")
	}
	for _, tc := range []struct {
		name, fleet, priorities, served string
	}{
		{"envoy-gateway", orderedFleet, "b*:0 c:1 a:1", "shop/checkout=c:75 [c:37.5 a:37.5], shop/cart=a:25"},
		{"strict tiers", strict, "b*:0 c:1 a:2", "shop/checkout=c:75, shop/cart=a:25"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.fleet
			f := fleettest.Load(t, text)
			rep, err := Explain(f, Options{From: []string{"b"}, Missing: []string{"shop/checkout@b", "shop/cart@b"}})
			if err != nil {
				t.Fatal(err)
			}
			up, err := Explain(f, Options{From: []string{"b"}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range up.Services {
				if s.Service == "shop/checkout" {
					for _, tier := range s.Tiers {
						local := ""
						if tier.Local {
							local = "*"
						}
						got = append(got, fmt.Sprintf("%s%s:%d", tier.Cluster, local, tier.Priority))
					}
				}
			}
			if g := strings.Join(got, " "); g != tc.priorities {
				t.Errorf("priorities %q, want %q", g, tc.priorities)
			}
			var shares []string
			for _, b := range rep.Routes[0].Rules[0].Backends {
				s := fmt.Sprintf("%s=%s:%s", b.Service, b.Cluster, FormatPercent(b.Percent))
				if len(b.Split) > 0 {
					var parts []string
					for _, sh := range b.Split {
						parts = append(parts, sh.Cluster+":"+FormatPercent(sh.Percent))
					}
					s += " [" + strings.Join(parts, " ") + "]"
				}
				shares = append(shares, s)
			}
			if g := strings.Join(shares, ", "); g != tc.served {
				t.Errorf("served %q, want %q", g, tc.served)
			}
		})
	}
}
