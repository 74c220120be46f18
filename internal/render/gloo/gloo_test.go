package gloo

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
)

func TestLocalityFailover(t *testing.T) {
	objs, _ := renderCluster(t, shopFleet(), "east", nil)
	up := find(t, objs, "Upstream", "gatefed-shop-checkout")

	if got := up.GetAPIVersion(); got != "gloo.solo.io/v1" {
		t.Errorf("apiVersion = %q", got)
	}
	assertYAML(t, "metadata", up.Object["metadata"], `
name: gatefed-shop-checkout
namespace: gloo-system
labels:
  app.kubernetes.io/managed-by: gatefed
  gatefed.dev/cluster: east
annotations:
  gatefed.dev/source: GlobalService/shop/checkout
  gatefed.dev/tiers: east,east2,west
`)
	// Same region (east2) before another region (west).
	assertYAML(t, "spec", up.Object["spec"], `
kube:
  serviceName: checkout
  serviceNamespace: shop
  servicePort: 8080
healthChecks:
- timeout: 1.500s
  interval: 10s
  healthyThreshold: 2
  unhealthyThreshold: 4
  httpHealthCheck:
    path: /healthz
failover:
  prioritizedLocalities:
  - localityEndpoints:
    - locality: {region: us-east1, zone: us-east1-c}
      lbEndpoints:
      - address: 10.0.0.2
        port: 16443
        upstreamSslConfig:
          secretRef: {name: failover-upstream, namespace: gloo-system}
          sni: checkout-8080.shop.failover.gatefed.internal
  - localityEndpoints:
    - locality: {region: us-west1, zone: us-west1-a}
      lbEndpoints:
      - address: west.gw.example.com
        port: 15443
        upstreamSslConfig:
          secretRef: {name: failover-upstream, namespace: gloo-system}
          sni: checkout-8080.shop.failover.gatefed.internal
`)
}

func TestOrderedFailover(t *testing.T) {
	f := shopFleet()
	for _, tc := range []struct {
		cluster, tiers string
		addresses      []string
	}{
		// payments orders west, east2, east: a cluster's own endpoints come first, then that order.
		{"east", "east,west,east2", []string{"west.gw.example.com", "10.0.0.2"}},
		{"west", "west,east2,east", []string{"10.0.0.2", "east.gw.example.com"}},
		{"east2", "east2,west,east", []string{"west.gw.example.com", "east.gw.example.com"}},
	} {
		objs, _ := renderCluster(t, f, tc.cluster, nil)
		up := find(t, objs, "Upstream", "gatefed-shop-payments")
		if got := up.GetAnnotations()[render.AnnotationTiers]; got != tc.tiers {
			t.Errorf("%s: tiers annotation = %q, want %q", tc.cluster, got, tc.tiers)
		}
		assertYAML(t, tc.cluster+" kube", up.Object["spec"].(map[string]any)["kube"], `
serviceName: payments-api
serviceNamespace: shop
servicePort: 9090
`)
		var got []string
		prios := up.Object["spec"].(map[string]any)["failover"].(map[string]any)["prioritizedLocalities"].([]any)
		for _, p := range prios {
			le := p.(map[string]any)["localityEndpoints"].([]any)
			if len(le) != 1 {
				t.Fatalf("%s: priority has %d locality entries, want 1", tc.cluster, len(le))
			}
			ep := le[0].(map[string]any)["lbEndpoints"].([]any)[0].(map[string]any)
			got = append(got, ep["address"].(string))
			if sni := ep["upstreamSslConfig"].(map[string]any)["sni"]; sni != "payments-api-9090.shop.failover.gatefed.internal" {
				t.Errorf("%s: sni = %v", tc.cluster, sni)
			}
		}
		if !reflect.DeepEqual(got, tc.addresses) {
			t.Errorf("%s: failover addresses = %v, want %v", tc.cluster, got, tc.addresses)
		}
	}
}

func TestServiceMissingFromSource(t *testing.T) {
	// catalog runs in east2 and west; east reaches it through east2 (same region) first.
	objs, _ := renderCluster(t, shopFleet(), "east", nil)
	up := find(t, objs, "Upstream", "gatefed-shop-catalog")
	if got := up.GetAnnotations()[render.AnnotationTiers]; got != "east2,west" {
		t.Errorf("tiers annotation = %q", got)
	}
	assertYAML(t, "spec", up.Object["spec"], `
static:
  hosts:
  - addr: 10.0.0.2
    port: 16443
    sniAddr: catalog-80.shop.failover.gatefed.internal
  useTls: true
  autoSniRewrite: false
sslConfig:
  secretRef: {name: failover-upstream, namespace: gloo-system}
  sni: catalog-80.shop.failover.gatefed.internal
healthChecks:
- timeout: 1s
  interval: 5s
  healthyThreshold: 1
  unhealthyThreshold: 3
  httpHealthCheck:
    path: /ready
failover:
  prioritizedLocalities:
  - localityEndpoints:
    - locality: {region: us-west1, zone: us-west1-a}
      lbEndpoints:
      - address: west.gw.example.com
        port: 15443
        upstreamSslConfig:
          secretRef: {name: failover-upstream, namespace: gloo-system}
          sni: catalog-80.shop.failover.gatefed.internal
`)
}

func TestVirtualService(t *testing.T) {
	objs, _ := renderCluster(t, shopFleet(), "east", nil)
	vs := find(t, objs, "VirtualService", "gatefed-shop-storefront")
	if got := vs.GetAPIVersion(); got != "gateway.solo.io/v1" {
		t.Errorf("apiVersion = %q", got)
	}
	if got := vs.GetAnnotations()[render.AnnotationSource]; got != "GlobalRoute/shop/storefront" {
		t.Errorf("source = %q", got)
	}
	assertYAML(t, "spec", vs.Object["spec"], `
virtualHost:
  domains: [shop.example.com, www.shop.example.com]
  routes:
  - name: checkout
    matchers:
    - prefix: /checkout
      headers: [{name: x-tenant, value: blue}]
      methods: [POST, PUT]
    routeAction:
      single:
        upstream: {name: gatefed-shop-checkout, namespace: gloo-system}
    options:
      timeout: 90s
      retries:
        retryOn: 5xx,reset,connect-failure,refused-stream
        numRetries: 3
        perTryTimeout: 0.250s
  - matchers: [{exact: /pay}]
    routeAction:
      single:
        upstream: {name: gatefed-shop-payments, namespace: gloo-system}
  - name: catalog-split
    matchers: [{regex: ^/catalog/.*}]
    routeAction:
      multi:
        destinations:
        - destination:
            upstream: {name: gatefed-shop-catalog, namespace: gloo-system}
          weight: 90
        - destination:
            upstream: {name: gatefed-shop-payments, namespace: gloo-system}
          weight: 10
  - matchers: [{prefix: /}]
    routeAction:
      single:
        upstream: {name: gatefed-shop-checkout, namespace: gloo-system}
`)
}

func TestRetriesWithoutAttemptsRetryOnce(t *testing.T) {
	f := shopFleet()
	f.Routes[0].Spec.Rules[1].Retries = &fleet.Retries{}
	objs, _ := renderCluster(t, f, "east", nil)
	vs := find(t, objs, "VirtualService", "gatefed-shop-storefront")
	route := vs.Object["spec"].(map[string]any)["virtualHost"].(map[string]any)["routes"].([]any)[1]
	assertYAML(t, "options", route.(map[string]any)["options"], `
retries:
  retryOn: 5xx,reset,connect-failure,refused-stream
  numRetries: 1
`)
}

func TestOutlierDetection(t *testing.T) {
	objs, _ := renderCluster(t, shopFleet(), "west", nil)
	up := find(t, objs, "Upstream", "gatefed-shop-payments")
	spec := up.Object["spec"].(map[string]any)
	if _, ok := spec["healthChecks"]; ok {
		t.Errorf("healthChecks rendered for a service without spec.healthCheck: %v", spec["healthChecks"])
	}
	assertYAML(t, "outlierDetection", spec["outlierDetection"], `
consecutive5xx: 3
interval: 5s
baseEjectionTime: 60s
maxEjectionPercent: 50
`)

	// Fields left empty stay unset so Envoy's defaults apply, except
	// maxEjectionPercent: Envoy's 10% would keep a tier of many hosts from
	// failing over.
	f := shopFleet()
	f.Service("shop/payments").Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 7}
	objs, _ = renderCluster(t, f, "west", nil)
	up = find(t, objs, "Upstream", "gatefed-shop-payments")
	assertYAML(t, "partial outlierDetection", up.Object["spec"].(map[string]any)["outlierDetection"], `{consecutive5xx: 7, maxEjectionPercent: 100}`)
}

func TestFailoverGatewayOnTarget(t *testing.T) {
	objs, _ := renderCluster(t, shopFleet(), "east", nil)
	gw := find(t, objs, "Gateway", FailoverGatewayName)
	if got := gw.GetAPIVersion(); got != "gateway.solo.io/v1" {
		t.Errorf("apiVersion = %q", got)
	}
	if got := gw.GetNamespace(); got != "gloo-system" {
		t.Errorf("namespace = %q", got)
	}
	if got := gw.GetAnnotations()[render.AnnotationSource]; got != "Cluster/east" {
		t.Errorf("source = %q", got)
	}
	// east runs checkout and payments; catalog and legacy do not run there.
	assertYAML(t, "spec", gw.Object["spec"], `
bindAddress: "::"
bindPort: 15443
proxyNames: [gateway-proxy]
tcpGateway:
  tcpHosts:
  - name: gatefed-local-shop-checkout
    sslConfig:
      secretRef: {name: failover-downstream, namespace: gloo-system}
      sniDomains: [checkout-8080.shop.failover.gatefed.internal]
    destination:
      single:
        upstream: {name: gatefed-local-shop-checkout, namespace: gloo-system}
  - name: gatefed-local-shop-payments
    sslConfig:
      secretRef: {name: failover-downstream, namespace: gloo-system}
      sniDomains: [payments-api-9090.shop.failover.gatefed.internal]
    destination:
      single:
        upstream: {name: gatefed-local-shop-payments, namespace: gloo-system}
`)
	twin := find(t, objs, "Upstream", "gatefed-local-shop-payments")
	assertYAML(t, "twin spec", twin.Object["spec"], `
kube:
  serviceName: payments-api
  serviceNamespace: shop
  servicePort: 9090
`)
	if got := twin.GetAnnotations()[render.AnnotationSource]; got != "GlobalService/shop/payments" {
		t.Errorf("twin source = %q", got)
	}

	// east2 listens on its own failover port.
	objs, _ = renderCluster(t, shopFleet(), "east2", nil)
	gw = find(t, objs, "Gateway", FailoverGatewayName)
	if got := gw.Object["spec"].(map[string]any)["bindPort"]; got != int64(16443) {
		t.Errorf("east2 bindPort = %v", got)
	}
}

func TestNoFailoverGatewayOffTarget(t *testing.T) {
	objs, _ := renderCluster(t, shopFleet(), "edge", nil)
	for _, o := range objs {
		if o.GetKind() == "Gateway" || strings.HasPrefix(o.GetName(), localNamePrefix) {
			t.Errorf("edge is not a failover target but got %s %s", o.GetKind(), o.GetName())
		}
	}
	// edge reaches checkout through east (same zone) first.
	up := find(t, objs, "Upstream", "gatefed-shop-checkout")
	if got := up.GetAnnotations()[render.AnnotationTiers]; got != "east,east2,west" {
		t.Errorf("tiers = %q", got)
	}
	assertYAML(t, "static", up.Object["spec"].(map[string]any)["static"], `
hosts:
- addr: east.gw.example.com
  port: 15443
  sniAddr: checkout-8080.shop.failover.gatefed.internal
useTls: true
autoSniRewrite: false
`)
	// legacy runs on edge itself.
	legacy := find(t, objs, "Upstream", "gatefed-shop-legacy")
	assertYAML(t, "legacy spec", legacy.Object["spec"], `
kube: {serviceName: legacy, serviceNamespace: shop, servicePort: 8000}
`)
}

func TestServiceWithNoTiers(t *testing.T) {
	// legacy runs only on edge, which takes no failover traffic.
	objs, warnings := renderCluster(t, shopFleet(), "east", nil)
	for _, o := range objs {
		if o.GetName() == "gatefed-shop-legacy" {
			t.Errorf("rendered %s for a service no cluster can serve", o.GetKind())
		}
	}
	vs := find(t, objs, "VirtualService", "gatefed-shop-old")
	assertYAML(t, "spec", vs.Object["spec"], `
virtualHost:
  domains: [old.shop.example.com]
  routes:
  - matchers: [{prefix: /}]
    directResponseAction:
      status: 503
      body: |
        no cluster can serve this route
`)
	assertWarning(t, warnings, "GlobalRoute shop/old rules[0]: no backend can take traffic; the VirtualService answers 503")
}

func TestUnservableBackendLeavesTheSplit(t *testing.T) {
	f := shopFleet()
	f.Routes[1].Spec.Rules[0].Backends = []fleet.Backend{fleettest.Backend("legacy", 50), fleettest.Backend("checkout", 50)}
	objs, warnings := renderCluster(t, f, "east", nil)
	vs := find(t, objs, "VirtualService", "gatefed-shop-old")
	route := vs.Object["spec"].(map[string]any)["virtualHost"].(map[string]any)["routes"].([]any)[0]
	assertYAML(t, "routeAction", route.(map[string]any)["routeAction"], `
multi:
  destinations:
  - destination:
      upstream: {name: gatefed-shop-checkout, namespace: gloo-system}
    weight: 50
`)
	assertWarning(t, warnings, "GlobalRoute shop/old rules[0]: backend shop/legacy has no cluster to serve it")
}

func TestZeroWeightBackendGetsNoTraffic(t *testing.T) {
	f := shopFleet()
	f.Routes[0].Spec.Rules[2].Backends = []fleet.Backend{fleettest.Backend("catalog", 0), fleettest.Backend("payments", 3)}
	objs, _ := renderCluster(t, f, "east", nil)
	vs := find(t, objs, "VirtualService", "gatefed-shop-storefront")
	route := vs.Object["spec"].(map[string]any)["virtualHost"].(map[string]any)["routes"].([]any)[2]
	assertYAML(t, "routeAction", route.(map[string]any)["routeAction"], `
multi:
  destinations:
  - destination:
      upstream: {name: gatefed-shop-payments, namespace: gloo-system}
    weight: 3
`)
}

func TestSkippedClusters(t *testing.T) {
	avail := unavailable{{"shop/checkout", "east2"}: "no ready endpoints"}
	objs, _ := renderCluster(t, shopFleet(), "east", avail)
	up := find(t, objs, "Upstream", "gatefed-shop-checkout")
	ann := up.GetAnnotations()
	if got := ann[render.AnnotationTiers]; got != "east,west" {
		t.Errorf("tiers = %q", got)
	}
	if got := ann[render.AnnotationSkipped]; got != "east2: no ready endpoints" {
		t.Errorf("skipped = %q", got)
	}
	prios := up.Object["spec"].(map[string]any)["failover"].(map[string]any)["prioritizedLocalities"].([]any)
	if len(prios) != 1 {
		t.Fatalf("%d failover priorities, want 1 (west)", len(prios))
	}
	if _, ok := find(t, objs, "Upstream", "gatefed-shop-payments").GetAnnotations()[render.AnnotationSkipped]; ok {
		t.Errorf("payments has a skipped annotation though nothing was skipped")
	}

	// east2 no longer accepts failover traffic for checkout.
	objs, _ = renderCluster(t, shopFleet(), "east2", avail)
	for _, o := range objs {
		if o.GetName() == "gatefed-local-shop-checkout" {
			t.Errorf("east2 renders a local Upstream for checkout, which it cannot serve")
		}
	}
	hosts := find(t, objs, "Gateway", FailoverGatewayName).Object["spec"].(map[string]any)["tcpGateway"].(map[string]any)["tcpHosts"].([]any)
	for _, h := range hosts {
		if h.(map[string]any)["name"] == "gatefed-local-shop-checkout" {
			t.Errorf("east2's failover Gateway still accepts checkout")
		}
	}
}

func TestWarnings(t *testing.T) {
	f := shopFleet()
	f.Service("shop/checkout").Spec.HealthCheck = nil
	f.Routes = append(f.Routes, fleettest.NewRoute("shop", "clash", []string{"www.shop.example.com"},
		fleet.Rule{Backends: []fleet.Backend{fleettest.Backend("checkout")}}))
	_, warnings := renderCluster(t, f, "east", nil)
	assertWarning(t, warnings, "GlobalService shop/checkout: failover to east2, west never triggers without spec.healthCheck or spec.outlierDetection")
	assertWarning(t, warnings, `host "www.shop.example.com" is in GlobalRoutes shop/clash and shop/storefront`)
	for _, w := range warnings {
		if strings.Contains(w, "shop/payments") || strings.Contains(w, "shop/catalog") {
			t.Errorf("warning about a service with a health signal: %s", w)
		}
	}
}

func TestDuplicateSNIServedOnce(t *testing.T) {
	f := shopFleet()
	alias := fleettest.NewService("shop", "checkout-alias", 8080, "east")
	alias.Spec.ServiceName = "checkout"
	f.Services = append(f.Services, alias)
	objs, warnings := renderCluster(t, f, "east", nil)
	hosts := find(t, objs, "Gateway", FailoverGatewayName).Object["spec"].(map[string]any)["tcpGateway"].(map[string]any)["tcpHosts"].([]any)
	seen := map[string]bool{}
	for _, h := range hosts {
		for _, d := range h.(map[string]any)["sslConfig"].(map[string]any)["sniDomains"].([]any) {
			if seen[d.(string)] {
				t.Errorf("SNI %s on two tcpHosts", d)
			}
			seen[d.(string)] = true
		}
	}
	assertWarning(t, warnings, "GlobalServices shop/checkout and shop/checkout-alias name the same Service port")
}

func TestNameCollisionIsAnError(t *testing.T) {
	f := shopFleet()
	f.Services = append(f.Services, fleettest.NewService("a-b", "c", 80, "east"), fleettest.NewService("a", "b-c", 80, "east"))
	f.Routes = append(f.Routes, fleettest.NewRoute("a", "r", []string{"r.example.com"},
		fleet.Rule{Backends: []fleet.Backend{fleettest.Backend("a-b/c"), fleettest.Backend("b-c")}}))
	c := f.Cluster("east")
	_, _, err := New().Render(render.Input(f, c, nil))
	if err == nil || !strings.Contains(err.Error(), "GlobalService a-b/c and GlobalService a/b-c both render Upstream gloo-system/gatefed-a-b-c") {
		t.Fatalf("err = %v", err)
	}
}

func TestObjectNames(t *testing.T) {
	dns := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	long := strings.Repeat("n", 63)
	a := objectName(namePrefix, "shop", long)
	b := objectName(namePrefix, "shop", long+"x")
	for _, n := range []string{a, b} {
		if len(n) > maxNameLength || !dns.MatchString(n) {
			t.Errorf("%q is not a DNS label", n)
		}
		if !strings.HasPrefix(n, "gatefed-shop-nnn") {
			t.Errorf("%q lost its readable head", n)
		}
	}
	if a == b {
		t.Errorf("different long names share %q", a)
	}
	if again := objectName(namePrefix, "shop", long); again != a {
		t.Errorf("name not stable: %q then %q", a, again)
	}
	if got := objectName(namePrefix, "shop", "checkout"); got != "gatefed-shop-checkout" {
		t.Errorf("short name = %q", got)
	}
}

func TestProtoDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                       "",
		5 * time.Second:         "5s",
		90 * time.Second:        "90s",
		1500 * time.Millisecond: "1.500s",
		250 * time.Microsecond:  "0.000250s",
		3 * time.Nanosecond:     "0.000000003s",
		-2 * time.Second:        "-2s",
	} {
		if got := protoDuration(d); got != want {
			t.Errorf("protoDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	first, firstWarn := renderCluster(t, shopFleet(), "east", nil)
	f := shopFleet()
	// Input order must not matter.
	f.Services[0], f.Services[1] = f.Services[1], f.Services[0]
	f.Routes[0], f.Routes[1] = f.Routes[1], f.Routes[0]
	second, secondWarn := renderCluster(t, f, "east", nil)
	if len(first) != len(second) {
		t.Fatalf("%d objects then %d", len(first), len(second))
	}
	for i := range first {
		if !reflect.DeepEqual(first[i].Object, second[i].Object) {
			t.Errorf("object %d differs: %s/%s vs %s/%s", i, first[i].GetKind(), first[i].GetName(), second[i].GetKind(), second[i].GetName())
		}
	}
	if !reflect.DeepEqual(firstWarn, secondWarn) {
		t.Errorf("warnings differ:\n%v\n%v", firstWarn, secondWarn)
	}
}

func TestRegistered(t *testing.T) {
	f := shopFleet()
	res, err := render.Render(f, render.Options{Clusters: []string{"east"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Clusters) != 1 || len(res.Clusters[0].Objects) == 0 {
		t.Fatalf("render.Render returned %+v", res.Clusters)
	}
	find(t, res.Clusters[0].Objects, "Gateway", FailoverGatewayName)
}

func assertWarning(t *testing.T, warnings []string, want string) {
	t.Helper()
	for _, w := range warnings {
		if strings.Contains(w, want) {
			return
		}
	}
	t.Errorf("no warning containing %q in:\n%s", want, strings.Join(warnings, "\n"))
}
