package istio

import "github.com/gatefed/gatefed/internal/provider"

// Name is the provider's name in spec.gateway.provider.
const Name = "istio"

// ModuleVersion is the istio.io/istio version whose CRDs a local fleet
// installs; hack/istio/go.mod pins the same for Istio's tools.
const ModuleVersion = "v0.0.0-20260827124520-eed52ebb66ad"

// Group is the API group of the Istio objects gatefed renders.
const Group = "networking.istio.io"

func istioKind(kind, resource string, rank int) provider.Kind {
	return provider.Kind{Group: Group, Version: "v1", Kind: kind, Resource: resource, Rank: rank}
}

// kinds are the kinds gatefed renders, all in the gateway namespace.
var kinds = []provider.Kind{
	istioKind("Gateway", "gateways", 4),
	istioKind("VirtualService", "virtualservices", 6),
	istioKind("DestinationRule", "destinationrules", 3),
	istioKind("ServiceEntry", "serviceentries", 2),
}

// Descriptor is what gatefed knows about an Istio ingress gateway.
var Descriptor = &provider.Descriptor{
	Name:  Name,
	Title: "Istio",
	Defaults: provider.Defaults{
		Namespace:   "istio-system",
		GatewayName: "gatefed",
		Selector:    map[string]string{"istio": "ingressgateway"},
	},
	CRDs:  kinds,
	Kinds: kinds,
	// Istio writes no verdict on the objects: --wait has nothing to wait for.
	Install: provider.Install{
		Hint: "install Istio with an ingress gateway, which installs the networking.istio.io CRDs: istioctl install (profile default), or the base, istiod and gateway charts of https://istio-release.storage.googleapis.com/charts",
		// Too large to embed: a local fleet fetches them when asked.
		CRDModule: &provider.ModuleFiles{Module: "istio.io/istio", Version: ModuleVersion, Files: []string{"manifests/charts/base/files/crd-all.gen.yaml"}},
	},
	Limits: provider.Limits{
		RateLimit:   "has no local rate-limit API: leave rateLimit out",
		NoRouteWasm: "Istio's WasmPlugin attaches to the gateway's workloads, so it would run on every route of the gateway, not on this one. Leave istio clusters out with spec.clusters.selector",
	},
	Failover: provider.Failover{
		Discovery:         provider.DiscoverBySelector,
		InstalledService:  "istio-ingressgateway",
		InstalledPortName: "tls",
		PortCheck:         provider.PortOnSelectedService,
		ExposePort:        func(string) string { return "istioctl install's istio-ingressgateway has it" },
		Listener: &provider.Listener{
			Kind: kinds[0], Name: FailoverGatewayName,
			Unit: "server", Units: "servers",
			OnPort: serversOnPort,
		},
		LocalTierThroughFailover: true,
		// The DestinationRule's subjectAltNames hold the SNI.
		SourceChecksName: true,
		// No HealthSignals: its DestinationRules eject by the GlobalService's
		// outlier detection (a healthCheck turned into it), which check reads.
		SignalUse: "outlierDetection, into which it turns a healthCheck",
	},
	Sizing: provider.Sizing{
		Kinds:          []provider.Kind{kinds[0], kinds[1], kinds[3]},
		Proxy:          provider.ProxyBySelector,
		Count:          countLoad,
		ProxyContainer: "istio-proxy",
		ProxyHint:      "the proxy Deployment is the one in the gateway namespace whose pods carry spec.gateway.selector",
	},
}
