package render_test

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
)

// TestHealthCheckDefaultsOnEveryProvider loads a GlobalService whose health
// check names only a path and expects both providers to write the loader's
// interval, timeout and thresholds.
func TestHealthCheckDefaultsOnEveryProvider(t *testing.T) {
	f := fleettest.Load(t, fleettest.YAML(
		fleettest.Cluster("gloo-1", "gloo").Region("r1").Failover("203.0.113.1", 0),
		fleettest.Cluster("eg-1", "envoy-gateway").Region("r2").Failover("203.0.113.2", 0),
		fleettest.Service("shop", "checkout", 8080).Spec("healthCheck", "{path: /healthz}"),
		fleettest.Route("shop", "shop", "shop.example.com").To("checkout"),
	))
	res, err := render.Render(f, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		"gloo": {
			"interval": "5s", "timeout": "1s", "healthyThreshold": int64(1), "unhealthyThreshold": int64(3),
			"httpHealthCheck": map[string]any{"path": "/healthz"},
		},
		"envoy-gateway": {
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
