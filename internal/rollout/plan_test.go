package rollout

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render/gloo"
)

// sixClusters is two clusters in each of three regions, every one a
// failover target: checkout runs everywhere with locality failover (each
// cluster fails over to the other zone of its region), ledger runs in
// eu-a, west-a and east-a with ordered failover eu-a, west-a (every other
// cluster sends its ledger traffic to eu-a first).
func sixClusters(extra ...fleettest.Doc) string {
	docs := []fleettest.Doc{
		fleettest.Cluster("east-a", gloo.Name).Region("us-east-1").Zone("us-east-1a").Labels("tier", "canary").Failover("10.0.1.1", 0),
		fleettest.Cluster("east-b", gloo.Name).Region("us-east-1").Zone("us-east-1b").Failover("10.0.1.2", 0),
		fleettest.Cluster("west-a", gloo.Name).Region("us-west-2").Zone("us-west-2a").Failover("10.0.2.1", 0),
		fleettest.Cluster("west-b", gloo.Name).Region("us-west-2").Zone("us-west-2b").Failover("10.0.2.2", 0),
		fleettest.Cluster("eu-a", gloo.Name).Region("eu-west-1").Zone("eu-west-1a").Failover("10.0.3.1", 0),
		fleettest.Cluster("eu-b", gloo.Name).Region("eu-west-1").Zone("eu-west-1b").Failover("10.0.3.2", 0),
		fleettest.Service("shop", "checkout", 8080).Locality().HealthCheck(),
		fleettest.Service("shop", "ledger", 9090).On("eu-a", "west-a", "east-a").Ordered("eu-a", "west-a").HealthCheck(),
		fleettest.Route("shop", "web", "shop.example.com").
			Rule("name: checkout", "backends: "+fleettest.Backends("checkout")).
			Rule("name: ledger", "match: {pathPrefix: /ledger}", "backends: "+fleettest.Backends("ledger")),
	}
	return fleettest.YAML(append(docs, extra...)...)
}

func waves(p *Plan) [][]string {
	out := [][]string{}
	for _, w := range p.Waves {
		out = append(out, w.Clusters)
	}
	return out
}

// noSharedFirstTier checks the wave rule on the plan itself: no cluster
// shares a wave with the cluster it sends a routed service to first.
func noSharedFirstTier(t *testing.T, f *fleet.Fleet, p *Plan) {
	t.Helper()
	g, err := newTopology(f, allNames(f), nil)
	if err != nil {
		t.Fatal(err)
	}
	for src, to := range g.first {
		for dst := range to {
			if p.Of(src) != 0 && p.Of(src) == p.Of(dst) {
				t.Errorf("%s and its first failover %s share wave %d", src, dst, p.Of(src))
			}
		}
	}
	for _, w := range p.Waves {
		if msg, _, _ := g.outageIfDown(w.Clusters); msg != "" {
			t.Errorf("wave %d failing entirely: %s", w.Wave, msg)
		}
	}
}

func TestPlanWaves(t *testing.T) {
	f := fleettest.Load(t, sixClusters())
	cases := []struct {
		name string
		opts PlanOptions
		want [][]string
	}{
		{"the most constrained first", PlanOptions{},
			[][]string{{"eu-a"}, {"east-a", "eu-b", "west-a"}, {"east-b", "west-b"}}},
		{"max wave size", PlanOptions{MaxWaveSize: 2},
			[][]string{{"eu-a"}, {"east-a", "west-a"}, {"east-b", "west-b"}, {"eu-b"}}},
		{"canary by name", PlanOptions{Canary: []string{"west-b"}},
			[][]string{{"west-b"}, {"eu-a"}, {"east-a", "eu-b", "west-a"}, {"east-b"}}},
		{"canary by selector", PlanOptions{CanarySelector: "tier=canary"},
			[][]string{{"east-a"}, {"eu-a"}, {"east-b", "eu-b", "west-a"}, {"west-b"}}},
		{"selected clusters only", PlanOptions{Clusters: []string{"east-a", "east-b", "eu-b"}},
			[][]string{{"east-a", "eu-b"}, {"east-b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Make(f, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := waves(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("waves %v, want %v", got, tc.want)
			}
			if len(tc.opts.Canary) > 0 || tc.opts.CanarySelector != "" {
				if !p.Waves[0].Canary || p.Waves[1].Canary {
					t.Errorf("only the first wave is the canary: %+v", p.Waves)
				}
			}
			noSharedFirstTier(t, f, p)
		})
	}
}

func TestPlanSaysWhyClustersAreApart(t *testing.T) {
	p, err := Make(fleettest.Load(t, sixClusters()), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, a := range p.Waves[0].Apart {
		lines = append(lines, a.String())
	}
	want := []string{
		"eu-a fails over to eu-b (wave 2) for shop/checkout",
		"eu-a fails over to west-a (wave 2) for shop/ledger",
		"eu-a is the failover of east-a (wave 2) for shop/ledger",
		"eu-a is the failover of east-b (wave 3) for shop/ledger",
		"eu-a is the failover of eu-b (wave 2) for shop/checkout, shop/ledger",
		"eu-a is the failover of west-a (wave 2) for shop/ledger",
		"eu-a is the failover of west-b (wave 3) for shop/ledger",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("apart:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	b, err := json.Marshal(p.Waves[2])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"wave":3,"clusters":["east-b","west-b"],"apart":[{"cluster":"east-b","relation":"fails over to","other":"east-a","otherWave":2,"services":["shop/checkout"]}`) {
		t.Errorf("json: %s", b)
	}
}

func TestPlanRefusals(t *testing.T) {
	// inventory runs in east-b only: whichever wave east-b is in, failing
	// entirely, leaves the other clusters' inventory traffic nowhere to go.
	single := sixClusters(
		fleettest.Service("shop", "inventory", 7070).On("east-b"),
		fleettest.Route("shop", "stock", "stock.example.com").To("inventory"),
	)
	cases := []struct {
		name, fleet string
		opts        PlanOptions
		want        string
	}{
		{"canary clusters that fail over to each other", sixClusters(), PlanOptions{Canary: []string{"east-a", "east-b"}},
			"the canary wave cannot hold both east-a and east-b: east-a fails over to east-b for shop/checkout; pick one of them as canary"},
		{"canary larger than a wave", sixClusters(), PlanOptions{Canary: []string{"east-a", "west-b"}, MaxWaveSize: 1},
			"the canary wave has 2 clusters (east-a, west-b), more than --max-wave-size 1"},
		{"unknown canary", sixClusters(), PlanOptions{Canary: []string{"east-c"}},
			`--canary east-c: unknown cluster "east-c"`},
		{"canary not written to", sixClusters(), PlanOptions{Canary: []string{"eu-a"}, Clusters: []string{"east-a", "east-b"}},
			"--canary eu-a: the cluster is not among the clusters this apply writes to (east-a, east-b)"},
		{"selector matching nothing", sixClusters(), PlanOptions{CanarySelector: "tier=gold"},
			`--canary-selector "tier=gold" matches none of the clusters`},
		{"bad selector", sixClusters(), PlanOptions{CanarySelector: "tier=="},
			`--canary-selector "tier=="`},
		{"a service one cluster serves", single, PlanOptions{},
			"no wave can hold cluster east-b: if it failed, from east-a: GlobalService shop/inventory has no cluster left to serve it (east-b: cluster down); place the service in a second cluster that is a failover target, or apply without --waves"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Make(fleettest.Load(t, tc.fleet), tc.opts)
			var pe *Error
			if err == nil || !strings.Contains(err.Error(), tc.want) || !asError(err, &pe) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	*target = e
	return ok
}

// A fleet where nobody fails over: the clusters share waves, except that
// no wave holds every cluster serving a route, so that one gateway of the
// route stays up whichever wave fails.
func TestPlanWithoutFailover(t *testing.T) {
	cases := []struct {
		name     string
		clusters []string
		want     [][]string
		apart    []string
	}{
		{"two clusters serve the route", []string{"a", "b"}, [][]string{{"a"}, {"b"}},
			[]string{"b serves routes with a (wave 1): default/web"}},
		{"three clusters serve the route", []string{"a", "b", "c"}, [][]string{{"a", "b"}, {"c"}},
			[]string{"c serves routes with a (wave 1): default/web", "c serves routes with b (wave 1): default/web"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			docs := []fleettest.Doc{fleettest.Service("", "api", 80), fleettest.Route("", "web", "example.com").To("api")}
			for _, c := range tc.clusters {
				docs = append(docs, fleettest.Cluster(c, gloo.Name))
			}
			p, err := Make(fleettest.Load(t, fleettest.YAML(docs...)), PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := waves(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("waves %v, want %v", got, tc.want)
			}
			last := p.Waves[len(p.Waves)-1]
			var lines []string
			for _, a := range last.Apart {
				lines = append(lines, a.String())
			}
			if !reflect.DeepEqual(lines, tc.apart) || len(p.Notes) != 0 {
				t.Errorf("apart %q, notes %q; want apart %q and no note", lines, p.Notes, tc.apart)
			}
		})
	}
}

// A route one cluster serves cannot be kept up by waves: the plan holds,
// with a note naming the route, its cluster and that cluster's wave.
func TestPlanRouteOneClusterServes(t *testing.T) {
	f := fleettest.Load(t, fleettest.YAML(
		fleettest.Cluster("a", gloo.Name),
		fleettest.Cluster("b", gloo.Name),
		fleettest.Service("", "api", 80),
		fleettest.Route("", "web", "example.com").To("api"),
		fleettest.Route("", "admin", "admin.example.com").On("b").To("api"),
	))
	p, err := Make(f, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := waves(p); !reflect.DeepEqual(got, [][]string{{"a"}, {"b"}}) {
		t.Errorf("waves %v", got)
	}
	want := []string{"GlobalRoute default/admin is served by b alone: waves cannot keep it up while wave 2 is applied; serve it from a second cluster to protect it"}
	if !reflect.DeepEqual(p.Notes, want) {
		t.Errorf("notes %q, want %q", p.Notes, want)
	}
	var out strings.Builder
	if err := WritePlanText(&out, p); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "\nNote: "+want[0]+"\n") {
		t.Errorf("plan text does not end with the note:\n%s", out.String())
	}
}

// Canary clusters that are together every cluster serving a route are
// refused, as canary clusters failing over to each other are.
func TestPlanCanaryHoldingARoute(t *testing.T) {
	f := fleettest.Load(t, fleettest.YAML(
		fleettest.Cluster("a", gloo.Name),
		fleettest.Cluster("b", gloo.Name),
		fleettest.Cluster("c", gloo.Name),
		fleettest.Service("", "api", 80),
		fleettest.Route("", "web", "example.com").On("a", "b").To("api"),
	))
	_, err := Make(f, PlanOptions{Canary: []string{"a", "b"}})
	want := "the canary wave cannot hold a, b: they are every cluster that serves GlobalRoute default/web; leave one of them out of the canary"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	p, err := Make(f, PlanOptions{Canary: []string{"a", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := waves(p); !reflect.DeepEqual(got, [][]string{{"a", "c"}, {"b"}}) {
		t.Errorf("waves %v", got)
	}
}
