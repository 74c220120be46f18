package istio

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/provider"
)

// gatewayServes reports whether an Istio Gateway binds to the
// cluster's ingress gateway pods.
func gatewayServes(o *unstructured.Unstructured, gw provider.Gateway) bool {
	sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector")
	return o.GetNamespace() == gw.Namespace && len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(gw.Selector))
}

// countLoad counts, for check sizing, an istio cluster's proxy configuration: servers of the
// Gateways on its pods are listeners; the http rules of VirtualServices
// bound to those Gateways are routes (one per match); every destination
// host and port is an Envoy cluster, with a ServiceEntry's endpoints or
// the local Service's ready endpoints.
func countLoad(objs []*unstructured.Unstructured, gw provider.Gateway, endpointsOf provider.EndpointsFunc) provider.Load {
	var l provider.Load
	gateways := map[string]bool{}
	entries := map[string]int{} // host -> endpoints
	for _, o := range objs {
		switch o.GroupVersionKind().GroupKind() {
		case schema.GroupKind{Group: Group, Kind: "Gateway"}:
			if !gatewayServes(o, gw) {
				continue
			}
			gateways[o.GetNamespace()+"/"+o.GetName()] = true
			servers, _, _ := unstructured.NestedSlice(o.Object, "spec", "servers")
			for _, s := range servers {
				switch p, _, _ := unstructured.NestedString(s.(map[string]any), "port", "protocol"); p {
				case "HTTP", "HTTPS", "HTTP2", "GRPC":
					l.HTTPListeners++
				default:
					l.TCPListeners++
				}
			}
		case schema.GroupKind{Group: Group, Kind: "ServiceEntry"}:
			hosts, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "hosts")
			eps, _, _ := unstructured.NestedSlice(o.Object, "spec", "endpoints")
			for _, h := range hosts {
				entries[h] = max(1, len(eps))
			}
		}
	}
	destinations := map[string]bool{}
	for _, o := range objs {
		if o.GroupVersionKind().GroupKind() != (schema.GroupKind{Group: Group, Kind: "VirtualService"}) {
			continue
		}
		bound := false
		refs, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "gateways")
		for _, r := range refs {
			if !strings.Contains(r, "/") {
				r = o.GetNamespace() + "/" + r
			}
			bound = bound || gateways[r]
		}
		if !bound {
			continue
		}
		for _, section := range []string{"http", "tcp"} {
			rules, _, _ := unstructured.NestedSlice(o.Object, "spec", section)
			for _, r := range rules {
				rm, _ := r.(map[string]any)
				matches, _ := rm["match"].([]any)
				l.Routes += max(1, len(matches))
				var dests []any
				routes, _ := rm["route"].([]any)
				dests = append(dests, routes...)
				mirrors, _ := rm["mirrors"].([]any)
				dests = append(dests, mirrors...)
				for _, d := range dests {
					host, _, _ := unstructured.NestedString(d.(map[string]any), "destination", "host")
					port, _, _ := unstructured.NestedInt64(d.(map[string]any), "destination", "port", "number")
					key := fmt.Sprintf("%s:%d", host, port)
					if host == "" || destinations[key] {
						continue
					}
					destinations[key] = true
					l.EnvoyClusters++
					if n, ok := entries[host]; ok {
						l.Endpoints += n
						continue
					}
					// <service>.<namespace>.svc.<domain>
					if parts := strings.SplitN(host, ".", 4); len(parts) == 4 && parts[2] == "svc" {
						l.Endpoints += endpointsOf(parts[1], parts[0], port)
						continue
					}
					l.Endpoints++
				}
			}
		}
	}
	return l
}
