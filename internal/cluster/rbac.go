package cluster

import (
	"slices"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/gatefed/gatefed/internal/provider"
)

// Verbs of the rules register grants.
var (
	writeVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	readVerbs  = []string{"get", "list", "watch"}
)

// Permissions are the RBAC rules of one registration's service account.
type Permissions struct {
	// Cluster is the ClusterRole's rules: read-only, cluster-wide.
	Cluster []rbacv1.PolicyRule
	// GatewayNamespace is the Role's rules in the gateway namespace.
	GatewayNamespace []rbacv1.PolicyRule
	// ServiceNamespace is the Role's rules in each service namespace (empty
	// for providers that render nothing there).
	ServiceNamespace []rbacv1.PolicyRule
}

// PermissionsFor returns the least-privilege rules for a provider, from its
// descriptor:
//   - cluster-wide read of Services, Pods, EndpointSlices and Deployments, of
//     the kinds of the provider's install verdicts (check gateway-install
//     reads them; a class is cluster scoped), and get/list of CRDs;
//   - in the gateway namespace, write of the kinds gatefed renders, create of
//     ConfigMaps plus get/update/patch of the ApplySet parent ConfigMap only,
//     and get of the two failover Secrets only (and, where the provider
//     has strict tiers, of its configuration ConfigMap);
//   - in each service namespace, write of the kinds the provider renders
//     there, if any.
func PermissionsFor(providerName string) Permissions {
	desc := descriptor(providerName)
	kinds := desc.Kinds
	p := Permissions{
		Cluster: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services", "pods"}, Verbs: readVerbs},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: readVerbs},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: readVerbs},
		},
	}
	var verdictKinds []provider.Kind
	for _, v := range desc.Install.Verdicts {
		verdictKinds = append(verdictKinds, v.Kind)
	}
	p.Cluster = append(p.Cluster, rulesByGroup(verdictKinds, readVerbs)...)
	p.Cluster = append(p.Cluster,
		rbacv1.PolicyRule{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"get", "list"}})
	p.GatewayNamespace = append(p.GatewayNamespace, rulesByGroup(kinds, writeVerbs)...)
	p.GatewayNamespace = append(p.GatewayNamespace,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{ApplySetParentName}, Verbs: []string{"get", "update", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{FailoverUpstreamSecret, FailoverDownstreamSecret}, Verbs: []string{"get"}},
	)
	if st := desc.Options.StrictTiers; st != nil {
		// check reads whether the gateway has the setting strict tiers need;
		// its ConfigMap is in the default gateway namespace.
		p.GatewayNamespace = append(p.GatewayNamespace,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{st.Setting.ConfigMap}, Verbs: []string{"get"}})
	}
	var inServiceNamespaces []provider.Kind
	for _, k := range kinds {
		if k.InServiceNamespaces {
			inServiceNamespaces = append(inServiceNamespaces, k)
		}
	}
	if len(inServiceNamespaces) > 0 {
		p.ServiceNamespace = rulesByGroup(inServiceNamespaces, writeVerbs)
	}
	return p
}

// WithTLSSecrets adds get, by name only, of the TLS Secrets of the fleet's
// GlobalRoutes (spec.tls.secretName) in the gateway namespace: gatefed
// check reads them to see that each exists and holds a certificate.
func (p Permissions) WithTLSSecrets(names []string) Permissions {
	if len(names) == 0 {
		return p
	}
	p.GatewayNamespace = append(append([]rbacv1.PolicyRule{}, p.GatewayNamespace...),
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: names, Verbs: []string{"get"}})
	return p
}

// rulesByGroup makes one rule per API group, groups and resources sorted,
// each resource once.
func rulesByGroup(rs []provider.Kind, verbs []string) []rbacv1.PolicyRule {
	byGroup := map[string][]string{}
	for _, r := range rs {
		byGroup[r.Group] = append(byGroup[r.Group], r.Resource)
	}
	var out []rbacv1.PolicyRule
	for _, g := range sortedKeys(byGroup) {
		res := append([]string{}, byGroup[g]...)
		sort.Strings(res)
		res = slices.Compact(res)
		out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: res, Verbs: verbs})
	}
	return out
}
