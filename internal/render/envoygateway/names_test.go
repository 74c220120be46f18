package envoygateway

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
)

func itoa(i int) string { return strconv.Itoa(i) }

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestAmbiguousRoutesRenderDistinctObjects(t *testing.T) {
	s := fleettest.NewService("a", "web", 80, "c1")
	f := fleettest.NewFleet([]*fleet.Cluster{fleettest.NewCluster("c1", "envoy-gateway", "", "", "", 0)}, []*fleet.GlobalService{s},
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
