package status

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func object(apiVersion, kind string, generation int64, status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": "x", "namespace": "gw", "generation": generation},
	}}
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

func cond(t, s, reason string, gen int64) map[string]any {
	return map[string]any{"type": t, "status": s, "reason": reason, "message": "msg " + reason, "observedGeneration": gen}
}

func TestGloo(t *testing.T) {
	cases := []struct {
		name   string
		status map[string]any
		want   State
		final  bool
		reason string
	}{
		{"accepted as int", map[string]any{"statuses": map[string]any{"gloo-system": map[string]any{"state": int64(1)}}}, Accepted, true, ""},
		{"accepted as string", map[string]any{"statuses": map[string]any{"gloo-system": map[string]any{"state": "Accepted"}}}, Accepted, true, ""},
		{"rejected", map[string]any{"statuses": map[string]any{"gloo-system": map[string]any{"state": int64(2), "reason": "bad upstream"}}}, Rejected, true, "bad upstream"},
		{"pending", map[string]any{"statuses": map[string]any{"gloo-system": map[string]any{"state": int64(0)}}}, Pending, false, "pending"},
		{"warning is accepted", map[string]any{"statuses": map[string]any{"gloo-system": map[string]any{"state": "Warning", "reason": "unused"}}}, Accepted, true, "unused"},
		{"flat", map[string]any{"state": int64(1), "reportedBy": "gloo"}, Accepted, true, ""},
		{"flat rejected as string", map[string]any{"state": "Rejected", "reason": "nope"}, Rejected, true, "nope"},
		{"one of two namespaces rejects", map[string]any{"statuses": map[string]any{
			"a": map[string]any{"state": int64(1)}, "b": map[string]any{"state": int64(2), "reason": "conflict"}}}, Rejected, true, "reported by b: conflict"},
		{"stale generation", map[string]any{"statuses": map[string]any{"gloo-system": map[string]any{"state": int64(1), "observedGeneration": int64(1)}}}, Pending, false, "generation 1"},
		{"no status yet", nil, Pending, false, "no status"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Of(object("gateway.solo.io/v1", "VirtualService", 2, c.status))
			if got.State != c.want || got.Final != c.final || !strings.Contains(got.Reason, c.reason) {
				t.Errorf("Of = %+v, want state %s final %v reason containing %q", got, c.want, c.final, c.reason)
			}
		})
	}
}

func TestGatewayAPI(t *testing.T) {
	parent := func(conds ...any) map[string]any {
		return map[string]any{"parentRef": map[string]any{"name": "eg", "namespace": "gw"}, "controllerName": "x", "conditions": conds}
	}
	cases := []struct {
		name   string
		kind   string
		status map[string]any
		want   State
		reason string
	}{
		{"route accepted", "HTTPRoute", map[string]any{"parents": []any{parent(cond("Accepted", "True", "Accepted", 3), cond("ResolvedRefs", "True", "ResolvedRefs", 3))}}, Accepted, ""},
		{"route unresolved", "HTTPRoute", map[string]any{"parents": []any{parent(cond("Accepted", "True", "Accepted", 3), cond("ResolvedRefs", "False", "BackendNotFound", 3))}}, Rejected, "gw/eg: ResolvedRefs=False (BackendNotFound): msg BackendNotFound"},
		{"route not accepted", "HTTPRoute", map[string]any{"parents": []any{parent(cond("Accepted", "False", "NotAllowedByListeners", 3))}}, Rejected, "NotAllowedByListeners"},
		{"route without parents", "HTTPRoute", map[string]any{"parents": []any{}}, Pending, "no parent"},
		{"route stale", "HTTPRoute", map[string]any{"parents": []any{parent(cond("Accepted", "True", "Accepted", 2), cond("ResolvedRefs", "True", "ResolvedRefs", 2))}}, Pending, "older generation"},
		{"gateway programmed", "Gateway", map[string]any{"conditions": []any{cond("Accepted", "True", "Accepted", 3), cond("Programmed", "True", "Programmed", 3)}}, Accepted, ""},
		{"gateway not programmed yet", "Gateway", map[string]any{"conditions": []any{cond("Accepted", "True", "Accepted", 3), cond("Programmed", "Unknown", "Pending", 3)}}, Pending, "Programmed=Unknown"},
		{"gateway without an address yet", "Gateway", map[string]any{"conditions": []any{cond("Accepted", "True", "Accepted", 3), cond("Programmed", "False", "AddressNotAssigned", 3)}}, Pending, "Programmed=False (AddressNotAssigned)"},
		{"gateway without proxies yet", "Gateway", map[string]any{"conditions": []any{cond("Accepted", "True", "Accepted", 3), cond("Programmed", "False", "NoResources", 3)}}, Pending, "NoResources"},
		{"gateway address not usable", "Gateway", map[string]any{"conditions": []any{cond("Accepted", "True", "Accepted", 3), cond("Programmed", "False", "AddressNotUsable", 3)}}, Rejected, "AddressNotUsable"},
		{"route pending", "HTTPRoute", map[string]any{"parents": []any{parent(cond("Accepted", "False", "Pending", 3))}}, Pending, "Accepted=False (Pending)"},
		{"gateway without programmed", "Gateway", map[string]any{"conditions": []any{cond("Accepted", "True", "Accepted", 3)}}, Pending, "Programmed not reported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Of(object("gateway.networking.k8s.io/v1", c.kind, 3, c.status))
			if got.State != c.want || !strings.Contains(got.Reason, c.reason) {
				t.Errorf("Of = %+v, want %s with reason containing %q", got, c.want, c.reason)
			}
		})
	}
	policy := object("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy", 1, map[string]any{"ancestors": []any{
		map[string]any{"ancestorRef": map[string]any{"name": "eg"}, "conditions": []any{cond("Accepted", "False", "Invalid", 1)}},
	}})
	if got := Of(policy); got.State != Rejected || !got.Final {
		t.Errorf("rejected policy: %+v", got)
	}
}

// Envoy Gateway's descriptor asks an EnvoyPatchPolicy to be Programmed on
// every ancestor as well as Accepted: Accepted alone only says the patch
// API took it, not that its patches applied.
func TestPatchPolicyNeedsProgrammed(t *testing.T) {
	ancestor := func(conds ...any) map[string]any {
		return map[string]any{"ancestors": []any{map[string]any{"ancestorRef": map[string]any{"namespace": "eg", "name": "gw"}, "conditions": conds}}}
	}
	for _, c := range []struct {
		name   string
		status map[string]any
		want   State
		reason string
	}{
		{"accepted and programmed", ancestor(cond("Accepted", "True", "Accepted", 2), cond("Programmed", "True", "Programmed", 2)), Accepted, ""},
		{"accepted only", ancestor(cond("Accepted", "True", "Accepted", 2)), Pending, "eg/gw: Programmed not reported yet"},
		{"patch target missing", ancestor(cond("Accepted", "True", "Accepted", 2), cond("Programmed", "False", "ResourceNotFound", 2)), Rejected, "eg/gw: Programmed=False (ResourceNotFound)"},
		{"patch API disabled", ancestor(cond("Accepted", "False", "Disabled", 2)), Rejected, "eg/gw: Accepted=False (Disabled)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Of(object("gateway.envoyproxy.io/v1alpha1", "EnvoyPatchPolicy", 2, c.status))
			if got.State != c.want || !strings.Contains(got.Reason, c.reason) {
				t.Errorf("Of = %+v, want %s with reason containing %q", got, c.want, c.reason)
			}
		})
	}
	// Other policies need only Accepted.
	btp := object("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy", 2, ancestor(cond("Accepted", "True", "Accepted", 2)))
	if got := Of(btp); got.State != Accepted {
		t.Errorf("BackendTrafficPolicy accepted: %+v", got)
	}
}

func TestExpects(t *testing.T) {
	yes := []schema.GroupKind{{Group: "gloo.solo.io", Kind: "Upstream"}, {Group: "gateway.solo.io", Kind: "VirtualService"},
		{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"}, {Group: "gateway.envoyproxy.io", Kind: "BackendTrafficPolicy"}}
	no := []schema.GroupKind{{Kind: "Secret"}, {Group: "gateway.networking.k8s.io", Kind: "ReferenceGrant"}, {Group: "gateway.envoyproxy.io", Kind: "HTTPRouteFilter"}}
	for _, gk := range yes {
		if !Expects(gk) {
			t.Errorf("Expects(%s) = false", gk)
		}
	}
	for _, gk := range no {
		if Expects(gk) {
			t.Errorf("Expects(%s) = true", gk)
		}
		if got := Of(object(gk.WithVersion("v1").GroupVersion().String(), gk.Kind, 1, nil)); got.State != None {
			t.Errorf("Of(%s without status) = %+v, want None", gk, got)
		}
	}
}

// cert-manager's Certificate is judged by its Ready condition alone.
func TestCertificate(t *testing.T) {
	for _, c := range []struct {
		name   string
		status map[string]any
		want   State
	}{
		{"ready", map[string]any{"conditions": []any{cond("Ready", "True", "Ready", 1)}}, Accepted},
		{"not ready", map[string]any{"conditions": []any{cond("Ready", "False", "DoesNotExist", 1)}}, Rejected},
		{"issuing only", map[string]any{"conditions": []any{cond("Issuing", "True", "Issuing", 1)}}, Pending},
		{"no status", nil, Pending},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Of(object("cert-manager.io/v1", "Certificate", 1, c.status)); got.State != c.want {
				t.Fatalf("got %+v, want %s", got, c.want)
			}
		})
	}
}
