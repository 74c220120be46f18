package envoygateway

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
)

func itoa(i int) string { return strconv.Itoa(i) }

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestNamerPlainNames(t *testing.T) {
	n := newNamer([]nameRequest{
		{kindHTTPRoute, "gw", []string{"shop", "storefront"}},
		{kindBackend, "gw", []string{"shop", "checkout", "eu.west_1"}},
	})
	if got := n.name(kindHTTPRoute, "gw", "shop", "storefront"); got != "gatefed-shop-storefront" {
		t.Errorf("got %q", got)
	}
	if got := n.name(kindBackend, "gw", "shop", "checkout", "eu.west_1"); got != "gatefed-shop-checkout-eu-west-1" {
		t.Errorf("got %q", got)
	}
}

func TestNamerHashesAmbiguousNames(t *testing.T) {
	reqs := []nameRequest{
		{kindHTTPRoute, "gw", []string{"a-b", "c"}},
		{kindHTTPRoute, "gw", []string{"a", "b-c"}},
		{kindHTTPRoute, "gw", []string{"x", "y"}},
		{kindBackend, "gw", []string{"a-b", "c"}}, // another kind: no clash
	}
	n := newNamer(reqs)
	first := n.name(kindHTTPRoute, "gw", "a-b", "c")
	second := n.name(kindHTTPRoute, "gw", "a", "b-c")
	if first == second {
		t.Fatalf("both identities named %q", first)
	}
	for _, got := range []string{first, second} {
		if !strings.HasPrefix(got, "gatefed-a-b-c-") || len(got) != len("gatefed-a-b-c-")+8 {
			t.Errorf("ambiguous name %q, want gatefed-a-b-c-<hash>", got)
		}
	}
	if got := n.name(kindHTTPRoute, "gw", "x", "y"); got != "gatefed-x-y" {
		t.Errorf("unambiguous name %q", got)
	}
	if got := n.name(kindBackend, "gw", "a-b", "c"); got != "gatefed-a-b-c" {
		t.Errorf("other kind %q", got)
	}
	// Stable: the same requests give the same names.
	if again := newNamer(reqs).name(kindHTTPRoute, "gw", "a-b", "c"); again != first {
		t.Errorf("unstable: %q then %q", first, again)
	}
}

func TestNamerShortensLongNames(t *testing.T) {
	long := strings.Repeat("n", 60)
	n := newNamer([]nameRequest{{kindBackend, "gw", []string{"shop", long, "cluster-1"}}, {kindBackend, "gw", []string{"shop", long, "cluster-2"}}})
	a := n.name(kindBackend, "gw", "shop", long, "cluster-1")
	b := n.name(kindBackend, "gw", "shop", long, "cluster-2")
	for _, got := range []string{a, b} {
		if len(got) > maxNameLen || !dnsLabelRE.MatchString(got) {
			t.Errorf("name %q (%d chars) is not a DNS label", got, len(got))
		}
	}
	if a == b {
		t.Errorf("long names collide: %q", a)
	}
}

func TestAmbiguousRoutesRenderDistinctObjects(t *testing.T) {
	s := fleettest.NewService("a", "web", 80, "c1")
	f := fleettest.NewFleet([]*fleet.Cluster{fleettest.NewCluster("c1", fleet.ProviderEnvoyGateway, "", "", "", 0)}, []*fleet.GlobalService{s},
		fleettest.NewRoute("a-b", "c", []string{"one.example.com"}, fleettest.To("a/web")),
		fleettest.NewRoute("a", "b-c", []string{"two.example.com"}, fleettest.To("a/web")),
	)
	objs, _ := renderCluster(t, f, "c1")
	routes := ofKind(objs, "HTTPRoute")
	if len(routes) != 2 || routes[0].GetName() == routes[1].GetName() {
		t.Fatalf("routes:\n%s", listObjects(objs))
	}
	for _, r := range routes {
		if !dnsLabelRE.MatchString(r.GetName()) {
			t.Errorf("name %q", r.GetName())
		}
	}
}

func TestGatewayDurations(t *testing.T) {
	for in, want := range map[fleet.Duration]string{
		"5s":         "5s",
		"1500ms":     "1s500ms",
		"90s":        "1m30s",
		"1h0m1s":     "1h1s",
		"2h30m":      "2h30m",
		"250ms":      "250ms",
		"1.5s":       "1s500ms",
		"100us":      "1ms",
		"26h3m4s5ms": "26h3m4s5ms",
	} {
		got := gwDuration(in)
		if got == nil || string(*got) != want {
			t.Errorf("gwDuration(%q) = %v, want %q", in, got, want)
		}
	}
	for _, in := range []fleet.Duration{"", "0s", "bogus", "-1s"} {
		if got := gwDuration(in); got != nil {
			t.Errorf("gwDuration(%q) = %q, want nil", in, *got)
		}
	}
}
