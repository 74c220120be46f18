package envoygateway

import (
	"fmt"
	"strconv"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"

	"github.com/gatefed/gatefed/internal/fleet"
)

// TiersPolicyName names the EnvoyPatchPolicy that orders the failover tiers
// of the cluster's Gateway (spec.gateway.strictTiers).
const TiersPolicyName = "gatefed-tiers"

// Envoy Gateway puts every backendRef of an HTTPRoute rule in one Envoy
// cluster named after the rule, with one locality per backendRef whose
// region is the backendRef's name, and a fallback Backend at priority 1.
// The patches below find a rule's cluster and each tier's locality by these
// names (Envoy Gateway v1.9); the translator and controller tests fail when
// they change.

// ruleClusterName is the Envoy cluster of rule index of an HTTPRoute.
func ruleClusterName(namespace, route string, index int) string {
	return fmt.Sprintf("httproute/%s/%s/rule/%d", namespace, route, index)
}

// localityName is the locality region of backendRef ref of a rule's cluster.
func localityName(cluster string, ref int) string {
	return fmt.Sprintf("%s/backend/%d", cluster, ref)
}

// needsStrictTiers reports whether a rule sends to a service with more tiers
// than Envoy Gateway's two priorities (primary and fallback) can order.
func (r *renderer) needsStrictTiers(route *fleet.GlobalRoute, m *ruleModel) bool {
	for _, b := range m.rule.Backends {
		if p := r.In.Used[route.BackendRef(b)]; p != nil && len(p.Tiers) > 2 && b.WeightOf() > 0 {
			return true
		}
	}
	return false
}

// tierPatches sets the priority of every tier after the first of a rule's
// backends to its tier number, so Envoy fails over tier by tier instead of
// sharing one fallback priority. Backends of weight 0 are left out, as
// Envoy Gateway leaves them out of the cluster.
func (r *renderer) tierPatches(route *fleet.GlobalRoute, m *ruleModel) []egv1a1.EnvoyJSONPatchConfig {
	cluster := ruleClusterName(r.Gateway.Namespace, r.httpRouteName(route), m.index)
	typ, endpoints := egv1a1.ClusterLoadAssignmentEnvoyResourceType, "$.endpoints"
	if m.byName {
		// A DNS cluster holds its endpoints itself: there is no EDS.
		typ, endpoints = egv1a1.ClusterEnvoyResourceType, "$.load_assignment.endpoints"
	}
	var out []egv1a1.EnvoyJSONPatchConfig
	ref := 0
	for _, b := range m.rule.Backends {
		p := r.In.Used[route.BackendRef(b)]
		for tier := range p.Tiers {
			if tier > 0 && b.WeightOf() > 0 {
				out = append(out, egv1a1.EnvoyJSONPatchConfig{
					Type: typ,
					Name: cluster,
					Operation: egv1a1.JSONPatchOperation{
						Op:       "add",
						JSONPath: ptrTo(fmt.Sprintf("%s[?(@.locality.region=='%s')]", endpoints, localityName(cluster, ref))),
						Path:     ptrTo("/priority"),
						Value:    &apiextensionsv1.JSON{Raw: []byte(strconv.Itoa(tier))},
					},
				})
			}
			ref++
		}
	}
	return out
}

// tiersPolicy renders the EnvoyPatchPolicy of the cluster's Gateway that
// orders the tiers of every rule needing more than two priorities; nil when
// the cluster does not opt in or no rule needs it.
func (r *renderer) tiersPolicy() (*unstructured.Unstructured, error) {
	if !r.In.Cluster.Spec.Gateway.StrictTiers {
		return nil, nil
	}
	var patches []egv1a1.EnvoyJSONPatchConfig
	for _, route := range r.In.Routes {
		for _, m := range r.rules[route.Key()] {
			if r.needsStrictTiers(route, m) {
				patches = append(patches, r.tierPatches(route, m)...)
			}
		}
	}
	if len(patches) == 0 {
		return nil, nil
	}
	epp := &egv1a1.EnvoyPatchPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindEnvoyPatchPolicy},
		ObjectMeta: metav1.ObjectMeta{Name: TiersPolicyName, Namespace: r.Gateway.Namespace},
		Spec: egv1a1.EnvoyPatchPolicySpec{
			Type:        egv1a1.JSONPatchEnvoyPatchType,
			JSONPatches: patches,
			TargetRef: gwapiv1.LocalPolicyTargetReference{
				Group: gatewayGroup,
				Kind:  kindGateway,
				Name:  gwapiv1.ObjectName(r.Gateway.Name),
			},
		},
	}
	return r.object(epp, fleet.KindCluster, "", r.Cluster)
}
