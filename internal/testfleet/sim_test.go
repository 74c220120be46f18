package testfleet

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
)

func get(t *testing.T, s *Sim, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	obj, err := s.Dynamic.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func field(t *testing.T, obj *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(obj.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s %s: no field %v (%v) in %v", obj.GetKind(), obj.GetName(), path, err, obj.Object["status"])
	}
	return v
}

func TestSimServiceWritesEndpointSlices(t *testing.T) {
	ctx := context.Background()
	s := shared.Clusters[0].Sim()
	ns := "sim-svc" // created by the helper
	if err := s.Service(ctx, localfleet.Service{Namespace: ns, Name: "checkout", Port: 9090, Ready: 2, NotReady: 1}); err != nil {
		t.Fatal(err)
	}
	svc, err := s.Kube.CoreV1().Services(ns).Get(ctx, "checkout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := svc.Spec.Ports[0]; p.Port != 9090 || p.Name != "http" {
		t.Errorf("service port %+v", p)
	}
	count := func() (ready, notReady int) {
		slices, err := s.Kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=checkout"})
		if err != nil {
			t.Fatal(err)
		}
		if len(slices.Items) != 1 {
			t.Fatalf("%d endpoint slices", len(slices.Items))
		}
		for _, e := range slices.Items[0].Endpoints {
			if *e.Conditions.Ready {
				ready++
			} else {
				notReady++
			}
		}
		return
	}
	if r, n := count(); r != 2 || n != 1 {
		t.Errorf("ready %d not ready %d, want 2 and 1", r, n)
	}
	// Calling it again replaces the endpoints: the service loses all ready ones.
	if err := s.Service(ctx, localfleet.Service{Namespace: ns, Name: "checkout", Port: 9090, NotReady: 2}); err != nil {
		t.Fatal(err)
	}
	if r, n := count(); r != 0 || n != 2 {
		t.Errorf("after update: ready %d not ready %d, want 0 and 2", r, n)
	}
}

func TestSimDeploymentStatus(t *testing.T) {
	ctx := context.Background()
	s := shared.Clusters[1].Sim()
	ns := shared.Namespace(t, "sim-deploy")
	available := func() (corev1.ConditionStatus, int32) {
		d, err := s.Kube.AppsV1().Deployments(ns).Get(ctx, "gloo", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable {
				return c.Status, d.Status.AvailableReplicas
			}
		}
		t.Fatalf("no Available condition: %+v", d.Status)
		return "", 0
	}
	if err := s.Deployment(ctx, localfleet.Deployment{Namespace: ns, Name: "gloo", Replicas: 2, Available: false}); err != nil {
		t.Fatal(err)
	}
	if st, n := available(); st != corev1.ConditionFalse || n != 0 {
		t.Errorf("Available %s with %d replicas, want False with 0", st, n)
	}
	if err := s.Deployment(ctx, localfleet.Deployment{Namespace: ns, Name: "gloo", Available: true}); err != nil {
		t.Fatal(err)
	}
	if st, n := available(); st != corev1.ConditionTrue || n != 2 {
		t.Errorf("Available %s with %d replicas, want localfleet.True with 2", st, n)
	}
}

func TestSimGlooStatusForms(t *testing.T) {
	ctx := context.Background()
	c := shared.Clusters[2]
	s := c.Sim()
	ns := shared.Namespace(t, "sim-gloo")
	dyn, _ := c.Dynamic()
	for _, name := range []string{"numeric", "text", "flat"} {
		obj := `
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: ` + name + `}
spec:
  kube: {serviceName: checkout, serviceNamespace: shop, servicePort: 8080}
`
		if err := strictApply(ctx, dyn, UpstreamGVR, ns, obj); err != nil {
			t.Fatal(err)
		}
	}

	if err := s.GlooStatus(ctx, UpstreamGVR, ns, "numeric", GlooStatus{State: gloo.StateRejected, Reason: "port 8080 not found"}); err != nil {
		t.Fatal(err)
	}
	if err := s.GlooStatus(ctx, UpstreamGVR, ns, "numeric", GlooStatus{State: gloo.StateAccepted, Namespace: "gloo-east"}); err != nil {
		t.Fatal(err)
	}
	u := get(t, s, UpstreamGVR, ns, "numeric")
	if got := field(t, u, "status", "statuses", "gloo-system", "state"); got != int64(2) {
		t.Errorf("gloo-system state %v (%T), want 2", got, got)
	}
	if got := field(t, u, "status", "statuses", "gloo-system", "reason"); got != "port 8080 not found" {
		t.Errorf("reason %v", got)
	}
	if got := field(t, u, "status", "statuses", "gloo-east", "state"); got != int64(1) {
		t.Errorf("gloo-east state %v, want 1 (statuses of other namespaces kept)", got)
	}

	if err := s.GlooStatus(ctx, UpstreamGVR, ns, "text", GlooStatus{State: gloo.StateWarning, StateAsString: true, Reason: "deprecated field"}); err != nil {
		t.Fatal(err)
	}
	if got := field(t, get(t, s, UpstreamGVR, ns, "text"), "status", "statuses", "gloo-system", "state"); got != "Warning" {
		t.Errorf("string state %v", got)
	}

	if err := s.GlooStatus(ctx, UpstreamGVR, ns, "flat", GlooStatus{State: gloo.StatePending, Flat: true}); err != nil {
		t.Fatal(err)
	}
	if got := field(t, get(t, s, UpstreamGVR, ns, "flat"), "status", "state"); got != int64(0) {
		t.Errorf("flat state %v", got)
	}

	// A later apply of the spec by gatefed leaves Gloo's status alone.
	again := `
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: numeric}
spec:
  kube: {serviceName: checkout, serviceNamespace: shop, servicePort: 9090}
`
	if err := strictApply(ctx, dyn, UpstreamGVR, ns, again); err != nil {
		t.Fatal(err)
	}
	if got := field(t, get(t, s, UpstreamGVR, ns, "numeric"), "status", "statuses", "gloo-system", "state"); got != int64(2) {
		t.Errorf("state after re-apply %v, want 2", got)
	}
}

func conditionStatus(t *testing.T, conds any, typ string) string {
	t.Helper()
	list, _ := conds.([]any)
	for _, c := range list {
		m := c.(map[string]any)
		if m["type"] == typ {
			return m["status"].(string)
		}
	}
	return "absent"
}

func TestSimGatewayAPIConditions(t *testing.T) {
	ctx := context.Background()
	c := shared.Clusters[0]
	s := c.Sim()
	dyn, _ := c.Dynamic()
	ns := shared.Namespace(t, "sim-gwapi")
	objects := []struct {
		gvr      schema.GroupVersionResource
		ns       string
		manifest string
	}{
		{GatewayClassGVR, "", `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: sim-eg}
spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
`},
		{GatewayGVR, ns, `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: sim-eg
  listeners: [{name: http, port: 80, protocol: HTTP}]
`},
		{HTTPRouteGVR, ns, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: checkout, port: 8080}]}]
`},
		{TLSRouteGVR, ns, `
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: failover}
spec:
  parentRefs: [{name: edge}]
  hostnames: [checkout-8080.shop.failover.gatefed.internal]
  rules: [{backendRefs: [{name: checkout, port: 8080}]}]
`},
		{BackendGVR, ns, `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: west}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: 15443}}]
`},
		{BackendTrafficPolicyGVR, ns, `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: shop}]
`},
	}
	for _, o := range objects {
		if err := strictApply(ctx, dyn, o.gvr, o.ns, o.manifest); err != nil {
			t.Fatalf("apply %s: %v", o.gvr.Resource, err)
		}
	}

	if err := s.Conditions(ctx, GatewayClassGVR, "", "sim-eg", localfleet.True("Accepted", "")); err != nil {
		t.Fatal(err)
	}
	if got := conditionStatus(t, field(t, get(t, s, GatewayClassGVR, "", "sim-eg"), "status", "conditions"), "Accepted"); got != "True" {
		t.Errorf("GatewayClass Accepted %s", got)
	}

	if err := s.Conditions(ctx, GatewayGVR, ns, "edge", localfleet.True("Accepted", ""), False("Programmed", "AddressNotAssigned", "no address yet")); err != nil {
		t.Fatal(err)
	}
	if err := s.Conditions(ctx, GatewayGVR, ns, "edge", localfleet.True("Programmed", "")); err != nil {
		t.Fatal(err)
	}
	gw := field(t, get(t, s, GatewayGVR, ns, "edge"), "status", "conditions")
	if a, p := conditionStatus(t, gw, "Accepted"), conditionStatus(t, gw, "Programmed"); a != "True" || p != "True" {
		t.Errorf("Gateway Accepted %s Programmed %s, want localfleet.True localfleet.True", a, p)
	}

	for _, gvr := range []schema.GroupVersionResource{HTTPRouteGVR, TLSRouteGVR} {
		name := map[schema.GroupVersionResource]string{HTTPRouteGVR: "shop", TLSRouteGVR: "failover"}[gvr]
		if err := s.RouteStatus(ctx, gvr, ns, name,
			localfleet.ParentStatus{ControllerName: envoygateway.ControllerName, Gateway: "edge", Conditions: []localfleet.Condition{localfleet.True("Accepted", ""), False("ResolvedRefs", "BackendNotFound", "service checkout not found")}},
			localfleet.ParentStatus{Gateway: "other/edge", ControllerName: "example.com/other-controller", Conditions: []localfleet.Condition{localfleet.True("Accepted", "")}},
		); err != nil {
			t.Fatalf("%s: %v", gvr.Resource, err)
		}
		// Updating one parent keeps the other.
		if err := s.RouteStatus(ctx, gvr, ns, name, localfleet.ParentStatus{ControllerName: envoygateway.ControllerName, Gateway: "edge", Conditions: []localfleet.Condition{localfleet.True("ResolvedRefs", "")}}); err != nil {
			t.Fatal(err)
		}
		parents := field(t, get(t, s, gvr, ns, name), "status", "parents").([]any)
		if len(parents) != 2 {
			t.Fatalf("%s: %d parents, want 2", gvr.Resource, len(parents))
		}
		first := parents[0].(map[string]any)
		if first["controllerName"] != envoygateway.ControllerName || first["parentRef"].(map[string]any)["namespace"] != ns {
			t.Errorf("%s parent %v", gvr.Resource, first)
		}
		if a, r := conditionStatus(t, first["conditions"], "Accepted"), conditionStatus(t, first["conditions"], "ResolvedRefs"); a != "True" || r != "True" {
			t.Errorf("%s: Accepted %s ResolvedRefs %s, want localfleet.True localfleet.True", gvr.Resource, a, r)
		}
	}

	if err := s.Conditions(ctx, BackendGVR, ns, "west", False("Accepted", "Invalid", "bad endpoint")); err != nil {
		t.Fatal(err)
	}
	if got := conditionStatus(t, field(t, get(t, s, BackendGVR, ns, "west"), "status", "conditions"), "Accepted"); got != "False" {
		t.Errorf("Backend Accepted %s", got)
	}

	if err := s.PolicyStatus(ctx, BackendTrafficPolicyGVR, ns, "shop", localfleet.ParentStatus{ControllerName: envoygateway.ControllerName, Gateway: "edge", Conditions: []localfleet.Condition{localfleet.True("Accepted", "")}}); err != nil {
		t.Fatal(err)
	}
	anc := field(t, get(t, s, BackendTrafficPolicyGVR, ns, "shop"), "status", "ancestors").([]any)
	if len(anc) != 1 || conditionStatus(t, anc[0].(map[string]any)["conditions"], "Accepted") != "True" {
		t.Errorf("policy ancestors %v", anc)
	}
	err := s.PolicyStatus(ctx, BackendTrafficPolicyGVR, ns, "shop", localfleet.ParentStatus{Gateway: "edge"})
	if err == nil || !strings.Contains(err.Error(), "no controller name") {
		t.Errorf("a parent without a controller name: %v, want an error", err)
	}

	// A status body merges through the status subresource of a kind that
	// has one (the object itself would ignore it).
	accepted := map[string]any{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
		"lastTransitionTime": "2026-01-02T03:04:05Z"}
	if err := s.MergeStatus(ctx, BackendGVR, ns, "west", map[string]any{"conditions": []any{accepted}}); err != nil {
		t.Fatal(err)
	}
	if got := conditionStatus(t, field(t, get(t, s, BackendGVR, ns, "west"), "status", "conditions"), "Accepted"); got != "True" {
		t.Errorf("Backend Accepted %s after merging True", got)
	}
	if err := s.MergeStatus(ctx, BackendGVR, ns, "absent", map[string]any{}); err == nil {
		t.Error("merging the status of an absent object: no error")
	}
}
