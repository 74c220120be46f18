package envoygateway

import (
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
)

// strictFleet is orderedFleet with a opted in to strict tiers.
func strictFleet() *fleet.Fleet {
	f := orderedFleet()
	f.Cluster("a").Spec.Gateway.StrictTiers = true
	return f
}

func TestStrictTiersPatchEachTiersPriority(t *testing.T) {
	objs, warnings := renderCluster(t, strictFleet(), "a")
	if len(warnings) != 0 {
		t.Errorf("warnings %q, want none: the tiers are ordered", warnings)
	}
	epp := find(t, objs, "EnvoyPatchPolicy", gwNs, TiersPolicyName)
	if epp.GetAPIVersion() != "gateway.envoyproxy.io/v1alpha1" {
		t.Errorf("apiVersion %q", epp.GetAPIVersion())
	}
	// Tier 0 (a, the local Service) is backendRef 0 at priority 0; c and b
	// are backendRefs 1 and 2.
	assertField(t, epp, `
type: JSONPatch
targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: eg}
jsonPatches:
- type: type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment
  name: httproute/envoy-gateway-system/gatefed-shop-storefront/rule/0
  operation:
    op: add
    jsonPath: "$.endpoints[?(@.locality.region=='httproute/envoy-gateway-system/gatefed-shop-storefront/rule/0/backend/1')]"
    path: /priority
    value: 1
- type: type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment
  name: httproute/envoy-gateway-system/gatefed-shop-storefront/rule/0
  operation:
    op: add
    jsonPath: "$.endpoints[?(@.locality.region=='httproute/envoy-gateway-system/gatefed-shop-storefront/rule/0/backend/2')]"
    path: /priority
    value: 2
`, "spec")
	if got := annotation(epp, "gatefed.dev/source"); got != "Cluster/a" {
		t.Errorf("source annotation %q", got)
	}
}

// Without the opt-in, or without a service of more than two tiers, there is
// nothing to patch.
func TestStrictTiersOnlyWhereNeeded(t *testing.T) {
	objs, _ := renderCluster(t, orderedFleet(), "a")
	if n := len(ofKind(objs, "EnvoyPatchPolicy")); n != 0 {
		t.Errorf("%d EnvoyPatchPolicies without spec.gateway.strictTiers", n)
	}
	f := strictFleet()
	f.Services[0].Spec.Clusters = &fleet.Placement{Names: []string{"a", "b"}}
	objs, _ = renderCluster(t, f, "a")
	if n := len(ofKind(objs, "EnvoyPatchPolicy")); n != 0 {
		t.Errorf("%d EnvoyPatchPolicies for two tiers, which Envoy Gateway orders itself", n)
	}
}

// A rule reaching its tiers by DNS name is a DNS cluster holding its own
// endpoints, patched in the Cluster; a weight-0 backend, which Envoy Gateway
// leaves out, is not patched but still counts in the backendRef numbers.
func TestStrictTiersOfDNSRuleAndWeights(t *testing.T) {
	checkout := fleettest.NewService("shop", "checkout", 8080)
	checkout.Spec.Failover = &fleet.FailoverPolicy{Policy: fleet.PolicyOrdered, Order: []string{"c", "b"}}
	checkout.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 5}
	static := fleettest.NewService("shop", "static", 80)
	static.Spec.Failover = &fleet.FailoverPolicy{Policy: fleet.PolicyOrdered, Order: []string{"b", "c"}}
	static.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 5}
	a := fleettest.NewCluster("a", Name, "", "", "10.0.0.1", 0)
	a.Spec.Gateway.StrictTiers = true
	f := fleettest.NewFleet(
		[]*fleet.Cluster{a, fleettest.NewCluster("b", Name, "", "", "b.example.net", 0), fleettest.NewCluster("c", Name, "", "", "c.example.net", 0)},
		[]*fleet.GlobalService{checkout, static},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"}, fleet.Rule{Backends: []fleet.Backend{fleettest.Backend("static", 0), fleettest.Backend("checkout")}}),
	)
	objs, _ := renderCluster(t, f, "a")
	epp := find(t, objs, "EnvoyPatchPolicy", gwNs, TiersPolicyName)
	assertField(t, epp, `
- type: type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: httproute/envoy-gateway-system/gatefed-shop-storefront/rule/0
  operation:
    op: add
    jsonPath: "$.load_assignment.endpoints[?(@.locality.region=='httproute/envoy-gateway-system/gatefed-shop-storefront/rule/0/backend/4')]"
    path: /priority
    value: 1
- type: type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: httproute/envoy-gateway-system/gatefed-shop-storefront/rule/0
  operation:
    op: add
    jsonPath: "$.load_assignment.endpoints[?(@.locality.region=='httproute/envoy-gateway-system/gatefed-shop-storefront/rule/0/backend/5')]"
    path: /priority
    value: 2
`, "spec", "jsonPatches")
}
