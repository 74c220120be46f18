package check

import (
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
)

func init() {
	render.Register(gloo.New())
	render.Register(envoygateway.New())
}

// sizingFleet: a and b (Gloo) and c (Envoy Gateway) are failover targets;
// d (Gloo) is not and runs no service. checkout runs in a, b and c; ledger
// only in a. The route web is served everywhere.
var sizingFleet = fleettest.YAML(
	fleettest.Cluster("a", fleet.ProviderGloo).Region("r1").Zone("r1-z1").Failover("10.0.0.1", 0),
	fleettest.Cluster("b", fleet.ProviderGloo).Region("r1").Zone("r1-z2").Failover("10.0.0.2", 0),
	fleettest.Cluster("c", fleet.ProviderEnvoyGateway).Region("r2").Zone("r2-z1").Failover("10.0.0.3", 0),
	fleettest.Cluster("d", fleet.ProviderGloo).Region("r1").Zone("r1-z1"),
	fleettest.Service("shop", "checkout", 8080).On("a", "b", "c").HealthCheck(),
	fleettest.Service("shop", "ledger", 9090).On("a"),
	fleettest.Route("shop", "web", "shop.example.com").To("checkout").
		Rule("match: {pathPrefix: /ledger}", "backends: "+fleettest.Backends("ledger")),
)
