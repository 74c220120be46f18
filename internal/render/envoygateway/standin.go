package envoygateway

import (
	"fmt"
	"net"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/provider"
)

// ControllerName is the controllerName of Envoy Gateway's GatewayClasses.
const ControllerName = "gateway.envoyproxy.io/gatewayclass-controller"

// standIn is a running Envoy Gateway: its controller, the proxy of the
// cluster's Gateway (named and labelled as the controller names it), and
// the GatewayClass and Gateway the install holds, Accepted and Programmed;
// and the controller accepts what gatefed renders, but a Backend at a
// loopback address.
func standIn(gw provider.Gateway, _ int32) provider.StandIn {
	class := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": gw.ClassName},
		"spec":     map[string]any{"controllerName": ControllerName},
	}}
	listener := map[string]any{"name": "http", "port": int64(80), "protocol": "HTTP",
		"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "All"}}}
	gateway := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": gw.Name, "namespace": gw.Namespace},
		"spec":     map[string]any{"gatewayClassName": gw.ClassName, "listeners": []any{listener}},
	}}
	return provider.StandIn{
		Deployments: []provider.StandInDeployment{
			{Name: "envoy-gateway", Container: "envoy-gateway"},
			{Name: "envoy-" + gw.Namespace + "-" + gw.Name, Replicas: 2, Container: "envoy",
				Labels: map[string]string{OwningGatewayNameLabel: gw.Name, OwningGatewayNamespaceLabel: gw.Namespace}},
		},
		Objects: []provider.StandInObject{{Kind: gatewayClassKind, Object: class}, {Kind: gatewayKind, Object: gateway}},
		Conditions: []provider.StandInConditions{
			{Kind: gatewayClassKind, Name: gw.ClassName, Types: []string{"Accepted"}},
			{Kind: gatewayKind, Namespace: gw.Namespace, Name: gw.Name, Types: []string{"Accepted", "Programmed"}},
		},
		Accepts: []provider.Acceptance{
			{Kind: gatewayKind, Style: provider.StyleConditions, Conditions: []string{"Accepted", "Programmed"}},
			{Kind: backendKind, Style: provider.StyleConditions, Conditions: []string{"Accepted"}, Refuses: loopbackBackend},
			{Kind: httpRouteKind, Style: provider.StyleRouteParents},
			{Kind: tlsRouteKind, Style: provider.StyleRouteParents},
			{Kind: trafficPolicyKind, Style: provider.StylePolicyAncestors},
			{Kind: clientPolicyKind, Style: provider.StylePolicyAncestors},
		},
		Controller: ControllerName,
	}
}

// loopbackBackend is why Envoy Gateway's controller refuses a Backend, in
// its words, when an endpoint is at a loopback address (outside its Host
// infrastructure), or "".
func loopbackBackend(backend *unstructured.Unstructured) string {
	endpoints, _, _ := unstructured.NestedSlice(backend.Object, "spec", "endpoints")
	for _, e := range endpoints {
		m, _ := e.(map[string]any)
		addr, _, _ := unstructured.NestedString(m, "ip", "address")
		if ip := net.ParseIP(addr); ip != nil && ip.IsLoopback() {
			return fmt.Sprintf("IP address %s in the loopback range is only supported when using the Host infrastructure", addr)
		}
	}
	return ""
}
