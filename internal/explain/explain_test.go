package explain

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/plan"
)

// orderedFleet: a, b and c are failover targets, d only routes. checkout
// fails over c, a, b; cart a, b. The route sends rule api 3:1 to checkout
// and cart, and everything else to cart.
var orderedFleet = fleettest.YAML(
	fleettest.Cluster("a", "gloo").Region("r1").Failover("192.0.2.1", 0),
	fleettest.Cluster("b", "envoy-gateway").Region("r1").Failover("192.0.2.2", 0),
	fleettest.Cluster("c", "envoy-gateway").Region("r2").Failover("192.0.2.3", 0),
	fleettest.Cluster("d", "gloo").Region("r2"),
	fleettest.Service("shop", "checkout", 8080).On("a", "b", "c").Ordered("c", "a", "b").HealthCheck(),
	fleettest.Service("shop", "cart", 8080).On("a", "b").Ordered("a", "b").HealthCheck(),
	fleettest.Route("shop", "web", "shop.example.com").
		Rule("name: api", "match: {pathPrefix: /api}", "backends: [{service: checkout, weight: 3}, {service: cart, weight: 1}]").
		To("cart"),
)

// localityFleet: two zones of us-east, us-west and eu-west, all failover
// targets. api runs everywhere; pay only in usw and eu.
var localityFleet = fleettest.YAML(
	fleettest.Cluster("use1a", "gloo").Region("us-east").Zone("us-east-1a").Failover("192.0.2.11", 0),
	fleettest.Cluster("use1b", "envoy-gateway").Region("us-east").Zone("us-east-1b").Failover("192.0.2.12", 0),
	fleettest.Cluster("usw", "envoy-gateway").Region("us-west").Failover("192.0.2.13", 0),
	fleettest.Cluster("eu", "gloo").Region("eu-west").Failover("192.0.2.14", 0),
	fleettest.Service("prod", "api", 80).HealthCheck(),
	fleettest.Service("prod", "pay", 80).On("usw", "eu").HealthCheck(),
	fleettest.Route("prod", "site", "example.com").
		Rule("name: pay", "match: {pathPrefix: /pay}", "backends: "+fleettest.Backends("pay")).
		To("api"),
)

// tiers renders a service row's tiers as "a* > c > b" (* marks local).
func tiers(rep *Report, source, service string) string {
	for _, s := range rep.Services {
		if s.Source == source && s.Service == service {
			parts := make([]string, len(s.Tiers))
			for i, t := range s.Tiers {
				parts[i] = t.Cluster
				if t.Local {
					parts[i] += "*"
				}
			}
			return strings.Join(parts, " > ")
		}
	}
	return "<no row>"
}

// served renders a rule's backends as "svc=cluster:percent" joined by ", ".
func served(rep *Report, source, route, rule string) string {
	for _, r := range rep.Routes {
		if r.Source != source || r.Route != route {
			continue
		}
		for _, rr := range r.Rules {
			if rr.Rule != rule {
				continue
			}
			var parts []string
			for _, b := range rr.Backends {
				c := b.Cluster
				if c == "" {
					c = "NONE"
				}
				parts = append(parts, b.Service+"="+c+":"+FormatPercent(b.Percent))
			}
			return strings.Join(parts, ", ")
		}
	}
	return "<no row>"
}

type check struct {
	source, service, want string
}

type ruleCheck struct {
	source, route, rule, want string
}

func TestExplain(t *testing.T) {
	ordered := fleettest.Load(t, orderedFleet)
	locality := fleettest.Load(t, localityFleet)
	tests := []struct {
		name    string
		fleet   *fleet.Fleet
		opts    Options
		sources []string
		tiers   []check
		rules   []ruleCheck
		outages []string // "source route rule percent" or "source service"
	}{
		{
			name: "ordered, all up", fleet: ordered,
			sources: []string{"a", "b", "c", "d"},
			tiers: []check{
				{"a", "shop/checkout", "a* > c > b"},
				{"b", "shop/checkout", "b* > c > a"},
				{"d", "shop/checkout", "c > a > b"},
				{"c", "shop/cart", "a > b"},
				{"d", "shop/cart", "a > b"},
			},
			rules: []ruleCheck{
				{"a", "shop/web", "api", "shop/checkout=a:75, shop/cart=a:25"},
				{"d", "shop/web", "api", "shop/checkout=c:75, shop/cart=a:25"},
				{"d", "shop/web", "rules[1]", "shop/cart=a:100"},
			},
		},
		{
			name: "ordered, first choice down", fleet: ordered, opts: Options{Down: []string{"a"}},
			sources: []string{"b", "c", "d"},
			tiers: []check{
				{"b", "shop/checkout", "b* > c"},
				{"d", "shop/checkout", "c > b"},
				{"d", "shop/cart", "b"},
			},
			rules: []ruleCheck{
				{"d", "shop/web", "api", "shop/checkout=c:75, shop/cart=b:25"},
				{"c", "shop/web", "rules[1]", "shop/cart=b:100"},
			},
		},
		{
			name: "ordered, service missing in the first choice", fleet: ordered, opts: Options{Missing: []string{"checkout@c"}},
			sources: []string{"a", "b", "c", "d"},
			tiers: []check{
				{"d", "shop/checkout", "a > b"},
				{"c", "shop/checkout", "a > b"},
				{"a", "shop/checkout", "a* > b"},
			},
			rules: []ruleCheck{
				{"d", "shop/web", "api", "shop/checkout=a:75, shop/cart=a:25"},
			},
		},
		{
			name: "ordered, no tier left for cart: an outage from every source", fleet: ordered,
			opts:    Options{Down: []string{"a"}, Missing: []string{"shop/cart@b"}},
			sources: []string{"b", "c", "d"},
			tiers: []check{
				{"b", "shop/cart", ""},
				{"d", "shop/checkout", "c > b"},
			},
			rules: []ruleCheck{
				{"d", "shop/web", "api", "shop/checkout=c:75, shop/cart=NONE:25"},
				{"b", "shop/web", "rules[1]", "shop/cart=NONE:100"},
			},
			outages: []string{
				"b shop/cart", "b shop/web api 25", "b shop/web rules[1] 100",
				"c shop/cart", "c shop/web api 25", "c shop/web rules[1] 100",
				"d shop/cart", "d shop/web api 25", "d shop/web rules[1] 100",
			},
		},
		{
			name: "ordered, every checkout cluster down but d still routes cart", fleet: ordered,
			opts: Options{Down: []string{"a", "b", "c"}, From: []string{"d"}}, sources: []string{"d"},
			tiers:   []check{{"d", "shop/checkout", ""}, {"d", "shop/cart", ""}},
			rules:   []ruleCheck{{"d", "shop/web", "api", "shop/checkout=NONE:75, shop/cart=NONE:25"}},
			outages: []string{"d shop/cart", "d shop/checkout", "d shop/web api 100", "d shop/web rules[1] 100"},
		},
		{
			name: "ordered, a down source sources nothing", fleet: ordered,
			opts: Options{Down: []string{"d"}, From: []string{"d"}}, sources: []string{},
		},
		{
			name: "ordered, a named service explains it and the routes that use it", fleet: ordered,
			opts: Options{Target: "cart", From: []string{"d"}}, sources: []string{"d"},
			tiers: []check{{"d", "shop/cart", "a > b"}, {"d", "shop/checkout", "<no row>"}},
			rules: []ruleCheck{{"d", "shop/web", "rules[1]", "shop/cart=a:100"}},
		},
		{
			name: "locality, all up", fleet: locality,
			sources: []string{"eu", "use1a", "use1b", "usw"},
			tiers: []check{
				{"use1a", "prod/api", "use1a* > use1b > eu > usw"},
				{"usw", "prod/api", "usw* > eu > use1a > use1b"},
				{"use1a", "prod/pay", "eu > usw"},
				{"usw", "prod/pay", "usw* > eu"},
			},
			rules: []ruleCheck{
				{"use1a", "prod/site", "pay", "prod/pay=eu:100"},
				{"use1b", "prod/site", "rules[1]", "prod/api=use1b:100"},
			},
		},
		{
			name: "locality, a zone down and the service missing in the same region", fleet: locality,
			opts:    Options{Down: []string{"use1a"}, Missing: []string{"prod/api@use1b"}},
			sources: []string{"eu", "use1b", "usw"},
			tiers: []check{
				{"use1b", "prod/api", "eu > usw"},
				{"usw", "prod/api", "usw* > eu"},
			},
			rules: []ruleCheck{{"use1b", "prod/site", "rules[1]", "prod/api=eu:100"}},
		},
		{
			name: "locality, pay's clusters both down: an outage of the pay rule only", fleet: locality,
			opts: Options{Down: []string{"usw", "eu"}}, sources: []string{"use1a", "use1b"},
			tiers: []check{{"use1a", "prod/pay", ""}, {"use1a", "prod/api", "use1a* > use1b"}},
			rules: []ruleCheck{
				{"use1a", "prod/site", "pay", "prod/pay=NONE:100"},
				{"use1a", "prod/site", "rules[1]", "prod/api=use1a:100"},
			},
			outages: []string{"use1a prod/pay", "use1a prod/site pay 100", "use1b prod/pay", "use1b prod/site pay 100"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Explain(tt.fleet, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(rep.Sources, ","), strings.Join(tt.sources, ","); got != want {
				t.Errorf("sources = %q, want %q", got, want)
			}
			for _, c := range tt.tiers {
				if got := tiers(rep, c.source, c.service); got != c.want {
					t.Errorf("tiers of %s from %s = %q, want %q", c.service, c.source, got, c.want)
				}
			}
			for _, c := range tt.rules {
				if got := served(rep, c.source, c.route, c.rule); got != c.want {
					t.Errorf("rule %s of %s from %s = %q, want %q", c.rule, c.route, c.source, got, c.want)
				}
			}
			var got []string
			for _, o := range rep.Outages {
				if o.Route == "" {
					got = append(got, o.Source+" "+o.Service)
				} else {
					got = append(got, o.Source+" "+o.Route+" "+o.Rule+" "+FormatPercent(o.Percent))
				}
			}
			sortStrings(got)
			want := append([]string(nil), tt.outages...)
			sortStrings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("outages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if rep.Outage() != (len(tt.outages) > 0) {
				t.Errorf("Outage() = %v", rep.Outage())
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// The scenario's reasons show up as the skipped clusters.
func TestExplainSkipReasons(t *testing.T) {
	f := fleettest.Load(t, orderedFleet)
	rep, err := Explain(f, Options{Down: []string{"c"}, Missing: []string{"checkout@b"}, From: []string{"a"}, Target: "shop/checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Services) != 1 {
		t.Fatalf("want one service row, got %d", len(rep.Services))
	}
	if got, want := SkipList(rep.Services[0].Skipped), "c: cluster down, b: service missing"; got != want {
		t.Errorf("skipped = %q, want %q", got, want)
	}
}

// Discovered presence applies under the scenario.
type absent map[string]string

func (a absent) Unavailable(s *fleet.GlobalService, cluster string) string {
	return a[s.Key()+"@"+cluster]
}

func TestExplainWithDiscoveredPresence(t *testing.T) {
	f := fleettest.Load(t, orderedFleet)
	var avail plan.Availability = absent{"shop/checkout@c": "no ready endpoints"}
	rep, err := Explain(f, Options{Availability: avail, Down: []string{"a"}, From: []string{"d"}, Target: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tiers(rep, "d", "shop/checkout"); got != "b" {
		t.Errorf("tiers = %q, want b", got)
	}
	if got := SkipList(rep.Services[0].Skipped); got != "c: no ready endpoints, a: cluster down" {
		t.Errorf("skipped = %q", got)
	}
	if got := served(rep, "d", "shop/web", "api"); got != "shop/checkout=b:75, shop/cart=b:25" {
		t.Errorf("served = %q", got)
	}
}

func TestExplainBadInput(t *testing.T) {
	f := fleettest.Load(t, orderedFleet)
	twoNamespaces := fleettest.Load(t, fleettest.YAML(fleettest.Raw(orderedFleet), fleettest.Service("other", "cart", 8080).On("a")))
	tests := []struct {
		name string
		f    *fleet.Fleet
		opts Options
		want string
	}{
		{"unknown down cluster", f, Options{Down: []string{"bb"}}, `--down: unknown cluster "bb" (did you mean "b"?) (the fleet has a, b, c, d)`},
		{"unknown source", f, Options{From: []string{"x"}}, `--from: unknown cluster "x" (the fleet has a, b, c, d)`},
		{"unknown target", f, Options{Target: "chekout"}, `unknown GlobalRoute or GlobalService "chekout" (did you mean "checkout"?)`},
		{"unknown namespaced target", f, Options{Target: "shop/wbe"}, `unknown GlobalRoute or GlobalService "shop/wbe" (did you mean "shop/web"?)`},
		{"missing without cluster", f, Options{Missing: []string{"checkout"}}, `--missing "checkout": want SERVICE@CLUSTER, for example shop/checkout@us-east`},
		{"missing unknown service", f, Options{Missing: []string{"chckout@a"}}, `--missing chckout@a: unknown GlobalService "chckout" (did you mean "checkout"?)`},
		{"missing unknown cluster", f, Options{Missing: []string{"checkout@e"}}, `--missing checkout@e: unknown cluster "e" (the fleet has a, b, c, d)`},
		{"ambiguous bare name", twoNamespaces, Options{Target: "cart"}, `GlobalService name "cart" is in several namespaces: say which, one of other/cart, shop/cart`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Explain(tt.f, tt.opts)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want an InputError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("err = %q\nwant  %q", err.Error(), tt.want)
			}
		})
	}
}

func TestMissingOutsidePlacementWarns(t *testing.T) {
	f := fleettest.Load(t, orderedFleet)
	rep, err := Explain(f, Options{Missing: []string{"cart@c"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "not placed in cluster c") {
		t.Errorf("warnings = %q", rep.Warnings)
	}
}

func TestWriters(t *testing.T) {
	f := fleettest.Load(t, orderedFleet)
	rep, err := Explain(f, Options{Down: []string{"a", "b"}, From: []string{"d"}})
	if err != nil {
		t.Fatal(err)
	}
	var tsv bytes.Buffer
	if err := WriteText(&tsv, rep, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"SOURCE\tSERVICE\tPOLICY\tROUTED\tTIERS\tSKIPPED\n",
		"d\tshop/cart\tordered\tyes\tNONE: outage\ta: cluster down, b: cluster down\n",
		"d\tshop/checkout\tordered\tyes\tc\ta: cluster down, b: cluster down\n",
		"d\tshop/web\tapi\t/api\tshop/checkout\t75%\tc (remote)\n",
		"d\tshop/web\tapi\t/api\tshop/cart\t25%\tNONE: HTTP 500\n",
		"OUTAGE: from d: GlobalRoute shop/web api: shop/cart has no cluster left: 25% of its requests fail with HTTP 500\n",
	} {
		if !strings.Contains(tsv.String(), want) {
			t.Errorf("tab-separated output lacks %q:\n%s", want, tsv.String())
		}
	}

	var tbl bytes.Buffer
	if err := WriteText(&tbl, rep, TextOptions{Table: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Scenario: down: a, b", "┌", "NONE: HTTP 500", "OUTAGE: 3 findings"} {
		if !strings.Contains(tbl.String(), want) {
			t.Errorf("table output lacks %q:\n%s", want, tbl.String())
		}
	}
	if strings.Contains(tbl.String(), "\x1b[") {
		t.Errorf("table without colour has escape codes:\n%q", tbl.String())
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Outages) != 3 || back.Routes[0].Rules[0].Failing != 25 || back.Routes[0].Rules[0].ServedBy[0] != (Share{Cluster: "c", Percent: 75}) {
		t.Errorf("JSON round trip: %+v", back)
	}
}

// A change of tiers when a failover target moves: served-by says what it fails over from.
func TestServedByNamesTheUsualCluster(t *testing.T) {
	f := fleettest.Load(t, orderedFleet)
	rep, err := Explain(f, Options{Down: []string{"a"}, From: []string{"d"}})
	if err != nil {
		t.Fatal(err)
	}
	rows := RouteRows(rep)
	var found bool
	for _, r := range rows {
		if r[4] == "shop/cart" && r[2] == "api" {
			found = true
			if r[6] != "b (failover from a)" {
				t.Errorf("served by = %q", r[6])
			}
		}
	}
	if !found {
		t.Fatalf("no row for shop/cart: %q", rows)
	}
}
