package envoygateway

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
)

const gwNs = "envoy-gateway-system"

// orderedFleet: checkout runs in a, b and c and fails over to c, then b.
func orderedFleet() *fleet.Fleet {
	checkout := fleettest.NewService("shop", "checkout", 8080)
	checkout.Spec.Failover = &fleet.FailoverPolicy{Policy: fleet.PolicyOrdered, Order: []string{"c", "b"}}
	checkout.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 5}
	return fleettest.NewFleet(
		[]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "10.0.0.1", 0), fleettest.NewCluster("b", "envoy-gateway", "", "", "10.0.0.2", 0), fleettest.NewCluster("c", "envoy-gateway", "", "", "10.0.0.3", 0)},
		[]*fleet.GlobalService{checkout},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"}, fleettest.To("checkout")),
	)
}

func TestOrderedFailover(t *testing.T) {
	objs, warnings := renderCluster(t, orderedFleet(), "a")

	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	if hr.GetAPIVersion() != "gateway.networking.k8s.io/v1" {
		t.Errorf("HTTPRoute apiVersion %q", hr.GetAPIVersion())
	}
	assertField(t, hr, `
parentRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: eg}]
hostnames: [shop.example.com]
rules:
- name: rule-0
  matches: [{path: {type: PathPrefix, value: /}}]
  backendRefs:
  - {group: "", kind: Service, name: checkout, namespace: shop, port: 8080, weight: 1}
  - {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-shop-checkout-c, weight: 1}
  - {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-shop-checkout-b, weight: 1}
`, "spec")
	if got := annotation(hr, render.AnnotationTiers); got != "shop/checkout=a,c,b" {
		t.Errorf("HTTPRoute tiers annotation %q", got)
	}
	if got := annotation(hr, render.AnnotationSource); got != "GlobalRoute/shop/storefront" {
		t.Errorf("HTTPRoute source annotation %q", got)
	}
	assertField(t, hr, `{app.kubernetes.io/managed-by: gatefed, gatefed.dev/cluster: a}`, "metadata", "labels")

	for _, tc := range []struct{ target, ip string }{{"c", "10.0.0.3"}, {"b", "10.0.0.2"}} {
		be := find(t, objs, "Backend", gwNs, "gatefed-shop-checkout-"+tc.target)
		if be.GetAPIVersion() != "gateway.envoyproxy.io/v1alpha1" {
			t.Errorf("Backend apiVersion %q", be.GetAPIVersion())
		}
		assertField(t, be, `
type: Endpoints
endpoints: [{ip: {address: `+tc.ip+`, port: 15443}}]
fallback: true
tls:
  caCertificateRefs: [{group: "", kind: Secret, name: failover-upstream}]
  sni: checkout-8080.shop.failover.gatefed.internal
  clientCertificateRef: {group: "", kind: Secret, name: failover-upstream}
`, "spec")
		if got := annotation(be, render.AnnotationTiers); got != "a,c,b" {
			t.Errorf("Backend tiers annotation %q", got)
		}
		if got := annotation(be, render.AnnotationSource); got != "GlobalService/shop/checkout" {
			t.Errorf("Backend source annotation %q", got)
		}
	}
	if n := len(ofKind(objs, "Backend")); n != 2 {
		t.Errorf("%d Backends, want 2", n)
	}
	assertWarning(t, warnings, "GlobalService shop/checkout: 3 failover tiers (a > c > b)", "single fallback priority", "c, b share it")
	if len(warnings) != 1 {
		t.Errorf("warnings %q, want exactly one", warnings)
	}
}

func TestTwoTiersDoNotWarn(t *testing.T) {
	f := orderedFleet()
	f.Services[0].Spec.Clusters = &fleet.Placement{Names: []string{"a", "b"}}
	objs, warnings := renderCluster(t, f, "a")
	if len(warnings) != 0 {
		t.Errorf("warnings %q, want none", warnings)
	}
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	assertField(t, hr, `
- {group: "", kind: Service, name: checkout, namespace: shop, port: 8080, weight: 1}
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-shop-checkout-b, weight: 1}
`, "spec", "rules", "0", "backendRefs")
}

func TestLocalityFailover(t *testing.T) {
	payments := fleettest.NewService("pay", "payments", 9000)
	payments.Spec.ServiceName = "payments-api"
	payments.Spec.HealthCheck = &fleet.HealthCheck{Path: "/ready", Interval: "3s", Timeout: "500ms", HealthyThreshold: 1, UnhealthyThreshold: 2}
	f := fleettest.NewFleet(
		[]*fleet.Cluster{
			fleettest.NewCluster("euw1-a", "envoy-gateway", "eu-west-1", "eu-west-1a", "198.51.100.4", 0),
			fleettest.NewCluster("use1-a", "envoy-gateway", "us-east-1", "us-east-1a", "198.51.100.1", 0),
			fleettest.NewCluster("use1-b", "envoy-gateway", "us-east-1", "us-east-1b", "198.51.100.2", 0),
			fleettest.NewCluster("use1-c", "envoy-gateway", "us-east-1", "us-east-1a", "198.51.100.3", 0),
		},
		[]*fleet.GlobalService{payments},
		fleettest.NewRoute("edge", "api", []string{"api.example.com"}, fleettest.To("pay/payments")),
	)
	objs, warnings := renderCluster(t, f, "use1-a")
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-edge-api")
	// Same zone (use1-c), same region (use1-b), then the rest (euw1-a).
	assertField(t, hr, `
- {group: "", kind: Service, name: payments-api, namespace: pay, port: 9000, weight: 1}
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-pay-payments-use1-c, weight: 1}
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-pay-payments-use1-b, weight: 1}
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-pay-payments-euw1-a, weight: 1}
`, "spec", "rules", "0", "backendRefs")
	if got := annotation(hr, render.AnnotationTiers); got != "pay/payments=use1-a,use1-c,use1-b,euw1-a" {
		t.Errorf("tiers annotation %q", got)
	}
	for _, name := range []string{"use1-c", "use1-b", "euw1-a"} {
		be := find(t, objs, "Backend", gwNs, "gatefed-pay-payments-"+name)
		assertField(t, be, `true`, "spec", "fallback")
		assertField(t, be, `payments-api-9000.pay.failover.gatefed.internal`, "spec", "tls", "sni")
	}
	assertWarning(t, warnings, "GlobalService pay/payments: 4 failover tiers", "use1-c, use1-b, euw1-a share it")
}

func TestServiceMissingFromSource(t *testing.T) {
	checkout := fleettest.NewService("shop", "checkout", 8080, "b", "c")
	checkout.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 3}
	f := fleettest.NewFleet(
		[]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "r1", "z1", "", 0), fleettest.NewCluster("b", "envoy-gateway", "r1", "z2", "10.0.0.2", 0), fleettest.NewCluster("c", "envoy-gateway", "r2", "z3", "10.0.0.3", 0)},
		[]*fleet.GlobalService{checkout},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"}, fleettest.To("checkout")),
	)
	objs, warnings := renderCluster(t, f, "a")
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	assertField(t, hr, `
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-shop-checkout-b, weight: 1}
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-shop-checkout-c, weight: 1}
`, "spec", "rules", "0", "backendRefs")

	primary := find(t, objs, "Backend", gwNs, "gatefed-shop-checkout-b")
	assertField(t, primary, `false`, "spec", "fallback")
	assertField(t, primary, `[{ip: {address: 10.0.0.2, port: 15443}}]`, "spec", "endpoints")
	fallback := find(t, objs, "Backend", gwNs, "gatefed-shop-checkout-c")
	assertField(t, fallback, `true`, "spec", "fallback")
	assertField(t, fallback, `[{ip: {address: 10.0.0.3, port: 15443}}]`, "spec", "endpoints")

	// The Service is not local, so nothing refers to it across namespaces,
	// and a is no failover target: no Gateway, no TLSRoute.
	for _, kind := range []string{"ReferenceGrant", "Gateway", "TLSRoute", "ClientTrafficPolicy"} {
		if n := len(ofKind(objs, kind)); n != 0 {
			t.Errorf("%d %s objects, want none:\n%s", n, kind, listObjects(objs))
		}
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q, want none", warnings)
	}
}

// A rule with a DNS-name failover target reaches every tier by name, the
// local Service through its cluster-local DNS name, so that Envoy Gateway
// keeps the rule in one Envoy cluster with fallback priorities.
func TestHostnameFailoverReachesEveryTierByName(t *testing.T) {
	checkout := fleettest.NewService("shop", "checkout", 8080)
	checkout.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 3}
	a := fleettest.NewCluster("a", "envoy-gateway", "", "", "10.0.0.1", 0)
	a.Spec.ClusterDomain = "corp.internal"
	f := fleettest.NewFleet(
		[]*fleet.Cluster{a, fleettest.NewCluster("b", "envoy-gateway", "", "", "b.example.net", 0)},
		[]*fleet.GlobalService{checkout},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"}, fleettest.To("checkout")),
	)
	objs, warnings := renderCluster(t, f, "a")
	if len(warnings) != 0 {
		t.Errorf("warnings %q, want none", warnings)
	}
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	assertField(t, hr, `
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-shop-checkout-a, weight: 1}
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-shop-checkout-b, weight: 1}
`, "spec", "rules", "0", "backendRefs")
	local := find(t, objs, "Backend", gwNs, "gatefed-shop-checkout-a")
	assertField(t, local, `[{fqdn: {hostname: checkout.shop.svc.corp.internal, port: 8080}}]`, "spec", "endpoints")
	assertField(t, local, `false`, "spec", "fallback")
	if _, tls, _ := unstructured.NestedMap(local.Object, "spec", "tls"); tls {
		t.Errorf("local Backend has TLS settings: %v", local.Object["spec"])
	}
	remote := find(t, objs, "Backend", gwNs, "gatefed-shop-checkout-b")
	assertField(t, remote, `[{fqdn: {hostname: b.example.net, port: 15443}}]`, "spec", "endpoints")
	assertField(t, remote, `true`, "spec", "fallback")
	// No HTTPRoute names the Service, so its ReferenceGrant admits only the
	// failover TLSRoute.
	rg := find(t, objs, "ReferenceGrant", "shop", "gatefed-checkout")
	assertField(t, rg, `[{group: gateway.networking.k8s.io, kind: TLSRoute, namespace: envoy-gateway-system}]`, "spec", "from")

	// From b every tier is reached by IP: local endpoints and a's address.
	objs, warnings = renderCluster(t, f, "b")
	if len(warnings) != 0 {
		t.Errorf("warnings on b %q, want none", warnings)
	}
	hr = find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	assertField(t, hr, `
- {group: "", kind: Service, name: checkout, namespace: shop, port: 8080, weight: 1}
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-shop-checkout-a, weight: 1}
`, "spec", "rules", "0", "backendRefs")
}

// Failover targets with IP addresses and DNS names in one rule cannot be
// rendered for Envoy Gateway.
func TestMixedFailoverAddressesRefused(t *testing.T) {
	checkout := fleettest.NewService("shop", "checkout", 8080)
	checkout.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 3}
	f := fleettest.NewFleet(
		[]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "", 0), fleettest.NewCluster("b", "envoy-gateway", "", "", "10.0.0.2", 0), fleettest.NewCluster("c", "envoy-gateway", "", "", "c.example.net", 0)},
		[]*fleet.GlobalService{checkout},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"}, fleettest.To("checkout")),
	)
	_, _, err := New().Render(input(t, f, "a"))
	if err == nil || !strings.Contains(err.Error(), "IP addresses (b) and DNS names (c) in one rule") {
		t.Fatalf("render a: %v, want a refusal naming b and c", err)
	}
}

func TestWeightedSplit(t *testing.T) {
	v1 := fleettest.NewService("shop", "checkout", 8080, "a", "b")
	v2 := fleettest.NewService("shop", "checkout-v2", 8080, "a", "b")
	for _, s := range []*fleet.GlobalService{v1, v2} {
		s.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 5}
	}
	rule := fleet.Rule{Backends: []fleet.Backend{{Service: "checkout", Weight: fleettest.Weight(90)}, {Service: "checkout-v2", Weight: fleettest.Weight(10)}}}
	f := fleettest.NewFleet(
		[]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "10.0.0.1", 0), fleettest.NewCluster("b", "envoy-gateway", "", "", "10.0.0.2", 0)},
		[]*fleet.GlobalService{v1, v2},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"}, rule),
	)
	objs, warnings := renderCluster(t, f, "a")
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	// Fallback Backends carry their service's weight so the split holds within
	// the fallback priority too.
	assertField(t, hr, `
- {group: "", kind: Service, name: checkout, namespace: shop, port: 8080, weight: 90}
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-shop-checkout-b, weight: 90}
- {group: "", kind: Service, name: checkout-v2, namespace: shop, port: 8080, weight: 10}
- {group: gateway.envoyproxy.io, kind: Backend, name: gatefed-shop-checkout-v2-b, weight: 10}
`, "spec", "rules", "0", "backendRefs")
	if got := annotation(hr, render.AnnotationTiers); got != "shop/checkout=a,b; shop/checkout-v2=a,b" {
		t.Errorf("tiers annotation %q", got)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q, want none", warnings)
	}
}

func TestCrossNamespaceReferenceGrant(t *testing.T) {
	shop := fleettest.NewService("shop", "checkout", 8080, "a", "b")
	shop.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 5}
	inGatewayNs := fleettest.NewService(gwNs, "status", 80, "a")
	renamed := fleettest.NewService("shop", "cart", 8081, "a")
	renamed.Spec.ServiceName = "cart-svc"
	f := fleettest.NewFleet(
		[]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "", 0), fleettest.NewCluster("b", "envoy-gateway", "", "", "10.0.0.2", 0)},
		[]*fleet.GlobalService{renamed, shop, inGatewayNs},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"},
			fleettest.To("checkout"),
			fleet.Rule{Name: "cart", Match: &fleet.Match{PathPrefix: "/cart"}, Backends: []fleet.Backend{{Service: "shop/cart"}}},
			fleet.Rule{Name: "status", Match: &fleet.Match{PathExact: "/status"}, Backends: []fleet.Backend{{Service: gwNs + "/status"}}},
		),
	)
	objs, _ := renderCluster(t, f, "a")
	grants := ofKind(objs, "ReferenceGrant")
	if len(grants) != 2 {
		t.Fatalf("%d ReferenceGrants, want 2:\n%s", len(grants), listObjects(objs))
	}
	rg := find(t, objs, "ReferenceGrant", "shop", "gatefed-checkout")
	if rg.GetAPIVersion() != "gateway.networking.k8s.io/v1" {
		t.Errorf("ReferenceGrant apiVersion %q", rg.GetAPIVersion())
	}
	assertField(t, rg, `
from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: envoy-gateway-system}]
to: [{group: "", kind: Service, name: checkout}]
`, "spec")
	rg = find(t, objs, "ReferenceGrant", "shop", "gatefed-cart-svc")
	assertField(t, rg, `[{group: "", kind: Service, name: cart-svc}]`, "spec", "to")
	if got := annotation(rg, render.AnnotationSource); got != "GlobalService/shop/cart" {
		t.Errorf("ReferenceGrant source %q", got)
	}

	// On the failover target the grant also admits the TLSRoute.
	objs, _ = renderCluster(t, f, "b")
	rg = find(t, objs, "ReferenceGrant", "shop", "gatefed-checkout")
	assertField(t, rg, `
from:
- {group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: envoy-gateway-system}
- {group: gateway.networking.k8s.io, kind: TLSRoute, namespace: envoy-gateway-system}
to: [{group: "", kind: Service, name: checkout}]
`, "spec")
}

func TestMatches(t *testing.T) {
	s := fleettest.NewService("", "web", 80, "a")
	rules := []fleet.Rule{
		{Name: "exact", Match: &fleet.Match{PathExact: "/login", Methods: []string{"GET", "POST"}}, Backends: []fleet.Backend{{Service: "web"}}},
		{Match: &fleet.Match{PathRegex: "/v[0-9]+/.*", Headers: []fleet.HeaderMatch{{Name: "x-canary", Value: "1"}}}, Backends: []fleet.Backend{{Service: "web"}}},
		{Match: &fleet.Match{PathPrefix: "/api", Headers: []fleet.HeaderMatch{{Name: "x-a", Value: "b"}}, Methods: []string{"delete"}}, Backends: []fleet.Backend{{Service: "web"}}},
	}
	f := fleettest.NewFleet([]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "", 0)}, []*fleet.GlobalService{s}, fleettest.NewRoute("", "web", []string{"web.example.com", "*.web.example.com"}, rules...))
	objs, _ := renderCluster(t, f, "a")
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-default-web")
	assertField(t, hr, `[web.example.com, "*.web.example.com"]`, "spec", "hostnames")
	ref := `[{group: "", kind: Service, name: web, namespace: default, port: 80, weight: 1}]`
	assertField(t, hr, `
- name: exact
  matches:
  - {path: {type: Exact, value: /login}, method: GET}
  - {path: {type: Exact, value: /login}, method: POST}
  backendRefs: `+ref+`
- matches:
  - path: {type: RegularExpression, value: "/v[0-9]+/.*"}
    headers: [{type: Exact, name: x-canary, value: "1"}]
  backendRefs: `+ref+`
- matches:
  - path: {type: PathPrefix, value: /api}
    headers: [{type: Exact, name: x-a, value: b}]
    method: DELETE
  backendRefs: `+ref+`
`, "spec", "rules")
	if n := len(ofKind(objs, "BackendTrafficPolicy")); n != 0 {
		t.Errorf("%d BackendTrafficPolicies for rules without settings", n)
	}
}

func TestTrafficPolicies(t *testing.T) {
	checkout := fleettest.NewService("shop", "checkout", 8080, "a", "b")
	checkout.Spec.HealthCheck = &fleet.HealthCheck{Path: "/healthz", Interval: "5s", Timeout: "1500ms", HealthyThreshold: 2, UnhealthyThreshold: 3}
	checkout.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 5, Interval: "10s", BaseEjectionTime: "30s", MaxEjectionPercent: 50}
	static := fleettest.NewService("shop", "static", 80, "a")
	rules := []fleet.Rule{
		{Name: "pay", Match: &fleet.Match{PathPrefix: "/pay"}, Backends: []fleet.Backend{{Service: "checkout"}},
			Timeout: "1m30s", Retries: &fleet.Retries{Attempts: 3, PerTryTimeout: "2s"}},
		{Backends: []fleet.Backend{{Service: "static"}}, Timeout: "250ms"},
		{Match: &fleet.Match{PathPrefix: "/plain"}, Backends: []fleet.Backend{{Service: "static"}}},
		{Match: &fleet.Match{PathPrefix: "/retry"}, Backends: []fleet.Backend{{Service: "static"}}, Retries: &fleet.Retries{PerTryTimeout: "1s"}},
	}
	f := fleettest.NewFleet(
		[]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "", 0), fleettest.NewCluster("b", "envoy-gateway", "", "", "10.0.0.2", 0)},
		[]*fleet.GlobalService{checkout, static},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"}, rules...),
	)
	objs, warnings := renderCluster(t, f, "a")
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	if n := len(ofKind(objs, "BackendTrafficPolicy")); n != 3 {
		t.Fatalf("%d BackendTrafficPolicies, want 3:\n%s", n, listObjects(objs))
	}
	pay := find(t, objs, "BackendTrafficPolicy", gwNs, "gatefed-shop-storefront-pay")
	if pay.GetAPIVersion() != "gateway.envoyproxy.io/v1alpha1" {
		t.Errorf("apiVersion %q", pay.GetAPIVersion())
	}
	assertField(t, pay, `
targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: gatefed-shop-storefront, sectionName: pay}]
healthCheck:
  active:
    type: HTTP
    http: {path: /healthz}
    interval: 5s
    timeout: 1s500ms
    healthyThreshold: 2
    unhealthyThreshold: 3
  passive:
    consecutive5XxErrors: 5
    interval: 10s
    baseEjectionTime: 30s
    maxEjectionPercent: 50
retry:
  numRetries: 3
  retryOn: {triggers: [5xx, reset, connect-failure, refused-stream]}
  perRetry: {timeout: 2s}
timeout:
  http: {requestTimeout: 1m30s}
`, "spec")
	if got := annotation(pay, render.AnnotationSource); got != "GlobalRoute/shop/storefront" {
		t.Errorf("source %q", got)
	}

	// An unnamed rule that needs a policy is named after its index.
	second := find(t, objs, "BackendTrafficPolicy", gwNs, "gatefed-shop-storefront-rule-1")
	assertField(t, second, `
targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: gatefed-shop-storefront, sectionName: rule-1}]
timeout: {http: {requestTimeout: 250ms}}
`, "spec")
	third := find(t, objs, "BackendTrafficPolicy", gwNs, "gatefed-shop-storefront-rule-3")
	// retries without attempts retry once.
	assertField(t, third, `{numRetries: 1, retryOn: {triggers: [5xx, reset, connect-failure, refused-stream]}, perRetry: {timeout: 1s}}`, "spec", "retry")

	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	assertField(t, hr, `pay`, "spec", "rules", "0", "name")
	assertField(t, hr, `rule-1`, "spec", "rules", "1", "name")
	rules2, _ := unstructuredSlice(hr, "spec", "rules")
	if _, named := rules2[2].(map[string]any)["name"]; named {
		t.Errorf("rule 2 has no policy and should stay unnamed: %v", rules2[2])
	}
}

// Outlier detection without maxEjectionPercent may eject every host: Envoy's
// own 10% would keep a tier of many hosts from failing over.
func TestOutlierDetectionEjectsUpToAllHosts(t *testing.T) {
	checkout := fleettest.NewService("shop", "checkout", 8080, "a", "b")
	checkout.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 5}
	f := fleettest.NewFleet(
		[]*fleet.Cluster{fleettest.NewCluster("a", Name, "", "", "", 0), fleettest.NewCluster("b", Name, "", "", "10.0.0.2", 0)},
		[]*fleet.GlobalService{checkout},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"}, fleettest.To("checkout")),
	)
	objs, _ := renderCluster(t, f, "a")
	btp := find(t, objs, "BackendTrafficPolicy", gwNs, "gatefed-shop-storefront-rule-0")
	assertField(t, btp, `{consecutive5XxErrors: 5, maxEjectionPercent: 100}`, "spec", "healthCheck", "passive")
}

func TestDifferingHealthChecksInOneRuleWarn(t *testing.T) {
	a := fleettest.NewService("", "a", 80, "c1")
	a.Spec.HealthCheck = &fleet.HealthCheck{Path: "/a", Interval: "5s", Timeout: "1s"}
	b := fleettest.NewService("", "b", 80, "c1")
	f := fleettest.NewFleet([]*fleet.Cluster{fleettest.NewCluster("c1", "envoy-gateway", "", "", "", 0)}, []*fleet.GlobalService{a, b},
		fleettest.NewRoute("", "split", []string{"x.example.com"}, fleettest.To("b", "a")))
	objs, warnings := renderCluster(t, f, "c1")
	assertWarning(t, warnings, "GlobalRoute default/split rule 0", "one health check", "GlobalService default/a also applies to default/b")
	btp := find(t, objs, "BackendTrafficPolicy", gwNs, "gatefed-default-split-rule-0")
	assertField(t, btp, `{path: /a}`, "spec", "healthCheck", "active", "http")
}

func TestFailoverGatewayAndTLSRoutes(t *testing.T) {
	checkout := fleettest.NewService("shop", "checkout", 8080, "a", "b")
	checkout.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 5}
	status := fleettest.NewService(gwNs, "status", 80, "b")
	other := fleettest.NewService("shop", "elsewhere", 80, "a")
	b := fleettest.NewCluster("b", "envoy-gateway", "", "", "10.0.0.2", 0)
	b.Spec.Failover.Port = 16443
	b.Spec.Gateway = fleet.GatewaySpec{Provider: "envoy-gateway", Namespace: "edge", Name: "public", ClassName: "envoy"}
	f := fleettest.NewFleet([]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "10.0.0.1", 0), b}, []*fleet.GlobalService{checkout, status, other})

	objs, warnings := renderCluster(t, f, "b")
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	gw := find(t, objs, "Gateway", "edge", FailoverGatewayName)
	if gw.GetAPIVersion() != "gateway.networking.k8s.io/v1" {
		t.Errorf("Gateway apiVersion %q", gw.GetAPIVersion())
	}
	assertField(t, gw, `
gatewayClassName: envoy
listeners:
- name: failover
  port: 16443
  protocol: TLS
  tls:
    mode: Terminate
    certificateRefs: [{group: "", kind: Secret, name: failover-downstream}]
  allowedRoutes:
    namespaces: {from: Same}
    kinds: [{group: gateway.networking.k8s.io, kind: TLSRoute}]
`, "spec")
	if got := annotation(gw, render.AnnotationSource); got != "Cluster/b" {
		t.Errorf("Gateway source %q", got)
	}
	ctp := find(t, objs, "ClientTrafficPolicy", "edge", FailoverPolicyName)
	assertField(t, ctp, `
targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gatefed-failover, sectionName: failover}]
tls:
  clientValidation:
    mode: RequireAndVerify
    caCertificateRefs: [{group: "", kind: Secret, name: failover-downstream}]
`, "spec")

	routes := ofKind(objs, "TLSRoute")
	if len(routes) != 2 {
		t.Fatalf("%d TLSRoutes, want 2 (checkout, status):\n%s", len(routes), listObjects(objs))
	}
	tr := find(t, objs, "TLSRoute", "edge", "gatefed-shop-checkout")
	if tr.GetAPIVersion() != "gateway.networking.k8s.io/v1" {
		t.Errorf("TLSRoute apiVersion %q", tr.GetAPIVersion())
	}
	assertField(t, tr, `
parentRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gatefed-failover, sectionName: failover}]
hostnames: [checkout-8080.shop.failover.gatefed.internal]
rules:
- backendRefs: [{group: "", kind: Service, name: checkout, namespace: shop, port: 8080, weight: 1}]
`, "spec")
	if got := annotation(tr, render.AnnotationSource); got != "GlobalService/shop/checkout" {
		t.Errorf("TLSRoute source %q", got)
	}
	tr = find(t, objs, "TLSRoute", "edge", "gatefed-envoy-gateway-system-status")
	assertField(t, tr, `[status-80.envoy-gateway-system.failover.gatefed.internal]`, "spec", "hostnames")

	// a is a failover target too but serves only what runs there.
	objs, _ = renderCluster(t, f, "a")
	find(t, objs, "TLSRoute", gwNs, "gatefed-shop-checkout")
	find(t, objs, "TLSRoute", gwNs, "gatefed-shop-elsewhere")
	if n := len(ofKind(objs, "TLSRoute")); n != 2 {
		t.Errorf("%d TLSRoutes on a, want 2", n)
	}
}

func TestNoFailoverGatewayWithoutServedServices(t *testing.T) {
	s := fleettest.NewService("", "web", 80, "a")
	f := fleettest.NewFleet([]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "", 0), fleettest.NewCluster("b", "envoy-gateway", "", "", "10.0.0.2", 0)}, []*fleet.GlobalService{s})
	objs, _ := renderCluster(t, f, "b")
	if len(objs) != 0 {
		t.Errorf("objects on a target serving nothing:\n%s", listObjects(objs))
	}
}

func TestSkippedClustersAnnotated(t *testing.T) {
	f := orderedFleet()
	in := input(t, f, "a")
	p := in.Used["shop/checkout"]
	// Drop c as if it were unavailable.
	p.Tiers = []planTier{p.Tiers[0], p.Tiers[2]}
	p.Skips = append(p.Skips, planSkip{Cluster: "c", Reason: "Service has no ready endpoints"})
	objs, _ := renderInput(t, in)
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	if got := annotation(hr, render.AnnotationTiers); got != "shop/checkout=a,b" {
		t.Errorf("tiers %q", got)
	}
	if got := annotation(hr, render.AnnotationSkipped); got != "shop/checkout=c: Service has no ready endpoints" {
		t.Errorf("skipped %q", got)
	}
	be := find(t, objs, "Backend", gwNs, "gatefed-shop-checkout-b")
	if got := annotation(be, render.AnnotationSkipped); got != "c: Service has no ready endpoints" {
		t.Errorf("Backend skipped %q", got)
	}
	if n := len(ofKind(objs, "Backend")); n != 1 {
		t.Errorf("%d Backends, want 1", n)
	}
	// Without skips there is no skipped annotation.
	objs, _ = renderCluster(t, f, "a")
	hr = find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	if _, ok := hr.GetAnnotations()[render.AnnotationSkipped]; ok {
		t.Errorf("skipped annotation without skips")
	}
}

func TestServiceWithoutTiersHasNoBackendRefs(t *testing.T) {
	f := orderedFleet()
	in := input(t, f, "a")
	in.Used["shop/checkout"].Tiers = nil
	objs, _ := renderInput(t, in)
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	assertNoField(t, hr, "spec", "rules", "0", "backendRefs")
}

func TestRouteLimits(t *testing.T) {
	var rules []fleet.Rule
	for i := 0; i < 17; i++ {
		rules = append(rules, fleettest.To("web"))
	}
	s := fleettest.NewService("", "web", 80, "a")
	f := fleettest.NewFleet([]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "", 0)}, []*fleet.GlobalService{s}, fleettest.NewRoute("", "big", []string{"x.example.com"}, rules...))
	_, _, err := New().Render(input(t, f, "a"))
	if err == nil || !strings.Contains(err.Error(), "17 rules, an HTTPRoute allows 16") {
		t.Errorf("err = %v", err)
	}
}

func TestDeterministic(t *testing.T) {
	for _, cluster := range []string{"a", "b", "c"} {
		first, w1 := renderCluster(t, orderedFleet(), cluster)
		for i := 0; i < 5; i++ {
			again, w2 := renderCluster(t, orderedFleet(), cluster)
			if !reflect.DeepEqual(normalize(t, first), normalize(t, again)) || !reflect.DeepEqual(w1, w2) {
				t.Fatalf("cluster %s: render differs between runs", cluster)
			}
		}
	}
}

func TestProviderName(t *testing.T) {
	if New().Descriptor().Name != "envoy-gateway" {
		t.Errorf("Descriptor().Name = %q", New().Descriptor().Name)
	}
}

func TestSharedSNIKeepsFirstTLSRoute(t *testing.T) {
	first := fleettest.NewService("shop", "checkout", 8080, "a")
	second := fleettest.NewService("shop", "checkout-alias", 8080, "a")
	second.Spec.ServiceName = "checkout"
	f := fleettest.NewFleet([]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "10.0.0.1", 0)}, []*fleet.GlobalService{first, second})
	objs, warnings := renderCluster(t, f, "a")
	routes := ofKind(objs, "TLSRoute")
	if len(routes) != 1 || routes[0].GetName() != "gatefed-shop-checkout" {
		t.Fatalf("TLSRoutes:\n%s", listObjects(objs))
	}
	assertWarning(t, warnings, "GlobalServices shop/checkout and shop/checkout-alias name the same Service port (SNI checkout-8080.shop.failover.gatefed.internal)")
}

// A rule's options become HTTPRoute filters; a direct response an
// HTTPRouteFilter the rule refers to.
func TestRouteOptions(t *testing.T) {
	api := fleettest.NewService("shop", "api", 8080)
	f := fleettest.NewFleet(
		[]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "", 0)},
		[]*fleet.GlobalService{api},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"},
			fleet.Rule{Match: &fleet.Match{PathPrefix: "/api"}, Backends: []fleet.Backend{{Service: "api"}},
				Rewrite:         &fleet.Rewrite{PathPrefix: "/v2", Hostname: "api.internal"},
				RequestHeaders:  &fleet.HeaderModifier{Set: map[string]string{"x-env": "prod", "a": "1"}, Add: map[string]string{"x-trace": "on"}, Remove: []string{"x-debug"}},
				ResponseHeaders: &fleet.HeaderModifier{Remove: []string{"server"}}},
			fleet.Rule{Match: &fleet.Match{PathPrefix: "/old"}, Redirect: &fleet.Redirect{Scheme: "https", PathPrefix: "/new", StatusCode: 301}},
			fleet.Rule{Match: &fleet.Match{PathExact: "/down"}, DirectResponse: &fleet.DirectResponse{Status: 503, Body: "maintenance"}},
		),
	)
	objs, warnings := renderCluster(t, f, "a")
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	assertField(t, hr, `
- requestHeaderModifier:
    add: [{name: x-trace, value: "on"}]
    remove: [x-debug]
    set: [{name: a, value: "1"}, {name: x-env, value: prod}]
  type: RequestHeaderModifier
- type: URLRewrite
  urlRewrite: {hostname: api.internal, path: {replacePrefixMatch: /v2, type: ReplacePrefixMatch}}
- responseHeaderModifier: {remove: [server]}
  type: ResponseHeaderModifier
`, "spec", "rules", "0", "filters")
	assertField(t, hr, `
- requestRedirect: {path: {replacePrefixMatch: /new, type: ReplacePrefixMatch}, scheme: https, statusCode: 301}
  type: RequestRedirect
`, "spec", "rules", "1", "filters")
	// The direct response's rule is named, for its filter's name.
	assertField(t, hr, `rule-2`, "spec", "rules", "2", "name")
	assertField(t, hr, `
- extensionRef: {group: gateway.envoyproxy.io, kind: HTTPRouteFilter, name: gatefed-shop-storefront-rule-2}
  type: ExtensionRef
`, "spec", "rules", "2", "filters")
	rules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules")
	if len(rules) != 3 {
		t.Fatalf("%d rules, want 3", len(rules))
	}
	for _, i := range []int{1, 2} {
		if refs := rules[i].(map[string]any)["backendRefs"]; refs != nil {
			t.Errorf("rule %d answers itself but has backendRefs %v", i, refs)
		}
	}
	if refs := rules[0].(map[string]any)["backendRefs"]; refs == nil {
		t.Errorf("rule 0 has no backendRefs")
	}
	filter := find(t, objs, "HTTPRouteFilter", gwNs, "gatefed-shop-storefront-rule-2")
	assertField(t, filter, `{body: {inline: maintenance, type: Inline}, statusCode: 503}`, "spec", "directResponse")
}

// CORS is an HTTPRoute filter; a local rate limit goes into the rule's
// BackendTrafficPolicy.
func TestCORSAndRateLimit(t *testing.T) {
	api := fleettest.NewService("shop", "api", 8080)
	f := fleettest.NewFleet(
		[]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "", 0)},
		[]*fleet.GlobalService{api},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"},
			fleet.Rule{Backends: []fleet.Backend{{Service: "api"}},
				CORS: &fleet.CORS{AllowOrigins: []string{"https://shop.example.com", "https://*.shop.example.com"}, AllowMethods: []string{"GET", "POST"},
					AllowHeaders: []string{"content-type"}, ExposeHeaders: []string{"x-request-id"}, MaxAge: "1h", AllowCredentials: true},
				RateLimit: &fleet.RateLimit{Requests: 100, Unit: "Second"}}),
	)
	objs, _ := renderCluster(t, f, "a")
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	assertField(t, hr, `
- cors:
    allowCredentials: true
    allowHeaders: [content-type]
    allowMethods: [GET, POST]
    allowOrigins: [https://shop.example.com, https://*.shop.example.com]
    exposeHeaders: [x-request-id]
    maxAge: 3600
  type: CORS
`, "spec", "rules", "0", "filters")
	btp := find(t, objs, "BackendTrafficPolicy", gwNs, "gatefed-shop-storefront-rule-0")
	assertField(t, btp, `{local: {rules: [{limit: {requests: 100, unit: Second}}]}}`, "spec", "rateLimit")
}

// A route with tls is served through a ListenerSet on the cluster's Gateway,
// one HTTPS listener per host; with httpsRedirect, plain HTTP redirects.
func TestRouteTLS(t *testing.T) {
	api := fleettest.NewService("shop", "api", 8080)
	r := fleettest.NewRoute("shop", "storefront", []string{"shop.example.com", "www.shop.example.com"}, fleettest.To("api"))
	r.Spec.TLS = &fleet.RouteTLS{SecretName: "shop-tls", HTTPSRedirect: true}
	f := fleettest.NewFleet([]*fleet.Cluster{fleettest.NewCluster("a", "envoy-gateway", "", "", "", 0)}, []*fleet.GlobalService{api}, r)
	objs, _ := renderCluster(t, f, "a")
	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	assertField(t, hr, `[{group: gateway.networking.k8s.io, kind: ListenerSet, name: gatefed-shop-storefront}]`, "spec", "parentRefs")
	ls := find(t, objs, "ListenerSet", gwNs, "gatefed-shop-storefront")
	assertField(t, ls, `{group: gateway.networking.k8s.io, kind: Gateway, name: eg}`, "spec", "parentRef")
	assertField(t, ls, `
- hostname: shop.example.com
  name: https-0
  port: 443
  protocol: HTTPS
  tls: {certificateRefs: [{group: "", kind: Secret, name: shop-tls}], mode: Terminate}
- hostname: www.shop.example.com
  name: https-1
  port: 443
  protocol: HTTPS
  tls: {certificateRefs: [{group: "", kind: Secret, name: shop-tls}], mode: Terminate}
`, "spec", "listeners")
	redirect := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront-https-redirect")
	assertField(t, redirect, `[{group: gateway.networking.k8s.io, kind: Gateway, name: eg}]`, "spec", "parentRefs")
	assertField(t, redirect, `[shop.example.com, www.shop.example.com]`, "spec", "hostnames")
	assertField(t, redirect, `[{filters: [{requestRedirect: {scheme: https, statusCode: 301}, type: RequestRedirect}]}]`, "spec", "rules")

	// Without httpsRedirect there is no redirect route.
	r.Spec.TLS.HTTPSRedirect = false
	objs, _ = renderCluster(t, f, "a")
	for _, o := range ofKind(objs, "HTTPRoute") {
		if o.GetName() != "gatefed-shop-storefront" {
			t.Errorf("unexpected HTTPRoute %s", o.GetName())
		}
	}
}

// The catch-all host is an HTTPRoute without hostnames and, with tls, a
// listener without a hostname, which take every host.
func TestCatchAllHost(t *testing.T) {
	f := orderedFleet()
	f.Routes[0].Spec.Hosts = []string{fleet.CatchAllHost}
	f.Routes[0].Spec.TLS = &fleet.RouteTLS{SecretName: "default-tls", HTTPSRedirect: true}
	objs, _ := renderCluster(t, f, "a")
	for _, hr := range ofKind(objs, "HTTPRoute") {
		if _, found := fieldAt(hr.Object, "spec", "hostnames"); found {
			t.Errorf("HTTPRoute %s has hostnames: %v", hr.GetName(), hr.Object["spec"])
		}
	}
	ls := ofKind(objs, "ListenerSet")
	if len(ls) != 1 {
		t.Fatalf("%d ListenerSets, want 1", len(ls))
	}
	assertField(t, ls[0], `
- name: https-0
  port: 443
  protocol: HTTPS
  tls: {mode: Terminate, certificateRefs: [{group: "", kind: Secret, name: default-tls}]}
`, "spec", "listeners")
}
