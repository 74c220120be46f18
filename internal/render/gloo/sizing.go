package gloo

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/status"
)

// countLoad counts a Gloo proxy's configuration for check sizing: an Envoy
// cluster per Upstream with its hosts, the VirtualServices' routes, and a
// listener per Gateway of the proxy.
func countLoad(objs []*unstructured.Unstructured, gw provider.Gateway, endpointsOf provider.EndpointsFunc) provider.Load {
	var l provider.Load
	for _, o := range objs {
		switch o.GroupVersionKind().GroupKind() {
		case upstreamKind.GroupKind():
			l.EnvoyClusters++
			l.Endpoints += upstreamHosts(o, endpointsOf)
		case virtualServiceKind.GroupKind():
			routes, _, _ := unstructured.NestedSlice(o.Object, "spec", "virtualHost", "routes")
			l.Routes += len(routes)
		case gatewayKind.GroupKind():
			if !gatewayServes(o, gw.Name) {
				continue
			}
			if _, tcp, _ := unstructured.NestedMap(o.Object, "spec", "tcpGateway"); tcp {
				l.TCPListeners++
			} else {
				l.HTTPListeners++
			}
		}
	}
	return l
}

// upstreamHosts counts an Upstream's hosts: a kube Upstream's ready
// endpoints, static hosts, and the endpoints of every failover priority.
func upstreamHosts(o *unstructured.Unstructured, endpointsOf func(ns, name string, port int64) int) int {
	n := 0
	if kube, ok, _ := unstructured.NestedMap(o.Object, "spec", "kube"); ok {
		name, _ := kube["serviceName"].(string)
		ns, _ := kube["serviceNamespace"].(string)
		port, _ := status.Int64(kube["servicePort"])
		n += endpointsOf(ns, name, port)
	}
	hosts, _, _ := unstructured.NestedSlice(o.Object, "spec", "static", "hosts")
	n += len(hosts)
	prios, _, _ := unstructured.NestedSlice(o.Object, "spec", "failover", "prioritizedLocalities")
	for _, p := range prios {
		pm, _ := p.(map[string]any)
		les, _ := pm["localityEndpoints"].([]any)
		for _, le := range les {
			lem, _ := le.(map[string]any)
			lbs, _ := lem["lbEndpoints"].([]any)
			n += len(lbs)
		}
	}
	return max(n, 1)
}

// gatewayServes reports whether a Gloo Gateway configures the named proxy
// (no proxyNames means the default proxy, gateway-proxy).
func gatewayServes(o *unstructured.Unstructured, proxy string) bool {
	names, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "proxyNames")
	if len(names) == 0 {
		return proxy == "gateway-proxy"
	}
	for _, n := range names {
		if n == proxy {
			return true
		}
	}
	return false
}
