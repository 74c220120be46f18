package check

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
)

// An object without a verdict gets its provider's hint when the provider
// knows how its controller loses one, and the generic hint otherwise.
func TestPendingHint(t *testing.T) {
	render.Register(envoygateway.New())
	obj := func(apiVersion, kind string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
			"metadata": map[string]any{"namespace": "envoy-gateway-system", "name": "gatefed-tiers"}}}
	}
	patch := pendingHint("envoy-gateway", obj("gateway.envoyproxy.io/v1alpha1", "EnvoyPatchPolicy"))
	for _, want := range []string{"drop a patch policy's status", "kubectl rollout restart deployment/envoy-gateway -n envoy-gateway-system",
		"kubectl delete envoypatchpolicy gatefed-tiers -n envoy-gateway-system"} {
		if !strings.Contains(patch, want) {
			t.Errorf("patch policy's hint lacks %q: %s", want, patch)
		}
	}
	route := pendingHint("envoy-gateway", obj("gateway.networking.k8s.io/v1", "HTTPRoute"))
	if want := "check that the envoy-gateway controller runs and watches namespace envoy-gateway-system (see gateway-install)"; route != want {
		t.Errorf("route's hint = %q, want %q", route, want)
	}
}
