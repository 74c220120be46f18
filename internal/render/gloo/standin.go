package gloo

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/provider"
)

var serviceKind = provider.Kind{Version: "v1", Kind: "Service", Resource: "services"}

// standIn is a running Gloo Edge Enterprise install (failover on Gloo is
// Enterprise's: its image is gloo-ee) whose proxy Service exposes the
// failover port, as Gloo's Helm values
// (gatewayProxies.<name>.service.extraPorts) would, and Gloo accepts what
// gatefed renders.
func standIn(gw provider.Gateway, failoverPort int32) provider.StandIn {
	port := func(name string, port, target int32) map[string]any {
		return map[string]any{"name": name, "port": int64(port), "targetPort": int64(target), "protocol": "TCP"}
	}
	proxyService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"namespace": gw.Namespace, "name": gw.Name, "labels": map[string]any{"gloo": "gateway-proxy"}},
		"spec": map[string]any{
			"type":     "LoadBalancer",
			"selector": map[string]any{"app": gw.Name},
			"ports":    []any{port("http", 80, 8080), port("https", 443, 8443), port("failover", failoverPort, failoverPort)},
		},
	}}
	return provider.StandIn{
		Deployments: []provider.StandInDeployment{
			{Name: ControllerDeployment, Container: "gloo", Image: "quay.io/solo-io/gloo-ee:" + NewestVersion + ".0"},
			{Name: gw.Name, Replicas: 2, Container: "gateway-proxy"},
		},
		Objects: []provider.StandInObject{{Kind: serviceKind, Object: proxyService}},
		Accepts: []provider.Acceptance{
			{Kind: upstreamKind, Status: acceptedStatus},
			{Kind: virtualServiceKind, Status: acceptedStatus},
			{Kind: gatewayKind, Status: acceptedStatus},
		},
	}
}
