package plan

import (
	"reflect"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
)

// cl is a gloo cluster, a failover target at 10.0.0.1 when target is set.
func cl(name, region, zone string, target bool) *fleet.Cluster {
	address := ""
	if target {
		address = "10.0.0.1"
	}
	return fleettest.NewCluster(name, "gloo", region, zone, address, 0)
}

// svc is shop/checkout placed in the named clusters (all when none).
func svc(placed []string, policy string, order ...string) *fleet.GlobalService {
	s := fleettest.NewService("shop", "checkout", 8080, placed...)
	s.Spec.Failover = &fleet.FailoverPolicy{Policy: policy, Order: order}
	return s
}

// capped sets failover.maxTiers.
func capped(s *fleet.GlobalService, n int32) *fleet.GlobalService {
	s.Spec.Failover.MaxTiers = n
	return s
}

type down map[string]string

func (d down) Unavailable(_ *fleet.GlobalService, c string) string { return d[c] }

func names(ts []Tier) []string {
	out := []string{}
	for _, t := range ts {
		n := t.Cluster.Metadata.Name
		if t.Local {
			n += "(local)"
		}
		out = append(out, n)
	}
	return out
}

func TestTiers(t *testing.T) {
	f := fleettest.NewFleet([]*fleet.Cluster{
		cl("a", "us-east-1", "us-east-1a", true),
		cl("b", "us-east-1", "us-east-1b", true),
		cl("c", "us-east-1", "us-east-1a", true),
		cl("d", "eu-west-1", "eu-west-1a", true),
		cl("e", "eu-west-1", "eu-west-1a", false), // not a failover target
	}, nil)
	cases := []struct {
		name      string
		svc       *fleet.GlobalService
		src       string
		avail     Availability
		want      []string
		wantSkips []Skip
	}{
		{"locality: same zone, then region, then the rest", svc(nil, ""), "a", nil,
			[]string{"a(local)", "c", "b", "d"}, nil},
		{"locality from another region", svc(nil, "locality"), "d", nil,
			[]string{"d(local)", "a", "b", "c"}, nil},
		{"non-target source still serves locally; locality keeps four tiers by default", svc(nil, ""), "e", nil,
			[]string{"e(local)", "d", "a", "b"}, nil},
		{"maxTiers above the default keeps more", capped(svc(nil, ""), 5), "e", nil,
			[]string{"e(local)", "d", "a", "b", "c"}, nil},
		{"ordered with maxTiers", capped(svc(nil, "ordered", "d", "b", "a"), 2), "a", nil,
			[]string{"a(local)", "d"}, nil},
		{"maxTiers 1: no failover", capped(svc(nil, ""), 1), "a", nil,
			[]string{"a(local)"}, nil},
		{"an unavailable cluster makes room for the next", capped(svc(nil, ""), 3), "a", down{"c": "down"},
			[]string{"a(local)", "b", "d"}, []Skip{{Cluster: "c", Reason: "down"}}},
		{"ordered", svc(nil, "ordered", "d", "b", "a"), "a", nil,
			[]string{"a(local)", "d", "b", "c"}, nil},
		{"ordered from a cluster the service does not run in", svc([]string{"b", "d"}, "ordered", "d", "b"), "a", nil,
			[]string{"d", "b"}, nil},
		{"service missing from the source: first remote is tier 0", svc([]string{"b", "d"}, ""), "a", nil,
			[]string{"b", "d"}, nil},
		{"placed clusters that are not targets are never remote tiers", svc([]string{"a", "e"}, ""), "a", nil,
			[]string{"a(local)"}, nil},
		{"unavailable source: next cluster becomes tier 0", svc(nil, "ordered", "b", "d"), "a", down{"a": "no ready endpoints"},
			[]string{"b", "d", "c"}, []Skip{{Cluster: "a", Reason: "no ready endpoints"}}},
		{"unavailable remote is dropped", svc(nil, ""), "a", down{"c": "service shop/checkout not found"},
			[]string{"a(local)", "b", "d"}, []Skip{{Cluster: "c", Reason: "service shop/checkout not found"}}},
		{"nothing left", svc([]string{"a"}, ""), "a", down{"a": "down"},
			[]string{}, []Skip{{Cluster: "a", Reason: "down"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tiers, skips := Tiers(f, tc.svc, f.Cluster(tc.src), tc.avail)
			if got := names(tiers); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tiers %v, want %v", got, tc.want)
			}
			if !reflect.DeepEqual(skips, tc.wantSkips) {
				t.Errorf("skips %v, want %v", skips, tc.wantSkips)
			}
			if tc.avail == nil {
				all, _ := Tiers(f, tc.svc, f.Cluster(tc.src), nil)
				if n := tc.svc.TierCount(f.ServiceClusters(tc.svc), f.Cluster(tc.src)); n != len(all) {
					t.Errorf("TierCount %d, Tiers gives %d", n, len(all))
				}
			}
		})
	}
}
