package check

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
)

// A gloo source warns about each DNS-name failover address of its remote
// tiers that does not resolve here, once per target cluster; IP addresses
// and names that resolve are not reported.
func TestControlPlaneDNSWarnsAboutUnresolvedAddresses(t *testing.T) {
	f := fleettest.Load(t, fleettest.YAML(
		fleettest.Cluster("g", "gloo").Region("r1"),
		fleettest.Cluster("gone", "gloo").Region("r2").Failover("gone.example.invalid", 0),
		fleettest.Cluster("ok", "gloo").Region("r3").Failover("ok.example.net", 0),
		fleettest.Cluster("ip", "gloo").Region("r4").Failover("192.0.2.4", 0),
		fleettest.Service("shop", "checkout", 8080).On("g", "gone", "ok", "ip").HealthCheck(),
		fleettest.Service("shop", "cart", 8080).On("gone").HealthCheck(),
		fleettest.Route("shop", "web", "shop.example.com").On("g").To("checkout", "cart"),
	))
	var asked []string
	lookupHost = func(_ context.Context, name string) error {
		asked = append(asked, name)
		if strings.HasSuffix(name, ".invalid") {
			return errors.New("no such host")
		}
		return nil
	}
	t.Cleanup(func() { lookupHost = defaultLookupHost })
	c := f.Cluster("g")
	env := &clusterEnv{cluster: c, input: render.Input(f, c, nil)}
	res := &result{Result: Result{Findings: []Finding{}}}
	controlPlaneDNS(context.Background(), env, res)
	if strings.Join(asked, " ") != "gone.example.invalid ok.example.net" {
		t.Errorf("resolved %v, want each DNS target once, by cluster name", asked)
	}
	if len(res.Findings) != 1 || res.Findings[0].Severity != Warning ||
		!strings.Contains(res.Findings[0].Message, "the failover address gone.example.invalid of cluster gone does not resolve from this host (no such host): Gloo resolves it when it translates") {
		t.Errorf("findings %+v", res.Findings)
	}
}
