// Package cluster is gatefed's cluster registry: it registers, lists, shows
// and deregisters the fleet's Cluster documents, which live in git with the
// rest of the fleet. Credentials stay in the user's kubeconfig; a scoped
// service account with its own kubeconfig is minted only when asked.
package cluster

import (
	"sort"

	"github.com/gatefed/gatefed/internal/provider"
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

// descriptor is the named provider's, or an empty one for an unknown name.
func descriptor(name string) *provider.Descriptor {
	if d := provider.Lookup(name); d != nil {
		return d
	}
	return &provider.Descriptor{Name: name}
}

// providerNames are the known providers' names.
func providerNames() []string { return provider.Names() }

// providerList is "gloo, envoy-gateway or istio", for error messages.
func providerList() string { return provider.NameList() }

// defaultGatewayNamespace and defaultGatewayName are the loader's defaults.
func defaultGatewayNamespace(p string) string { return descriptor(p).Defaults.Namespace }
func defaultGatewayName(p string) string      { return descriptor(p).Defaults.GatewayName }

func knownProvider(p string) bool { return provider.Lookup(p) != nil }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
