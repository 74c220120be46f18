// Package cluster is gatefed's cluster registry: it registers, lists, shows
// and deregisters the fleet's Cluster documents, which live in git with the
// rest of the fleet. Credentials stay in the user's kubeconfig; a scoped
// service account with its own kubeconfig is minted only when asked.
package cluster

import (
	"sort"
	"strings"

	"github.com/gatefed/gatefed/internal/fleet"
)

// Labels and names of what register creates in a cluster.
const (
	// LabelRegistration names the registration an object was created for;
	// deregister --purge deletes exactly the objects that carry it.
	LabelRegistration = "gatefed.dev/registration"
	LabelManagedBy    = "app.kubernetes.io/managed-by"
	ManagedByValue    = "gatefed"
	// SystemNamespace holds the service accounts register creates.
	SystemNamespace = "gatefed-system"
	// FieldManager is the server-side apply field manager of register.
	FieldManager = "gatefed-register"
	// ApplySetParentName is the ApplySet parent ConfigMap gatefed apply keeps
	// in the gateway namespace.
	ApplySetParentName = "gatefed-applyset"
	// Failover Secrets gatefed reads the metadata of (the wire contract).
	FailoverUpstreamSecret   = "failover-upstream"
	FailoverDownstreamSecret = "failover-downstream"
	// FailoverPortName is the Service port name that marks a failover port.
	FailoverPortName = "failover"
)

// Annotations on a Cluster document registered with --service-account: the
// context and kubeconfig it was registered with, which deregister --purge
// uses to delete what register created (the service account cannot).
const (
	AnnotationAdminContext    = "gatefed.dev/admin-context"
	AnnotationAdminKubeconfig = "gatefed.dev/admin-kubeconfig"
)

// DefaultFileName is the file register writes in a fleet directory.
const DefaultFileName = "clusters.yaml"

// ServiceAccountName is the service account of a registration.
func ServiceAccountName(name string) string { return "gatefed-" + name }

// RoleName names the ClusterRole, ClusterRoleBinding, Roles and RoleBindings
// of a registration: one set per registration, never shared.
func RoleName(name string) string { return "gatefed:" + name }

// TokenSecretName is the service-account-token Secret used when the cluster
// does not serve the TokenRequest API.
func TokenSecretName(name string) string { return "gatefed-" + name + "-token" }

// resource is one API resource, for CRD checks and RBAC rules.
type resource struct {
	Group    string
	Resource string
}

func (r resource) CRDName() string { return r.Resource + "." + r.Group }

// providerSpec is what gatefed needs from a gateway provider's cluster.
type providerSpec struct {
	// CRDs register checks for.
	CRDs []resource
	// Rendered are the resources gatefed writes for this provider.
	Rendered []resource
	// ServiceNamespaced are rendered resources that live in the services'
	// namespaces rather than in the gateway namespace.
	ServiceNamespaced []resource
}

var providerSpecs = map[string]providerSpec{
	fleet.ProviderGloo: {
		CRDs: []resource{
			{"gloo.solo.io", "upstreams"},
			{"gateway.solo.io", "virtualservices"},
			{"gateway.solo.io", "gateways"},
		},
		Rendered: []resource{
			{"gloo.solo.io", "upstreams"},
			{"gateway.solo.io", "virtualservices"},
			{"gateway.solo.io", "gateways"},
		},
	},
	fleet.ProviderEnvoyGateway: {
		CRDs: []resource{
			{"gateway.networking.k8s.io", "gateways"},
			{"gateway.networking.k8s.io", "httproutes"},
			{"gateway.networking.k8s.io", "tlsroutes"},
			{"gateway.networking.k8s.io", "referencegrants"},
			{"gateway.envoyproxy.io", "backends"},
			{"gateway.envoyproxy.io", "backendtrafficpolicies"},
		},
		Rendered: []resource{
			{"gateway.networking.k8s.io", "httproutes"},
			{"gateway.networking.k8s.io", "tlsroutes"},
			{"gateway.networking.k8s.io", "gateways"},
			{"gateway.networking.k8s.io", "listenersets"},
			{"gateway.networking.k8s.io", "referencegrants"},
			{"gateway.envoyproxy.io", "backends"},
			{"gateway.envoyproxy.io", "backendtrafficpolicies"},
			{"gateway.envoyproxy.io", "clienttrafficpolicies"},
			{"gateway.envoyproxy.io", "envoyextensionpolicies"},
			{"gateway.envoyproxy.io", "httproutefilters"},
		},
		ServiceNamespaced: []resource{
			{"gateway.networking.k8s.io", "referencegrants"},
		},
	},
	fleet.ProviderIstio: {
		CRDs: istioResources,
		// Gateways, VirtualServices, DestinationRules and ServiceEntries,
		// all in the gateway namespace.
		Rendered: istioResources,
	},
}

var istioResources = []resource{
	{"networking.istio.io", "gateways"},
	{"networking.istio.io", "virtualservices"},
	{"networking.istio.io", "destinationrules"},
	{"networking.istio.io", "serviceentries"},
}

// Providers lists the known providers.
var Providers = []string{fleet.ProviderGloo, fleet.ProviderEnvoyGateway, fleet.ProviderIstio}

// providerList is "gloo, envoy-gateway or istio", for error messages.
func providerList() string {
	return strings.Join(Providers[:len(Providers)-1], ", ") + " or " + Providers[len(Providers)-1]
}

// installHint says how to get the CRDs of an API group.
func installHint(group string) string {
	switch group {
	case "gloo.solo.io", "gateway.solo.io":
		return "install Gloo Edge: helm install gloo gloo/gloo --namespace gloo-system --create-namespace (chart repo https://storage.googleapis.com/solo-public-helm)"
	case "gateway.networking.k8s.io":
		return "install the Gateway API experimental channel (TLSRoute is experimental): kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/<version>/experimental-install.yaml, or install Envoy Gateway, whose chart brings them"
	case "gateway.envoyproxy.io":
		return "install Envoy Gateway: helm install eg oci://docker.io/envoyproxy/gateway-helm --namespace envoy-gateway-system --create-namespace"
	case "networking.istio.io":
		return "install Istio with an ingress gateway: istioctl install (profile default), or the base, istiod and gateway charts of https://istio-release.storage.googleapis.com/charts"
	}
	return "install the gateway"
}

// defaultGatewayNamespace and defaultGatewayName are the loader's defaults.
func defaultGatewayNamespace(provider string) string { return fleet.DefaultGatewayNamespace[provider] }
func defaultGatewayName(provider string) string      { return fleet.DefaultGatewayName[provider] }

func knownProvider(p string) bool {
	_, ok := providerSpecs[p]
	return ok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
