package render_test

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// TestHealthCheckDefaultsOnEveryProvider loads a GlobalService whose health
// check names only a path and expects both providers to write the loader's
// interval, timeout and thresholds.
func TestHealthCheckDefaultsOnEveryProvider(t *testing.T) {
	const in = `apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: gloo-1}
spec:
  region: r1
  gateway: {provider: gloo}
  failover: {address: 203.0.113.1}
---
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: eg-1}
spec:
  region: r2
  gateway: {provider: envoy-gateway}
  failover: {address: 203.0.113.2}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: checkout, namespace: shop}
spec:
  port: 8080
  healthCheck: {path: /healthz}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalRoute
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop.example.com]
  rules:
  - backends: [{service: checkout}]
`
	f, err := fleet.Load([]string{"-"}, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Render(f, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		fleet.ProviderGloo: {
			"interval": "5s", "timeout": "1s", "healthyThreshold": int64(1), "unhealthyThreshold": int64(3),
			"httpHealthCheck": map[string]any{"path": "/healthz"},
		},
		fleet.ProviderEnvoyGateway: {
			"interval": "5s", "timeout": "1s", "healthyThreshold": int64(1), "unhealthyThreshold": int64(3),
			"type": "HTTP", "http": map[string]any{"path": "/healthz"},
		},
	}
	seen := map[string]bool{}
	for _, out := range res.Clusters {
		provider := out.Cluster.Spec.Gateway.Provider
		for _, o := range out.Objects {
			var got map[string]any
			switch o.GetKind() {
			case "Upstream":
				// The failover target's local Upstream has no health check.
				checks, found, _ := unstructured.NestedSlice(o.Object, "spec", "healthChecks")
				if !found {
					continue
				}
				if len(checks) != 1 {
					t.Errorf("%s: Upstream %s: %d health checks, want 1", out.Cluster.Name(), o.GetName(), len(checks))
					continue
				}
				got, _ = checks[0].(map[string]any)
			case "BackendTrafficPolicy":
				got, _, _ = unstructured.NestedMap(o.Object, "spec", "healthCheck", "active")
			default:
				continue
			}
			seen[provider] = true
			if !reflect.DeepEqual(got, want[provider]) {
				t.Errorf("%s: %s %s health check:\n got %v\nwant %v", out.Cluster.Name(), o.GetKind(), o.GetName(), got, want[provider])
			}
		}
	}
	for provider := range want {
		if !seen[provider] {
			t.Errorf("no health check rendered for %s", provider)
		}
	}
}
