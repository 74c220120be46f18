package envoygateway

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/status"
)

// countLoad counts an Envoy Gateway proxy's configuration for check sizing:
// the listeners of its Gateways, and an Envoy cluster per rule of the routes
// attached to them, with the rule's hosts and matches.
func countLoad(objs []*unstructured.Unstructured, gw provider.Gateway, endpointsOf provider.EndpointsFunc) provider.Load {
	var l provider.Load
	backends := map[string]int{}
	for _, o := range objs {
		if o.GetKind() == "Backend" {
			eps, _, _ := unstructured.NestedSlice(o.Object, "spec", "endpoints")
			backends[o.GetNamespace()+"/"+o.GetName()] = max(1, len(eps))
		}
	}
	for _, o := range objs {
		if o.GroupVersionKind().Group != groupGatewayAPI {
			continue
		}
		switch o.GetKind() {
		case "Gateway":
			if !gatewayServes(o, gw) {
				continue
			}
			listeners, _, _ := unstructured.NestedSlice(o.Object, "spec", "listeners")
			for _, li := range listeners {
				lm, _ := li.(map[string]any)
				switch lm["protocol"] {
				case "HTTP", "HTTPS":
					l.HTTPListeners++
				default:
					l.TCPListeners++
				}
			}
		case "HTTPRoute", "TLSRoute":
			if !routeAttached(o, gw) {
				continue
			}
			rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
			for _, r := range rules {
				rm, _ := r.(map[string]any)
				l.EnvoyClusters++
				l.Endpoints += ruleHosts(o.GetNamespace(), rm, backends, endpointsOf)
				matches, _ := rm["matches"].([]any)
				l.Routes += max(1, len(matches))
			}
		}
	}
	return l
}

// gatewayServes reports whether a Gateway API Gateway runs on the
// cluster's proxy: the cluster's Gateway itself, or one gatefed renders
// there (live objects of gatefed's are this cluster's: see liveConfig).
func gatewayServes(o *unstructured.Unstructured, gw provider.Gateway) bool {
	if o.GetNamespace() == gw.Namespace && o.GetName() == gw.Name {
		return true
	}
	return o.GetLabels()[render.LabelManagedBy] == render.ManagedByValue
}

// routeAttached reports whether a route's parentRefs name the cluster's
// Gateway, or the route is gatefed's for this cluster (see liveConfig) and
// so attaches to a Gateway gatefed renders in the gateway namespace.
func routeAttached(o *unstructured.Unstructured, gw provider.Gateway) bool {
	if o.GetLabels()[render.LabelManagedBy] == render.ManagedByValue {
		return true
	}
	refs, _, _ := unstructured.NestedSlice(o.Object, "spec", "parentRefs")
	for _, r := range refs {
		rm, _ := r.(map[string]any)
		ns, _ := rm["namespace"].(string)
		if ns == "" {
			ns = o.GetNamespace()
		}
		if rm["name"] == gw.Name && ns == gw.Namespace {
			return true
		}
	}
	return false
}

// ruleHosts counts a route rule's hosts: a Service's ready endpoints, a Backend's endpoints.
func ruleHosts(routeNs string, rule map[string]any, backends map[string]int, endpointsOf func(ns, name string, port int64) int) int {
	refs, _ := rule["backendRefs"].([]any)
	n := 0
	for _, r := range refs {
		rm, _ := r.(map[string]any)
		ns, _ := rm["namespace"].(string)
		if ns == "" {
			ns = routeNs
		}
		name, _ := rm["name"].(string)
		switch kind, _ := rm["kind"].(string); kind {
		case "", "Service":
			port, _ := status.Int64(rm["port"])
			n += endpointsOf(ns, name, port)
		case "Backend":
			if b, ok := backends[ns+"/"+name]; ok {
				n += b
			} else {
				n++
			}
		default:
			n++
		}
	}
	return max(n, 1)
}
