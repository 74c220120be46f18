package check

import (
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
)

func init() {
	render.Register(gloo.New())
	render.Register(envoygateway.New())
}

// loadFleet reads a fleet from YAML text.
func loadFleet(t testing.TB, yaml string) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Load([]string{"-"}, strings.NewReader(yaml))
	if err != nil {
		t.Fatalf("load fleet: %v", err)
	}
	return f
}

// sizingFleet: a and b (Gloo) and c (Envoy Gateway) are failover targets;
// d (Gloo) is not and runs no service. checkout runs in a, b and c; ledger
// only in a. The route web is served everywhere.
const sizingFleet = `
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: a}
spec:
  region: r1
  zone: r1-z1
  gateway: {provider: gloo}
  failover: {address: 10.0.0.1}
---
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: b}
spec:
  region: r1
  zone: r1-z2
  gateway: {provider: gloo}
  failover: {address: 10.0.0.2}
---
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: c}
spec:
  region: r2
  zone: r2-z1
  gateway: {provider: envoy-gateway}
  failover: {address: 10.0.0.3}
---
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: d}
spec:
  region: r1
  zone: r1-z1
  gateway: {provider: gloo}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: checkout, namespace: shop}
spec:
  port: 8080
  clusters: {names: [a, b, c]}
  healthCheck: {path: /healthz, interval: 5s, timeout: 1s}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: ledger, namespace: shop}
spec:
  port: 9090
  clusters: {names: [a]}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalRoute
metadata: {name: web, namespace: shop}
spec:
  hosts: [shop.example.com]
  rules:
  - backends: [{service: checkout}]
  - match: {pathPrefix: /ledger}
    backends: [{service: ledger}]
`
