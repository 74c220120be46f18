package testfleet

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/localfleet"
)

// The real Envoy Gateway controller runs against a test cluster and accepts
// a GatewayClass, a Gateway and an HTTPRoute to a Backend: the statuses are
// the controller's own.
func TestEnvoyGatewayControllerWritesStatuses(t *testing.T) {
	c := shared.Clusters[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // includes waiting for the one controller per machine
	defer cancel()
	eg, err := c.StartEnvoyGateway(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := eg.Stop(); err != nil {
			t.Error(err)
		}
	}()
	dyn, err := c.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	ns := EnvoyGatewayNamespace
	if err := c.Sim().EnvoyGatewayParents(ctx, "eg-status-test", ns, "status-test"); err != nil {
		t.Fatal(err)
	}
	docs := []string{`
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: status-test, namespace: envoy-gateway-system}
spec:
  endpoints: [{fqdn: {hostname: backend.example.net, port: 8080}}]`, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: status-test, namespace: envoy-gateway-system}
spec:
  parentRefs: [{name: status-test}]
  hostnames: [status.example.com]
  rules:
  - backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: status-test}]`}
	gvr := map[string]schema.GroupVersionResource{
		"GatewayClass": GatewayClassGVR, "Gateway": GatewayGVR, "HTTPRoute": HTTPRouteGVR, "Backend": BackendGVR,
	}
	for _, d := range docs {
		var o unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(d), &o.Object); err != nil {
			t.Fatal(err)
		}
		if _, err := dyn.Resource(gvr[o.GetKind()]).Namespace(o.GetNamespace()).Create(ctx, &o, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", o.GetKind(), err)
		}
	}
	accepted := func(kind, name string, path ...string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		var last any
		for time.Now().Before(deadline) {
			r := dyn.Resource(gvr[kind])
			var o *unstructured.Unstructured
			if kind == "GatewayClass" {
				o, err = r.Get(ctx, name, metav1.GetOptions{})
			} else {
				o, err = r.Namespace(ns).Get(ctx, name, metav1.GetOptions{})
			}
			if err == nil {
				conds, _, _ := unstructured.NestedSlice(o.Object, path...)
				last = conds
				for _, c := range conds {
					m, _ := c.(map[string]any)
					if m["type"] == "Accepted" && m["status"] == "True" {
						return
					}
				}
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Errorf("%s %s: not Accepted by the controller; conditions %v\nlog: %s", kind, name, last, localfleet.TailFile(eg.LogPath, 20))
	}
	accepted("GatewayClass", "eg-status-test", "status", "conditions")
	// With its proxy made available and given an address, the Gateway is Programmed.
	if n, err := c.Sim().ProxyInfra(ctx, "127.0.0.1", ns+"/status-test"); err != nil || n == 0 {
		t.Fatalf("proxy infrastructure: %d proxies, %v", n, err)
	}
	programmed := time.Now().Add(2 * time.Minute)
	for {
		o, err := dyn.Resource(gvr["Gateway"]).Namespace(ns).Get(ctx, "status-test", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
		ok := false
		for _, c := range conds {
			m := c.(map[string]any)
			ok = ok || m["type"] == "Programmed" && m["status"] == "True"
		}
		if ok {
			break
		}
		if time.Now().After(programmed) {
			t.Fatalf("Gateway not Programmed: %v", conds)
		}
		time.Sleep(500 * time.Millisecond)
	}
	accepted("Backend", "status-test", "status", "conditions")
	// The Envoy configuration it serves the Gateway's proxy holds the route's cluster.
	cfg, err := eg.EnvoyConfig(ctx, ns, "status-test")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, cl := range cfg["clusters"] {
		found = found || cl["name"] == "httproute/envoy-gateway-system/status-test/rule/0"
	}
	if !found {
		t.Errorf("no cluster for the HTTPRoute's rule among %d clusters: %v", len(cfg["clusters"]), cfg["clusters"])
	}
	// An HTTPRoute's conditions are per parent; the first parent is the Gateway.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		o, err := dyn.Resource(gvr["HTTPRoute"]).Namespace(ns).Get(ctx, "status-test", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		parents, _, _ := unstructured.NestedSlice(o.Object, "status", "parents")
		if len(parents) > 0 {
			p := parents[0].(map[string]any)
			if p["controllerName"] != "gateway.envoyproxy.io/gatewayclass-controller" {
				t.Errorf("HTTPRoute status written by %v", p["controllerName"])
			}
			conds, _ := p["conditions"].([]any)
			want := map[string]bool{"Accepted": false, "ResolvedRefs": false}
			for _, c := range conds {
				m := c.(map[string]any)
				if _, ok := want[m["type"].(string)]; ok && m["status"] == "True" {
					want[m["type"].(string)] = true
				}
			}
			if want["Accepted"] && want["ResolvedRefs"] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("HTTPRoute conditions %v", conds)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("the controller wrote no HTTPRoute status\nlog: %s", localfleet.TailFile(eg.LogPath, 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
