package envoygateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/rendertest"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// egControllerName is the GatewayClass controller Envoy Gateway serves.
const egControllerName = "gateway.envoyproxy.io/gatewayclass-controller"

// egWorld is what an envoy-gateway cluster holds besides gatefed's objects
// when gatefed's objects are translated: the GatewayClass, the cluster's
// Gateway, the Services of the GlobalServices that run there (each with a
// cluster IP) and the failover Secrets.
type egWorld struct {
	objects   []any
	clusterIP map[string]string // service key -> cluster IP
}

func newEGWorld(t testing.TB, f *fleet.Fleet, in *render.ClusterInput, ca *localfleet.CertAuthority) *egWorld {
	t.Helper()
	c := in.Cluster
	gw := c.Spec.Gateway
	w := &egWorld{clusterIP: map[string]string{}}
	namespaces := map[string]bool{gw.Namespace: true}

	w.objects = append(w.objects,
		&gwapiv1.GatewayClass{
			TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "GatewayClass"},
			ObjectMeta: metav1.ObjectMeta{Name: gw.ClassName},
			Spec:       gwapiv1.GatewayClassSpec{ControllerName: egControllerName},
		},
		&gwapiv1.Gateway{
			TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "Gateway"},
			ObjectMeta: metav1.ObjectMeta{Name: gw.Name, Namespace: gw.Namespace},
			Spec: gwapiv1.GatewaySpec{
				GatewayClassName: gwapiv1.ObjectName(gw.ClassName),
				Listeners:        []gwapiv1.Listener{{Name: "http", Port: 80, Protocol: gwapiv1.HTTPProtocolType}},
				// gatefed's ListenerSets (routes with tls) attach here.
				AllowedListeners: &gwapiv1.AllowedListeners{Namespaces: &gwapiv1.ListenerNamespaces{From: func() *gwapiv1.FromNamespaces { v := gwapiv1.NamespacesFromSame; return &v }()}},
			},
		},
	)

	// Every GlobalService placed here has its Kubernetes Service.
	n := 0
	for _, s := range f.Services {
		if !s.Spec.Clusters.Matches(c) {
			continue
		}
		n++
		ip := fmt.Sprintf("10.96.0.%d", 10+n)
		w.clusterIP[s.Key()] = ip
		namespaces[s.Metadata.Namespace] = true
		w.objects = append(w.objects, &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: s.ServiceName(), Namespace: s.Metadata.Namespace},
			Spec: corev1.ServiceSpec{
				ClusterIP: ip,
				Ports:     []corev1.ServicePort{{Name: "http", Port: s.Spec.Port, Protocol: corev1.ProtocolTCP}},
			},
		})
	}

	hosts := []string{render.FailoverDomain}
	for ns := range namespaces {
		hosts = append(hosts, "*."+ns+"."+render.FailoverDomain)
	}
	for _, s := range f.Services {
		hosts = append(hosts, "*."+s.Metadata.Namespace+"."+render.FailoverDomain)
	}
	sort.Strings(hosts)
	secrets, err := testfleet.FailoverSecrets(ca, c.Name(), gw.Namespace, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range secrets {
		w.objects = append(w.objects, sec)
	}
	// The certificates of the routes served over HTTPS.
	for _, r := range in.Routes {
		if r.Spec.TLS == nil {
			continue
		}
		cert, key, err := ca.ServerCert(r.Spec.Hosts...)
		if err != nil {
			t.Fatal(err)
		}
		w.objects = append(w.objects, testfleet.TLSSecret(ca, gw.Namespace, r.Spec.TLS.SecretName, cert, key))
	}

	var nsNames []string
	for ns := range namespaces {
		nsNames = append(nsNames, ns)
	}
	sort.Strings(nsNames)
	for _, ns := range nsNames {
		w.objects = append(w.objects, &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns},
		})
	}
	return w
}

// translate runs the real egctl on the cluster's rendered objects and its
// world and returns egctl's JSON output: the Gateway API objects with the
// statuses Envoy Gateway would write, and the Envoy configuration.
func translate(t testing.TB, objs []*unstructured.Unstructured, w *egWorld) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	write := func(o any) {
		data, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	for _, o := range w.objects {
		write(o)
	}
	for _, o := range objs {
		// egctl has no Wasm module cache: it refuses every Wasm
		// EnvoyExtensionPolicy and answers the route with a 500
		// (TestEgctlHasNoWasmCache); the controller test proves them.
		if o.GetKind() == "EnvoyExtensionPolicy" {
			continue
		}
		write(o.Object)
	}
	in := filepath.Join(t.TempDir(), "in.yaml")
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testfleet.EgctlBin(), "x", "translate", "--from", "gateway-api", "--to", "gateway-api,xds",
		"-t", "all", "-o", "json", "-f", in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("egctl x translate %s: %v\n%s", in, err, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("egctl output: %v", err)
	}
	// GATEFED_KEEP_TRANSLATION=DIR keeps each input and translation there.
	if dir := os.Getenv("GATEFED_KEEP_TRANSLATION"); dir != "" {
		base := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(base+".in.yaml", buf.Bytes(), 0o644)
		_ = os.WriteFile(base+".out.json", out, 0o644)
	}
	return res
}

// Accessors for decoded JSON and the example fleets' clusters.
var (
	get, list, str, num = rendertest.Get, rendertest.List, rendertest.Str, rendertest.Num
	forExampleClusters  = rendertest.ForExampleClusters
	envoyDuration       = rendertest.EnvoyDuration
)

// TestEnvoyGatewayTranslation renders every example fleet and translates
// each envoy-gateway cluster's objects with Envoy Gateway's own translator
// (egctl x translate). It asserts from the statuses and the Envoy
// configuration that translator writes, not from gatefed's objects:
//   - every HTTPRoute, TLSRoute, Backend and policy is accepted with its
//     references resolved;
//   - every rule is exactly one Envoy cluster (no weighted split across
//     clusters), holding each backend's tiers in order: tier 0 at priority 0
//     (local endpoints when the service runs here), later tiers at priority
//     1, or at their tier number where the cluster sets
//     spec.gateway.strictTiers and the rule has a service of more than two
//     tiers (the EnvoyPatchPolicy, Accepted), each locality with its
//     backend's weight;
//   - remote tiers speak TLS with the service's SNI, the failover-upstream
//     client certificate and a CA that checks the SNI; local ones do not;
//   - the rule's active health check and outlier detection are the
//     GlobalService's;
//   - on failover targets, the failover listener has one filter chain per
//     served SNI, requires a client certificate and sends only to the local
//     Service.
func TestEnvoyGatewayTranslation(t *testing.T) {
	if err := testfleet.CheckEnvoyGatewayBinaries(); err != nil {
		t.Fatal(err)
	}
	ca, err := localfleet.NewCertAuthority("translate")
	if err != nil {
		t.Fatal(err)
	}
	// egctl v1.9.1 loads no ListenerSet (routes with tls):
	// TestEnvoyGatewayControllerConfig runs those clusters' renders on the
	// real controller instead.
	skipListenerSets := func(co *render.ClusterOutput) bool { return usesListenerSets(co.Objects) }
	forExampleClusters(t, "envoy-gateway", skipListenerSets, func(t *testing.T, f *fleet.Fleet, co *render.ClusterOutput) {
		in := render.Input(f, co.Cluster, nil)
		w := newEGWorld(t, f, in, ca)
		tr := &translation{t: t, in: in, world: w, objs: co.Objects, out: translate(t, co.Objects, w)}
		tr.assertStatuses()
		tr.assertRules()
		tr.assertFailoverListener()
	})
}

type translation struct {
	t     *testing.T
	in    *render.ClusterInput
	world *egWorld
	objs  []*unstructured.Unstructured
	out   map[string]any
	// controller: the statuses are the real controller's, which reports
	// whether an EnvoyPatchPolicy's patches applied (Programmed); egctl
	// reports only the translation's Accepted.
	controller bool
}

// statusOf finds an object of the translator's output by kind and name.
func (tr *translation) statusOf(kind, ns, name string) map[string]any {
	key := map[string]string{
		"HTTPRoute": "httpRoutes", "TLSRoute": "tlsRoutes", "Backend": "backends",
		"BackendTrafficPolicy": "backendTrafficPolicies", "ClientTrafficPolicy": "clientTrafficPolicies",
		"Gateway": "gateways", "EnvoyPatchPolicy": "envoyPatchPolicies",
	}[kind]
	for _, o := range list(tr.out, key) {
		if str(o, "metadata", "namespace") == ns && str(o, "metadata", "name") == name {
			m, _ := get(o, "status").(map[string]any)
			return m
		}
	}
	return nil
}

func conditionTrue(conds []any, typ string) (bool, string) {
	for _, c := range conds {
		if str(c, "type") == typ {
			return str(c, "status") == "True", str(c, "reason") + ": " + str(c, "message")
		}
	}
	return false, "no " + typ + " condition"
}

func (tr *translation) assertStatuses() {
	t := tr.t
	checked := 0
	for _, o := range tr.objs {
		kind, ns, name := o.GetKind(), o.GetNamespace(), o.GetName()
		var groups [][]any
		var want []string
		st := tr.statusOf(kind, ns, name)
		switch kind {
		case "HTTPRoute", "TLSRoute":
			for _, p := range list(st, "parents") {
				groups = append(groups, list(p, "conditions"))
			}
			want = []string{"Accepted", "ResolvedRefs"}
		case "Backend":
			groups = [][]any{list(st, "conditions")}
			want = []string{"Accepted"}
		case "BackendTrafficPolicy", "ClientTrafficPolicy", "EnvoyPatchPolicy":
			for _, a := range list(st, "ancestors") {
				groups = append(groups, list(a, "conditions"))
			}
			want = []string{"Accepted"}
			if kind == "EnvoyPatchPolicy" && tr.controller {
				want = append(want, "Programmed")
			}
		case "Gateway":
			for _, l := range list(st, "listeners") {
				groups = append(groups, list(l, "conditions"))
			}
			want = []string{"Accepted", "ResolvedRefs"}
		default:
			continue
		}
		if len(groups) == 0 {
			t.Errorf("%s %s/%s: the translator wrote no status: %v", kind, ns, name, st)
			continue
		}
		for _, conds := range groups {
			for _, typ := range want {
				if ok, why := conditionTrue(conds, typ); !ok {
					t.Errorf("%s %s/%s: %s is not True (%s)", kind, ns, name, typ, why)
				}
			}
		}
		checked++
	}
	if checked == 0 {
		t.Errorf("no object's status checked")
	}
}

// xds returns the config dump of one Gateway, by @type suffix.
func (tr *translation) xds(gateway, typ string) any {
	for _, c := range list(tr.out, "xds", gateway, "configs") {
		if strings.HasSuffix(str(c, "@type"), typ) {
			return c
		}
	}
	return nil
}

func (tr *translation) mainGateway() string {
	g := tr.in.Cluster.Spec.Gateway
	return g.Namespace + "/" + g.Name
}

// envoyCluster returns the cluster of one gateway by name, and its load
// assignment (inline for DNS clusters, from EDS for static ones).
func (tr *translation) envoyCluster(gateway, name string) (cluster, endpoints any) {
	for _, c := range list(tr.xds(gateway, "ClustersConfigDump"), "dynamicActiveClusters") {
		if str(c, "cluster", "name") == name {
			cluster = get(c, "cluster")
		}
	}
	if cluster == nil {
		return nil, nil
	}
	if la := get(cluster, "loadAssignment"); la != nil {
		return cluster, la
	}
	for _, e := range list(tr.xds(gateway, "EndpointsConfigDump"), "dynamicEndpointConfigs") {
		if str(e, "endpointConfig", "clusterName") == name {
			return cluster, get(e, "endpointConfig")
		}
	}
	return cluster, nil
}

// wantLocality is what one tier of one backend should be in the rule's cluster.
type wantLocality struct {
	tier     string // cluster name of the tier, for messages
	priority int
	weight   int
	address  string
	port     int
	sni      string // "" for plain local endpoints
}

func (tr *translation) httpRouteFor(route *fleet.GlobalRoute) *unstructured.Unstructured {
	for _, o := range tr.objs {
		if o.GetKind() == "HTTPRoute" && o.GetAnnotations()[render.AnnotationSource] == fleet.KindGlobalRoute+"/"+route.Key() {
			return o
		}
	}
	tr.t.Fatalf("no HTTPRoute rendered for GlobalRoute %s", route.Key())
	return nil
}

func (tr *translation) assertRules() {
	t := tr.t
	c := tr.in.Cluster
	gw := tr.mainGateway()
	routeConfigs := list(tr.xds(gw, "RoutesConfigDump"), "dynamicRouteConfigs")
	for _, route := range tr.in.Routes {
		hr := tr.httpRouteFor(route)
		for i, rule := range route.Spec.Rules {
			label := fmt.Sprintf("GlobalRoute %s rule %d", route.Key(), i)
			clusterName := fmt.Sprintf("httproute/%s/%s/rule/%d", hr.GetNamespace(), hr.GetName(), i)

			// Every Envoy route of the rule sends to the rule's one cluster.
			routes := 0
			for _, rc := range routeConfigs {
				for _, vh := range list(rc, "routeConfig", "virtualHosts") {
					for _, r := range list(vh, "routes") {
						if !strings.HasPrefix(str(r, "name"), clusterName+"/") {
							continue
						}
						routes++
						rendertest.AssertRouteOptions(t, label, r, &route.Spec.Rules[i])
						tr.assertMirror(label, r, route, &route.Spec.Rules[i], clusterName)
						if len(rule.Backends) == 0 {
							continue
						}
						if wc := get(r, "route", "weightedClusters"); wc != nil {
							t.Errorf("%s: route %s splits over several clusters: %v", label, str(r, "name"), wc)
						} else if got := str(r, "route", "cluster"); got != clusterName {
							t.Errorf("%s: route %s sends to %q, want %q (%v)", label, str(r, "name"), got, clusterName, get(r, "route"))
						}
					}
				}
			}
			if routes == 0 {
				t.Errorf("%s: no Envoy route for it in %s", label, gw)
				continue
			}
			if len(rule.Backends) == 0 {
				continue // the gateway answers itself: no cluster
			}

			var want []wantLocality
			var services []*fleet.GlobalService
			byName := false
			for _, b := range rule.Backends {
				p := tr.in.Used[route.BackendRef(b)]
				services = append(services, p.Service)
				for _, tier := range p.Tiers {
					if !tier.Local && !fleet.AddressIsIP(tier.Cluster.Spec.Failover.Address) {
						byName = true
					}
				}
			}
			strict := tr.strictTiers(route, &route.Spec.Rules[i])
			for _, b := range rule.Backends {
				p := tr.in.Used[route.BackendRef(b)]
				for i, tier := range p.Tiers {
					l := wantLocality{tier: tier.Cluster.Name(), weight: int(b.WeightOf())}
					switch {
					case strict:
						l.priority = i // the EnvoyPatchPolicy's order
					case i > 0:
						l.priority = 1 // Envoy Gateway's one fallback priority
					}
					switch {
					case tier.Local && byName:
						l.address = p.Service.ServiceName() + "." + p.Service.Metadata.Namespace + ".svc." + c.Domain()
						l.port = int(p.Service.Spec.Port)
					case tier.Local:
						l.address = tr.world.clusterIP[p.Service.Key()]
						l.port = int(p.Service.Spec.Port)
					default:
						l.address = tier.Cluster.Spec.Failover.Address
						l.port = int(tier.Cluster.FailoverPort())
						l.sni = render.FailoverSNI(p.Service)
					}
					want = append(want, l)
				}
			}
			cluster, la := tr.envoyCluster(gw, clusterName)
			if cluster == nil || la == nil {
				t.Errorf("%s: no Envoy cluster %s with endpoints", label, clusterName)
				continue
			}
			tr.assertLocalities(label, cluster, la, want)
			tr.assertHealth(label, cluster, services)
		}
	}
}

// strictTiers reports whether the cluster orders the rule's tiers strictly:
// it sets spec.gateway.strictTiers and the rule sends to a service with more
// than two tiers.
func (tr *translation) strictTiers(route *fleet.GlobalRoute, rule *fleet.Rule) bool {
	if !tr.in.Cluster.Spec.Gateway.StrictTiers {
		return false
	}
	for _, b := range rule.Backends {
		if len(tr.in.Used[route.BackendRef(b)].Tiers) > 2 && b.WeightOf() > 0 {
			return true
		}
	}
	return false
}

func (tr *translation) assertLocalities(label string, cluster, la any, want []wantLocality) {
	t := tr.t
	got := list(la, "endpoints")
	if len(got) != len(want) {
		t.Errorf("%s: %d localities, want %d (one per backend and tier): %v", label, len(got), len(want), got)
		return
	}
	matches := map[string]any{}
	for _, m := range list(cluster, "transportSocketMatches") {
		matches[str(m, "name")] = get(m, "transportSocket")
	}
	for i, w := range want {
		l := got[i]
		what := fmt.Sprintf("%s: tier %s (locality %d)", label, w.tier, i)
		if p := int(num(l, "priority")); p != w.priority {
			t.Errorf("%s: priority %d, want %d", what, p, w.priority)
		}
		if wt := int(num(l, "loadBalancingWeight")); wt != w.weight {
			t.Errorf("%s: locality weight %d, want %d", what, wt, w.weight)
		}
		eps := list(l, "lbEndpoints")
		if len(eps) != 1 {
			t.Errorf("%s: %d endpoints, want 1", what, len(eps))
			continue
		}
		sa := get(eps[0], "endpoint", "address", "socketAddress")
		if a, p := str(sa, "address"), int(num(sa, "portValue")); a != w.address || p != w.port {
			t.Errorf("%s: endpoint %s:%d, want %s:%d", what, a, p, w.address, w.port)
		}
		match := str(eps[0], "metadata", "filterMetadata", "envoy.transport_socket_match", "name")
		if w.sni == "" {
			if match != "" {
				t.Errorf("%s: local endpoint uses transport socket %q, want plain", what, match)
			}
			continue
		}
		ts := matches[match]
		if ts == nil {
			t.Errorf("%s: remote endpoint has no TLS transport socket (match %q)", what, match)
			continue
		}
		tls := get(ts, "typedConfig")
		if sni := str(tls, "sni"); sni != w.sni {
			t.Errorf("%s: SNI %q, want %q", what, sni, w.sni)
		}
		certs := list(tls, "commonTlsContext", "tlsCertificateSdsSecretConfigs")
		wantCert := tr.in.Cluster.Spec.Gateway.Namespace + "/" + render.FailoverUpstreamSecret
		if len(certs) != 1 || str(certs[0], "name") != wantCert {
			t.Errorf("%s: client certificate %v, want %s", what, certs, wantCert)
		}
		vc := get(tls, "commonTlsContext", "combinedValidationContext")
		if str(vc, "validationContextSdsSecretConfig", "name") == "" {
			t.Errorf("%s: no CA validation of the target: %v", what, get(tls, "commonTlsContext"))
		}
		sans := list(vc, "defaultValidationContext", "matchTypedSubjectAltNames")
		if len(sans) != 1 || str(sans[0], "matcher", "exact") != w.sni {
			t.Errorf("%s: target certificate names checked %v, want exactly %s", what, sans, w.sni)
		}
	}
}

// assertHealth checks the rule's health settings: those of the first of its
// services that has each (Envoy Gateway holds one per rule).
func (tr *translation) assertHealth(label string, cluster any, services []*fleet.GlobalService) {
	t := tr.t
	var hc *fleet.HealthCheck
	var od *fleet.OutlierDetection
	for _, s := range services {
		if hc == nil {
			hc = s.Spec.HealthCheck
		}
		if od == nil {
			od = s.Spec.OutlierDetection
		}
	}
	checks := list(cluster, "healthChecks")
	switch {
	case hc == nil && len(checks) > 0:
		t.Errorf("%s: active health check %v, but no GlobalService of the rule has one", label, checks)
	case hc != nil && len(checks) != 1:
		t.Errorf("%s: %d active health checks, want 1", label, len(checks))
	case hc != nil:
		h := checks[0]
		if p := str(h, "httpHealthCheck", "path"); p != hc.Path {
			t.Errorf("%s: health check path %q, want %q", label, p, hc.Path)
		}
		if hc.Interval != "" && envoyDuration(get(h, "interval")) != hc.Interval.Std() {
			t.Errorf("%s: health check interval %v, want %s", label, get(h, "interval"), hc.Interval)
		}
		if hc.Timeout != "" && envoyDuration(get(h, "timeout")) != hc.Timeout.Std() {
			t.Errorf("%s: health check timeout %v, want %s", label, get(h, "timeout"), hc.Timeout)
		}
		if hc.HealthyThreshold > 0 && int32(num(h, "healthyThreshold")) != hc.HealthyThreshold {
			t.Errorf("%s: healthy threshold %v, want %d", label, get(h, "healthyThreshold"), hc.HealthyThreshold)
		}
		if hc.UnhealthyThreshold > 0 && int32(num(h, "unhealthyThreshold")) != hc.UnhealthyThreshold {
			t.Errorf("%s: unhealthy threshold %v, want %d", label, get(h, "unhealthyThreshold"), hc.UnhealthyThreshold)
		}
	}
	o := get(cluster, "outlierDetection")
	switch {
	case od == nil:
		if o != nil {
			t.Errorf("%s: outlier detection %v, but no GlobalService of the rule has it", label, o)
		}
	case o == nil:
		t.Errorf("%s: no outlier detection, want %+v", label, *od)
	default:
		if od.Consecutive5xx > 0 && int32(num(o, "consecutive5xx")) != od.Consecutive5xx {
			t.Errorf("%s: consecutive5xx %v, want %d", label, get(o, "consecutive5xx"), od.Consecutive5xx)
		}
		// Envoy's default is 10%: 100 unless the service sets it.
		if got := int32(num(o, "maxEjectionPercent")); got != od.MaxEjection() {
			t.Errorf("%s: maxEjectionPercent %v, want %d", label, get(o, "maxEjectionPercent"), od.MaxEjection())
		}
		if od.Interval != "" && envoyDuration(get(o, "interval")) != od.Interval.Std() {
			t.Errorf("%s: outlier interval %v, want %s", label, get(o, "interval"), od.Interval)
		}
		if od.BaseEjectionTime != "" && envoyDuration(get(o, "baseEjectionTime")) != od.BaseEjectionTime.Std() {
			t.Errorf("%s: baseEjectionTime %v, want %s", label, get(o, "baseEjectionTime"), od.BaseEjectionTime)
		}
	}
}

func (tr *translation) assertFailoverListener() {
	t := tr.t
	c := tr.in.Cluster
	gw := c.Spec.Gateway.Namespace + "/gatefed-failover"
	if !c.FailoverTarget() || len(tr.in.Served) == 0 {
		if tr.xds(gw, "ListenersConfigDump") != nil {
			t.Errorf("cluster %s serves no failover, but the translator built %s", c.Name(), gw)
		}
		return
	}
	wantSNI := map[string]*fleet.GlobalService{}
	for _, s := range tr.in.Served {
		if _, dup := wantSNI[render.FailoverSNI(s)]; !dup {
			wantSNI[render.FailoverSNI(s)] = s
		}
	}
	var listener any
	for _, l := range list(tr.xds(gw, "ListenersConfigDump"), "dynamicListeners") {
		if str(l, "activeState", "listener", "name") == gw+"/failover" {
			listener = get(l, "activeState", "listener")
		}
	}
	if listener == nil {
		t.Fatalf("no failover listener %s/failover", gw)
	}
	if p := int(num(listener, "address", "socketAddress", "portValue")); p != int(c.FailoverPort()) {
		t.Errorf("failover listener on port %d, want %d", p, c.FailoverPort())
	}
	seen := map[string]bool{}
	for _, fc := range list(listener, "filterChains") {
		names := list(fc, "filterChainMatch", "serverNames")
		if len(names) != 1 {
			t.Errorf("failover filter chain matches server names %v, want exactly one SNI", names)
			continue
		}
		sni := fmt.Sprint(names[0])
		s := wantSNI[sni]
		if s == nil {
			t.Errorf("failover filter chain for SNI %s, which no served service has", sni)
			continue
		}
		if seen[sni] {
			t.Errorf("two failover filter chains for SNI %s", sni)
		}
		seen[sni] = true
		tls := get(fc, "transportSocket", "typedConfig")
		if get(tls, "requireClientCertificate") != true {
			t.Errorf("SNI %s: client certificate not required: %v", sni, tls)
		}
		if str(tls, "commonTlsContext", "validationContextSdsSecretConfig", "name") == "" {
			t.Errorf("SNI %s: no CA to verify client certificates", sni)
		}
		if cert := list(tls, "commonTlsContext", "tlsCertificateSdsSecretConfigs"); len(cert) != 1 || !strings.HasSuffix(str(cert[0], "name"), "/"+render.FailoverDownstreamSecret) {
			t.Errorf("SNI %s: serving certificate %v, want %s", sni, cert, render.FailoverDownstreamSecret)
		}
		filters := list(fc, "filters")
		if len(filters) != 1 || str(filters[0], "name") != "envoy.filters.network.tcp_proxy" {
			t.Errorf("SNI %s: filters %v, want one tcp_proxy", sni, filters)
			continue
		}
		dest := str(filters[0], "typedConfig", "cluster")
		cluster, la := tr.envoyCluster(gw, dest)
		if cluster == nil || la == nil {
			t.Errorf("SNI %s: no cluster %s", sni, dest)
			continue
		}
		if len(list(cluster, "transportSocketMatches")) > 0 || get(cluster, "transportSocket") != nil {
			t.Errorf("SNI %s: the destination speaks TLS onward: %v", sni, cluster)
		}
		locs := list(la, "endpoints")
		if len(locs) != 1 || len(list(locs[0], "lbEndpoints")) != 1 {
			t.Errorf("SNI %s: destination %v, want the local Service only", sni, locs)
			continue
		}
		sa := get(list(locs[0], "lbEndpoints")[0], "endpoint", "address", "socketAddress")
		if a, p := str(sa, "address"), int(num(sa, "portValue")); a != tr.world.clusterIP[s.Key()] || p != int(s.Spec.Port) {
			t.Errorf("SNI %s: destination %s:%d, want the local Service %s at %s:%d", sni, a, p, s.Key(), tr.world.clusterIP[s.Key()], s.Spec.Port)
		}
	}
	for sni := range wantSNI {
		if !seen[sni] {
			t.Errorf("no failover filter chain for SNI %s", sni)
		}
	}
}

// assertMirror checks an Envoy route's request mirror policies against the
// rule's mirror: one policy, the rule's percentage as its runtime fraction,
// and a cluster of the rule whose one endpoint is the mirror service's first
// tier (the local Service, or the first failover target over mutual TLS).
func (tr *translation) assertMirror(label string, r any, route *fleet.GlobalRoute, rule *fleet.Rule, ruleCluster string) {
	t := tr.t
	name := label + ": route " + str(r, "name")
	policies := list(r, "route", "requestMirrorPolicies")
	m := rule.Mirror
	switch {
	case m == nil && len(policies) > 0:
		t.Errorf("%s: mirrors requests (%v), the rule does not", name, policies)
		return
	case m == nil:
		return
	case len(policies) != 1:
		t.Errorf("%s: %d request mirror policies, want 1: %v", name, len(policies), policies)
		return
	}
	pol := policies[0]
	if got := rendertest.EnvoyPercent(get(pol, "runtimeFraction", "defaultValue")); got != float64(m.PercentOf()) {
		t.Errorf("%s: mirrors %v%% of requests (%v), want %d%%", name, got, get(pol, "runtimeFraction"), m.PercentOf())
	}
	cname := str(pol, "cluster")
	if !strings.HasPrefix(cname, ruleCluster+"-mirror-") {
		t.Errorf("%s: mirror cluster %q, want the rule's %s-mirror-N", name, cname, ruleCluster)
		return
	}
	p := tr.in.Used[route.MirrorRef(m)]
	tier := p.Tiers[0]
	want := wantLocality{tier: tier.Cluster.Name(), weight: 1}
	if tier.Local {
		want.address, want.port = tr.world.clusterIP[p.Service.Key()], int(p.Service.Spec.Port)
	} else {
		want.address, want.port = tier.Cluster.Spec.Failover.Address, int(tier.Cluster.FailoverPort())
		want.sni = render.FailoverSNI(p.Service)
	}
	cluster, la := tr.envoyCluster(tr.mainGateway(), cname)
	if cluster == nil || la == nil {
		t.Errorf("%s: no Envoy cluster %s with endpoints", name, cname)
		return
	}
	tr.assertLocalities(name+" mirror", cluster, la, []wantLocality{want})
}

func usesListenerSets(objs []*unstructured.Unstructured) bool {
	for _, o := range objs {
		if o.GetKind() == "ListenerSet" {
			return true
		}
	}
	return false
}

// assertTLS checks the HTTPS listeners of routes with tls: a filter chain
// per host terminating TLS with the route's Secret; the route's Envoy routes
// only there; with httpsRedirect, plain HTTP on the hosts answers 301 to https.
func (tr *translation) assertTLS() {
	t := tr.t
	gw := tr.mainGateway()
	ns := tr.in.Cluster.Spec.Gateway.Namespace
	for _, route := range tr.in.Routes {
		if route.Spec.TLS == nil {
			continue
		}
		hr := tr.httpRouteFor(route)
		for _, host := range route.Spec.Hosts {
			found := false
			for _, l := range list(tr.xds(gw, "ListenersConfigDump"), "dynamicListeners") {
				for _, fc := range list(l, "activeState", "listener", "filterChains") {
					names := list(fc, "filterChainMatch", "serverNames")
					if len(names) != 1 || names[0] != host {
						continue
					}
					found = true
					tls := get(fc, "transportSocket", "typedConfig")
					certs := list(tls, "commonTlsContext", "tlsCertificateSdsSecretConfigs")
					if len(certs) != 1 || str(certs[0], "name") != ns+"/"+route.Spec.TLS.SecretName {
						t.Errorf("GlobalRoute %s host %s: TLS certificate %v, want %s/%s", route.Key(), host, certs, ns, route.Spec.TLS.SecretName)
					}
				}
			}
			if !found {
				t.Errorf("GlobalRoute %s host %s: no HTTPS filter chain for it", route.Key(), host)
			}
		}
		// The route's Envoy routes are in the HTTPS route configurations only;
		// plain HTTP on the hosts redirects (or has no route).
		for _, rc := range list(tr.xds(gw, "RoutesConfigDump"), "dynamicRouteConfigs") {
			https := strings.Contains(str(rc, "routeConfig", "name"), "/https-")
			for _, vh := range list(rc, "routeConfig", "virtualHosts") {
				for _, r := range list(vh, "routes") {
					name := str(r, "name")
					switch {
					case strings.HasPrefix(name, "httproute/"+hr.GetNamespace()+"/"+hr.GetName()+"/") && !https:
						t.Errorf("GlobalRoute %s: route %s served over plain HTTP", route.Key(), name)
					case strings.Contains(name, hr.GetName()+"-https-redirect/"):
						if https {
							t.Errorf("GlobalRoute %s: the https redirect %s is on an HTTPS listener", route.Key(), name)
						} else if str(r, "redirect", "schemeRedirect") != "https" || str(r, "redirect", "responseCode") != "" {
							t.Errorf("GlobalRoute %s: plain HTTP answers %v, want a 301 to https", route.Key(), get(r, "redirect"))
						}
					}
				}
			}
		}
	}
}
