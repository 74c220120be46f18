package istio

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
)

// priorityOf is the priority Istio gives an endpoint for a failoverPriority
// list of "label=value" entries: the number of entries minus the number of
// leading entries the endpoint's labels match.
func priorityOf(labels map[string]string, list []string) int {
	matched := 0
	for _, e := range list {
		k, v, _ := strings.Cut(e, "=")
		if labels[k] != v {
			break
		}
		matched++
	}
	return len(list) - matched
}

func TestTierLabelsGiveTierOrder(t *testing.T) {
	for n := 1; n <= 6; n++ {
		list := failoverPriority(n)
		if len(list) != n-1 {
			t.Errorf("%d tiers: %d failoverPriority entries, want %d", n, len(list), n-1)
		}
		for i := 0; i < n; i++ {
			if got := priorityOf(tierLabels(i, n), list); got != i {
				t.Errorf("%d tiers: tier %d gets priority %d (labels %v, list %v)", n, i, got, tierLabels(i, n), list)
			}
		}
	}
}

const testFleet = `apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: a}
spec:
  region: r1
  gateway: {provider: istio, selector: {app: gw}}
  failover: {address: 192.0.2.1}
---
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: b}
spec:
  region: r1
  gateway: {provider: gloo}
  failover: {address: b.lb.example.net, port: 16443}
---
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: c}
spec:
  region: r2
  gateway: {provider: envoy-gateway}
  failover: {address: 192.0.2.3}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: web, namespace: shop}
spec:
  port: 8080
  failover: {policy: ordered, order: [c, b]}
  healthCheck: {path: /healthz, interval: 2s, unhealthyThreshold: 4}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: local, namespace: shop}
spec:
  port: 80
  clusters: {names: [a]}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: gone, namespace: shop}
spec:
  port: 81
  clusters: {names: [c]}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalRoute
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop.example.com]
  clusters: {names: [a]}
  rules:
  - name: split
    match: {pathPrefix: /x, methods: [GET, POST], headers: [{name: X-User, value: v}]}
    backends: [{service: web, weight: 3}, {service: local, weight: 1}]
    mirror: {service: gone, percent: 5}
  - name: local
    backends: [{service: local}]
    timeout: 3s
  - name: down
    match: {pathPrefix: /gone}
    backends: [{service: gone}]
    retries: {perTryTimeout: 1s}
`

// down makes shop/gone unavailable everywhere, as --discover would.
type down struct{}

func (down) Unavailable(s *fleet.GlobalService, _ string) string {
	if s.Metadata.Name == "gone" {
		return "not deployed"
	}
	return ""
}

func renderA(t *testing.T) (map[string]*unstructured.Unstructured, []string) {
	t.Helper()
	return renderAOf(t, testFleet)
}

func renderAOf(t *testing.T, text string) (map[string]*unstructured.Unstructured, []string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := fleet.Load([]string{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	objs, warns, err := New().Render(render.Input(f, f.Cluster("a"), down{}))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetAPIVersion() != APIVersion || o.GetNamespace() != "istio-system" {
			t.Errorf("%s %s/%s: apiVersion %s", o.GetKind(), o.GetNamespace(), o.GetName(), o.GetAPIVersion())
		}
		if o.GetLabels()[render.LabelCluster] != "a" || o.GetAnnotations()[render.AnnotationSource] == "" {
			t.Errorf("%s %s not stamped: %v %v", o.GetKind(), o.GetName(), o.GetLabels(), o.GetAnnotations())
		}
		byName[o.GetKind()+"/"+o.GetName()] = o
	}
	return byName, warns
}

func field(t *testing.T, o *unstructured.Unstructured, path ...string) any {
	t.Helper()
	var cur any = o.Object
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			cur = c[i]
		default:
			t.Fatalf("%s: no %v", o.GetName(), path)
		}
	}
	return cur
}

func TestRenderIstioCluster(t *testing.T) {
	objs, warns := renderA(t)
	var names []string
	for n := range objs {
		names = append(names, n)
	}
	for _, want := range []string{"Gateway/gatefed", "Gateway/gatefed-failover", "VirtualService/gatefed-shop-shop",
		"ServiceEntry/gatefed-shop-web", "DestinationRule/gatefed-shop-web",
		"VirtualService/gatefed-failover-shop-web", "VirtualService/gatefed-failover-shop-local"} {
		if objs[want] == nil {
			t.Errorf("no %s in %v", want, names)
		}
	}
	if len(objs) != 7 {
		t.Errorf("%d objects, want 7: %v", len(objs), names)
	}

	// Tiers a (itself), c, b at their failover addresses; DNS for b.
	se := objs["ServiceEntry/gatefed-shop-web"]
	if got := fmt.Sprint(field(t, se, "spec", "resolution"), " ", field(t, se, "spec", "location")); got != "DNS MESH_EXTERNAL" {
		t.Errorf("resolution, location: %s", got)
	}
	var eps []string
	for _, e := range field(t, se, "spec", "endpoints").([]any) {
		m := e.(map[string]any)
		eps = append(eps, fmt.Sprintf("%v:%v tier %v", m["address"], m["ports"].(map[string]any)["http"], m["labels"].(map[string]any)[TierLabel]))
	}
	if got := strings.Join(eps, ", "); got != "192.0.2.1:15443 tier 0, 192.0.2.3:15443 tier 1, b.lb.example.net:16443 tier 2" {
		t.Errorf("endpoints: %s", got)
	}
	if got := se.GetAnnotations()[render.AnnotationTiers]; got != "a,c,b" {
		t.Errorf("tiers annotation %q", got)
	}

	dr := objs["DestinationRule/gatefed-shop-web"]
	tls := field(t, dr, "spec", "trafficPolicy", "tls").(map[string]any)
	sni := "web-8080.shop." + render.FailoverDomain
	if tls["mode"] != "MUTUAL" || tls["credentialName"] != render.FailoverUpstreamSecret || tls["sni"] != sni || fmt.Sprint(tls["subjectAltNames"]) != "["+sni+"]" {
		t.Errorf("tls %v", tls)
	}
	// healthCheck only: outlier detection from it, and a warning.
	od := field(t, dr, "spec", "trafficPolicy", "outlierDetection").(map[string]any)
	if fmt.Sprintf("%v %v %v", od["consecutive5xxErrors"], od["interval"], od["maxEjectionPercent"]) != "4 2s 100" {
		t.Errorf("outlierDetection %v", od)
	}
	if !strings.Contains(strings.Join(warns, "\n"), "GlobalService shop/web: Istio has no active health check") {
		t.Errorf("no health check warning in %q", warns)
	}
	if got := fmt.Sprint(field(t, dr, "spec", "trafficPolicy", "loadBalancer", "localityLbSetting", "failoverPriority")); got != "[gatefed.dev/before-tier-2=true gatefed.dev/before-tier-1=true]" {
		t.Errorf("failoverPriority %s", got)
	}

	vs := objs["VirtualService/gatefed-shop-shop"]
	split := field(t, vs, "spec", "http", "0").(map[string]any)
	if got := fmt.Sprint(split["route"]); got != "[map[destination:map[host:web.shop.tiers.gatefed.internal port:map[number:8080]] weight:3] map[destination:map[host:local.shop.svc.cluster.local port:map[number:80]] weight:1]]" {
		t.Errorf("split route %s", got)
	}
	if got := fmt.Sprint(split["match"]); got != "[map[headers:map[x-user:map[exact:v]] method:map[exact:GET] uri:map[prefix:/x]] map[headers:map[x-user:map[exact:v]] method:map[exact:POST] uri:map[prefix:/x]]]" {
		t.Errorf("matches %s", got)
	}
	if split["mirrors"] != nil {
		t.Errorf("mirror to a service no cluster serves: %v", split["mirrors"])
	}
	if fmt.Sprint(split["retries"]) != "map[attempts:0]" {
		t.Errorf("retries without retries: %v", split["retries"])
	}
	local := field(t, vs, "spec", "http", "1").(map[string]any)
	if local["timeout"] != "3s" || fmt.Sprint(local["route"]) != "[map[destination:map[host:local.shop.svc.cluster.local port:map[number:80]]]]" {
		t.Errorf("local rule %v", local)
	}
	gone := field(t, vs, "spec", "http", "2").(map[string]any)
	if fmt.Sprint(gone["directResponse"]) != "map[body:map[string:no cluster can serve this route\n] status:503]" || gone["retries"] != nil || gone["route"] != nil {
		t.Errorf("rule without a serving cluster %v", gone)
	}
	all := strings.Join(warns, "\n")
	for _, w := range []string{`rule "split": mirror shop/gone has no cluster`, `rule "down": no backend can take traffic; the VirtualService answers 503`} {
		if !strings.Contains(all, w) {
			t.Errorf("no warning %q in %q", w, warns)
		}
	}

	// The failover side: one server per SNI, each to the local Service only.
	fgw := objs["Gateway/gatefed-failover"]
	if fmt.Sprint(field(t, fgw, "spec", "selector")) != "map[app:gw]" {
		t.Errorf("selector %v", field(t, fgw, "spec", "selector"))
	}
	servers := field(t, fgw, "spec", "servers").([]any)
	if len(servers) != 2 {
		t.Fatalf("%d failover servers, want 2", len(servers))
	}
	for _, s := range servers {
		m := s.(map[string]any)
		if len(m["hosts"].([]any)) != 1 || fmt.Sprint(m["tls"]) != "map[credentialName:failover-downstream mode:MUTUAL]" || fmt.Sprint(m["port"].(map[string]any)["number"]) != "15443" {
			t.Errorf("failover server %v", m)
		}
	}
	fvs := objs["VirtualService/gatefed-failover-shop-web"]
	if got := fmt.Sprint(field(t, fvs, "spec", "tcp")); got != "[map[route:[map[destination:map[host:web.shop.svc.cluster.local port:map[number:8080]]]]]]" {
		t.Errorf("failover tcp route %s", got)
	}
	if got := fmt.Sprintf("%v %v", field(t, fvs, "spec", "hosts"), field(t, fvs, "spec", "gateways")); got != "["+sni+"] [istio-system/gatefed-failover]" {
		t.Errorf("failover VirtualService %s", got)
	}
}

// The catch-all host is Istio's host "*" on the Gateway's server and the
// VirtualService.
func TestCatchAllHost(t *testing.T) {
	objs, _ := renderAOf(t, strings.Replace(testFleet, "hosts: [shop.example.com]", `hosts: ["*"]`, 1))
	if got := fmt.Sprint(field(t, objs["VirtualService/gatefed-shop-shop"], "spec", "hosts")); got != "[*]" {
		t.Errorf("VirtualService hosts %s", got)
	}
	servers := field(t, objs["Gateway/gatefed"], "spec", "servers").([]any)
	if got := fmt.Sprint(servers[0].(map[string]any)["hosts"]); got != "[*]" {
		t.Errorf("Gateway server hosts %s", got)
	}
}

// A prefix rewrite that would give // on Istio (which replaces the matched
// characters as Gloo does) is warned about, as on Gloo.
func TestPrefixRewriteSlashWarns(t *testing.T) {
	route := fleettest.NewRoute("shop", "web", []string{"shop.example.com"}, fleettest.To("checkout"))
	route.Spec.Rules[0].Match = &fleet.Match{PathPrefix: "/api"}
	route.Spec.Rules[0].Rewrite = &fleet.Rewrite{PathPrefix: "/"}
	f := fleettest.NewFleet(
		[]*fleet.Cluster{fleettest.NewCluster("a", Name, "", "", "10.0.0.1", 0)},
		[]*fleet.GlobalService{fleettest.NewService("shop", "checkout", 8080)},
		route,
	)
	_, warnings, err := New().Render(render.Input(f, f.Cluster("a"), nil))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range warnings {
		found = found || strings.Contains(w, `rewrite.pathPrefix "/" replaces the matched prefix "/api" character for character on Istio, so /api/x becomes //x`)
	}
	if !found {
		t.Errorf("no // warning among %q", warnings)
	}
}
