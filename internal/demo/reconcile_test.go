package demo

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
)

// The demo's stand-in statuses refuse what Envoy Gateway refuses: a Backend
// with a loopback address, and the route's reference to it; they accept it
// on a gateway whose descriptor does not refuse a loopback target.
func TestStandInStatusesRefuseLoopbackBackends(t *testing.T) {
	backend := func(addr string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"kind": "Backend", "metadata": map[string]any{"namespace": "envoy-gateway-system", "name": "b"},
			"spec": map[string]any{"endpoints": []any{map[string]any{"ip": map[string]any{"address": addr, "port": int64(15443)}}}},
		}}
	}
	refuses := func(name, kind string) func(*unstructured.Unstructured) string {
		desc := provider.Lookup(name)
		for _, a := range desc.Install.StandIn(provider.Gateway{Namespace: desc.Defaults.Namespace, Name: desc.Defaults.GatewayName}, 15443).Accepts {
			if a.Kind.Kind == kind && a.Refuses != nil {
				return a.Refuses
			}
		}
		return func(*unstructured.Unstructured) string { return "" }
	}
	eg := refuses(envoygateway.Name, "Backend")
	why := eg(backend("127.0.0.1"))
	if why != "IP address 127.0.0.1 in the loopback range is only supported when using the Host infrastructure" {
		t.Errorf("loopback Backend: %q", why)
	}
	if why := eg(backend("192.0.2.10")); why != "" {
		t.Errorf("Backend at 192.0.2.10 refused: %q", why)
	}
	if why := refuses(gloo.Name, "Backend")(backend("127.0.0.1")); why != "" {
		t.Errorf("refused on a gateway that takes loopback targets: %q", why)
	}
	route := &unstructured.Unstructured{Object: map[string]any{
		"kind": "HTTPRoute", "metadata": map[string]any{"namespace": "envoy-gateway-system", "name": "r"},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": "eg"}},
			"rules":      []any{map[string]any{"backendRefs": []any{map[string]any{"group": "gateway.envoyproxy.io", "kind": "Backend", "name": "b"}}}},
		},
	}}
	unresolved := refusedRef(route, "envoy-gateway-system", map[string]string{objectKey("Backend", "envoy-gateway-system", "b"): why})
	parents := parentsOf(route, "envoy-gateway-system", envoygateway.ControllerName, unresolved)
	if len(parents) != 1 || len(parents[0].Conditions) != 2 || parents[0].ControllerName != envoygateway.ControllerName {
		t.Fatalf("parents: %+v", parents)
	}
	if c := parents[0].Conditions[1]; c.Type != "ResolvedRefs" || c.Status != "False" || c.Reason != "InvalidBackendRef" || c.Message != why {
		t.Errorf("ResolvedRefs: %+v", c)
	}
	if c := parentsOf(route, "envoy-gateway-system", envoygateway.ControllerName, "")[0].Conditions[1]; c.Status != "True" {
		t.Errorf("a route to accepted Backends: %+v", c)
	}
	if got := describeCounts(map[string]int{"HTTPRoute": 1, refusedPrefix + "Backend": 2}); got != "accepted 1 HTTPRoute; refused, as the gateway's controller would: 2 Backend" {
		t.Errorf("counts: %s", got)
	}
}
