package envoygateway

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/provider"
)

// Name is the provider's name in spec.gateway.provider.
const Name = "envoy-gateway"

// API groups of the Gateway API and of Envoy Gateway.
const (
	groupGatewayAPI   = "gateway.networking.k8s.io"
	groupGatewayAPIX  = "gateway.networking.x-k8s.io"
	groupEnvoyGateway = "gateway.envoyproxy.io"
)

// Labels Envoy Gateway puts on the Deployment and Service of a Gateway, and
// the namespace its controller creates them in by default.
const (
	OwningGatewayNameLabel      = "gateway.envoyproxy.io/owning-gateway-name"
	OwningGatewayNamespaceLabel = "gateway.envoyproxy.io/owning-gateway-namespace"
	ControllerNamespace         = "envoy-gateway-system"
)

func gatewayAPIKind(kind, resource string, rank int) provider.Kind {
	return provider.Kind{Group: groupGatewayAPI, Version: "v1", Kind: kind, Resource: resource, Rank: rank}
}

func egKind(kind, resource string, rank int) provider.Kind {
	return provider.Kind{Group: groupEnvoyGateway, Version: "v1alpha1", Kind: kind, Resource: resource, Rank: rank}
}

var (
	gatewayClassKind   = gatewayAPIKind("GatewayClass", "gatewayclasses", 0)
	gatewayKind        = gatewayAPIKind("Gateway", "gateways", 4)
	httpRouteKind      = gatewayAPIKind("HTTPRoute", "httproutes", 6)
	tlsRouteKind       = gatewayAPIKind("TLSRoute", "tlsroutes", 6)
	listenerSetKind    = gatewayAPIKind("ListenerSet", "listenersets", 5)
	referenceGrantKind = provider.Kind{Group: groupGatewayAPI, Version: "v1", Kind: "ReferenceGrant", Resource: "referencegrants", Rank: 1, InServiceNamespaces: true}
	backendKind        = egKind("Backend", "backends", 2)
	trafficPolicyKind  = egKind("BackendTrafficPolicy", "backendtrafficpolicies", 3)
	clientPolicyKind   = egKind("ClientTrafficPolicy", "clienttrafficpolicies", 3)
	extensionKind      = egKind("EnvoyExtensionPolicy", "envoyextensionpolicies", 3)
	routeFilterKind    = egKind("HTTPRouteFilter", "httproutefilters", 2)
	// The tiers' patch policy patches the clusters of the HTTPRoutes' rules.
	patchPolicyKind = egKind("EnvoyPatchPolicy", "envoypatchpolicies", 7)
)

// Descriptor is what gatefed knows about Envoy Gateway.
var Descriptor = &provider.Descriptor{
	Name:  Name,
	Title: "Envoy Gateway",
	Defaults: provider.Defaults{
		Namespace:   "envoy-gateway-system",
		GatewayName: "eg",
		ClassName:   "eg",
	},
	Options: provider.Options{
		StrictTiers: &provider.StrictTiers{
			Object: "an EnvoyPatchPolicy",
			Setting: provider.ConfigSetting{
				Namespace: ControllerNamespace, ConfigMap: ConfigMapName, Key: ConfigMapKey,
				What:    "extensionApis.enableEnvoyPatchPolicy",
				Enabled: PatchPolicyEnabled,
				Hint:    "set extensionApis.enableEnvoyPatchPolicy: true in Envoy Gateway's configuration (helm upgrade eg oci://docker.io/envoyproxy/gateway-helm -n envoy-gateway-system --reuse-values --set config.envoyGateway.extensionApis.enableEnvoyPatchPolicy=true), or drop spec.gateway.strictTiers",
			},
		},
	},
	CRDs: []provider.Kind{
		gatewayClassKind, gatewayKind, httpRouteKind, tlsRouteKind, referenceGrantKind,
		backendKind, trafficPolicyKind, clientPolicyKind, extensionKind,
	},
	Kinds: []provider.Kind{
		httpRouteKind, tlsRouteKind, gatewayKind, listenerSetKind, referenceGrantKind,
		backendKind, trafficPolicyKind, clientPolicyKind, extensionKind, routeFilterKind, patchPolicyKind,
	},
	StatusKinds: statusKinds(),
	// A Gateway is ready once Programmed; a patch policy once its patches
	// applied to the xDS it patches (Programmed on each ancestor).
	StatusConditions: map[schema.GroupKind][]string{
		{Group: groupGatewayAPI, Kind: "Gateway"}:              {"Accepted", "Programmed"},
		{Group: groupGatewayAPIX, Kind: "Gateway"}:             {"Accepted", "Programmed"},
		{Group: groupEnvoyGateway, Kind: patchPolicyKind.Kind}: {"Accepted", "Programmed"},
	},
	PendingHints: map[schema.GroupKind]func(namespace, name string) string{
		{Group: groupEnvoyGateway, Kind: patchPolicyKind.Kind}: patchPolicyPendingHint,
	},
	Install: provider.Install{
		Hint:         "install Envoy Gateway, which installs the Gateway API and Envoy Gateway CRDs: helm install eg oci://docker.io/envoyproxy/gateway-helm --namespace envoy-gateway-system --create-namespace; TLSRoute needs the Gateway API experimental channel (kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/<version>/experimental-install.yaml)",
		CRDManifests: provider.Subdir(crdFiles, "crds"),
		Verdicts: []provider.Verdict{
			{Kind: gatewayClassKind, Of: provider.ObjectClass, Condition: "Accepted",
				Hint: "check the Envoy Gateway controller's logs and that the GatewayClass's spec.controllerName is " + ControllerName + "; if the class's Gateways are Programmed, the controller lost the class's status on its first reconcile (Envoy Gateway v1.9): kubectl rollout restart deployment/envoy-gateway -n envoy-gateway-system"},
			{Kind: gatewayKind, Of: provider.ObjectGateway, Condition: "Programmed",
				Hint: "describe the Gateway (kubectl describe gateway) and check that its class is accepted and its listeners are valid"},
		},
		StandIn: standIn,
	},
	Limits: provider.Limits{
		PercentInDirectResponse: "reads %...% in a direct response body as a command operator: leave out %",
		PrefixReplacePerMethod: func(methods int) string {
			return fmt.Sprintf("replaces a prefix only for a rule with exactly one match, and this rule has one per method (%d): give each method its own rule", methods)
		},
		RouteWasm: true,
		Route:     &routeLimits,
	},
	Failover: provider.Failover{
		Discovery:           provider.DiscoverByPortName,
		ServiceNamespaces:   []string{ControllerNamespace},
		OwnerNamespaceLabel: OwningGatewayNamespaceLabel,
		OwnerNameLabel:      OwningGatewayNameLabel,
		OwnedPortName:       "tls-15443",
		OwnedGateway:        FailoverGatewayName,
		PortCheck:           provider.PortRendered,
		AddressesOfOneKind:  true,
		HealthSignals:       healthSignals,
		SignalUse:           "either",
		// A Backend's tls.sni is also the name its certificate is checked for.
		SourceChecksName: true,
		SharedFallback:   true,
		// Its controller: "IP address 127.0.0.1 in the loopback range is
		// only supported when using the Host infrastructure".
		LoopbackRefused: "refuses a Backend with a loopback address unless it runs on the host",
	},
	Sizing: provider.Sizing{
		Kinds:          []provider.Kind{gatewayKind, httpRouteKind, tlsRouteKind, backendKind},
		Proxy:          provider.ProxyByOwnerLabels,
		Count:          countLoad,
		ProxyContainer: "envoy",
		ProxyHint:      "the proxy Deployment carries label gateway.envoyproxy.io/owning-gateway-name",
	},
}

// patchPolicyPendingHint: the controller (v1.9) publishes a patch policy's
// status from the translation of its Gateway and withdraws it, before it is
// written, when another Gateway's translation follows at once.
func patchPolicyPendingHint(namespace, name string) string {
	return "Envoy Gateway v1.9 can drop a patch policy's status when it translates another Gateway at the same moment, and its patches may be in effect all the same; " +
		"to have the status written, delete the policy and apply again (kubectl delete envoypatchpolicy " + name + " -n " + namespace + "; strict tiers are off until the apply), " +
		"or restart the controller, which can drop it again (kubectl rollout restart deployment/envoy-gateway -n " + ControllerNamespace + ")"
}

// statusKinds are the Gateway API and Envoy Gateway kinds whose status a
// controller writes.
func statusKinds() []schema.GroupKind {
	var out []schema.GroupKind
	for _, g := range []string{groupGatewayAPI, groupGatewayAPIX} {
		for _, k := range strings.Fields("Gateway HTTPRoute GRPCRoute TLSRoute TCPRoute UDPRoute BackendTLSPolicy ListenerSet XListenerSet") {
			out = append(out, schema.GroupKind{Group: g, Kind: k})
		}
	}
	for _, k := range strings.Fields("Backend BackendTrafficPolicy ClientTrafficPolicy SecurityPolicy EnvoyExtensionPolicy EnvoyPatchPolicy") {
		out = append(out, schema.GroupKind{Group: groupEnvoyGateway, Kind: k})
	}
	return out
}
