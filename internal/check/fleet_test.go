package check

import (
	"github.com/gatefed/gatefed/internal/fleettest"
)

// sizingFleet: a and b (Gloo) and c (Envoy Gateway) are failover targets;
// d (Gloo) is not and runs no service. checkout runs in a, b and c; ledger
// only in a. The route web is served everywhere.
var sizingFleet = fleettest.YAML(
	fleettest.Cluster("a", "gloo").Region("r1").Zone("r1-z1").Failover("10.0.0.1", 0),
	fleettest.Cluster("b", "gloo").Region("r1").Zone("r1-z2").Failover("10.0.0.2", 0),
	fleettest.Cluster("c", "envoy-gateway").Region("r2").Zone("r2-z1").Failover("10.0.0.3", 0),
	fleettest.Cluster("d", "gloo").Region("r1").Zone("r1-z1"),
	fleettest.Service("shop", "checkout", 8080).On("a", "b", "c").HealthCheck(),
	fleettest.Service("shop", "ledger", 9090).On("a"),
	fleettest.Route("shop", "web", "shop.example.com").To("checkout").
		Rule("match: {pathPrefix: /ledger}", "backends: "+fleettest.Backends("ledger")),
)
