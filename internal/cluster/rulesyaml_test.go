package cluster

import (
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// RulesYAML renders a provider's RBAC rules as docs/clusters.md lists them
// (only TestDocsListTheRBACRules needs it).
func RulesYAML(provider string) string {
	p := PermissionsFor(provider)
	var b strings.Builder
	section := func(title string, rules []rbacv1.PolicyRule) {
		if len(rules) == 0 {
			return
		}
		fmt.Fprintf(&b, "# %s\n", title)
		for _, r := range rules {
			fmt.Fprintf(&b, "- apiGroups: [%s]\n", quoteList(r.APIGroups))
			fmt.Fprintf(&b, "  resources: [%s]\n", strings.Join(r.Resources, ", "))
			if len(r.ResourceNames) > 0 {
				fmt.Fprintf(&b, "  resourceNames: [%s]\n", strings.Join(r.ResourceNames, ", "))
			}
			fmt.Fprintf(&b, "  verbs: [%s]\n", strings.Join(r.Verbs, ", "))
		}
	}
	section("ClusterRole gatefed:<name> (cluster-wide, bound by ClusterRoleBinding gatefed:<name>)", p.Cluster)
	section("Role gatefed:<name> in the gateway namespace (bound by RoleBinding gatefed:<name>)", p.GatewayNamespace)
	section("Role gatefed:<name> in each service namespace (bound by RoleBinding gatefed:<name>)", p.ServiceNamespace)
	return b.String()
}

func quoteList(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(out, ", ")
}
