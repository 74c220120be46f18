package gloo

import (
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/provider"
)

// Name is the provider's name in spec.gateway.provider.
const Name = "gloo"

// API groups of Gloo Edge.
const (
	groupGloo    = "gloo.solo.io"
	groupGateway = "gateway.solo.io"
)

var (
	upstreamKind       = provider.Kind{Group: groupGloo, Version: "v1", Kind: "Upstream", Resource: "upstreams", Rank: 2}
	virtualServiceKind = provider.Kind{Group: groupGateway, Version: "v1", Kind: "VirtualService", Resource: "virtualservices", Rank: 6}
	gatewayKind        = provider.Kind{Group: groupGateway, Version: "v1", Kind: "Gateway", Resource: "gateways", Rank: 4}
)

// Descriptor is what gatefed knows about Gloo Edge.
var Descriptor = &provider.Descriptor{
	Name:  Name,
	Title: "Gloo",
	Defaults: provider.Defaults{
		Namespace:   "gloo-system",
		GatewayName: "gateway-proxy",
	},
	Options:     provider.Options{IPFamilies: true, Version: CheckVersion, VersionDeployment: ControllerDeployment},
	CRDs:        []provider.Kind{upstreamKind, virtualServiceKind, gatewayKind},
	Kinds:       []provider.Kind{upstreamKind, virtualServiceKind, gatewayKind},
	StatusKinds: statusKinds(),
	ReadStatus:  readStatus,
	Install: provider.Install{
		Hint:         "install Gloo Edge in the cluster, which installs its CRDs: helm install gloo gloo/gloo --namespace gloo-system --create-namespace (chart repo https://storage.googleapis.com/solo-public-helm)",
		CRDManifests: provider.Subdir(crdFiles, "crds"),
		Deployments: []provider.Deployment{
			{Name: ControllerDeployment, What: "Gloo's control plane"},
			{What: "the gateway proxy"},
		},
		StandIn: standIn,
	},
	Limits: provider.Limits{
		HTTPRedirect: "redirects only to https",
		NoRouteWasm:  "WebAssembly filters are a Gloo Edge Enterprise feature, and Gloo attaches them to a whole listener (Gateway httpGateway.options.wasm), not to one route. Leave gloo clusters out with spec.clusters.selector, or serve the route from envoy-gateway clusters only",
	},
	Failover: provider.Failover{
		Discovery: provider.DiscoverByPortName,
		PortCheck: provider.PortOnGatewayService,
		ExposePort: func(gatewayName string) string {
			return "gatewayProxies." + gatewayName + ".service.extraPorts in Gloo's Helm values"
		},
		HealthSignals:     healthSignals,
		SignalUse:         "either",
		DNSInControlPlane: true,
		// Gloo turns an UpstreamSslConfig's Secret into Envoy's trusted CA
		// (its ca.crt) and matches subject alt names only for
		// verifySubjectAltName, which gatefed does not render: a Gloo source
		// checks the target's chain, not its name.
		SourceChecksName: false,
		Edition: &provider.Edition{
			Deployment: ControllerDeployment,
			Accepts:    EnterpriseImage,
			What:       "Gloo Edge Enterprise",
			Hint:       "Upstream failover is a Gloo Edge Enterprise feature: open-source Gloo reports an error on an Upstream with failover. Install Gloo Edge Enterprise (helm chart glooe, image gloo-ee), or keep this cluster's routes to services that run here only",
		},
	},
	Sizing: provider.Sizing{
		Kinds:          []provider.Kind{upstreamKind, virtualServiceKind, gatewayKind},
		Proxy:          provider.ProxyByName,
		Count:          countLoad,
		ProxyContainer: "gateway-proxy",
		ProxyHint:      "the proxy Deployment is spec.gateway.name in the gateway namespace",
	},
}

// ControllerDeployment is the Deployment of Gloo's control plane.
const ControllerDeployment = "gloo"

// statusKinds are the Gloo kinds whose status Gloo writes.
func statusKinds() []schema.GroupKind {
	var out []schema.GroupKind
	for _, k := range []string{"Upstream", "UpstreamGroup", "Proxy"} {
		out = append(out, schema.GroupKind{Group: groupGloo, Kind: k})
	}
	for _, k := range []string{"VirtualService", "RouteTable", "Gateway", "MatchableHttpGateway", "MatchableTcpGateway", "VirtualHostOption", "RouteOption"} {
		out = append(out, schema.GroupKind{Group: groupGateway, Kind: k})
	}
	return out
}
