package istio_test

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

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/istio"
	"github.com/gatefed/gatefed/internal/render/rendertest"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// Accessors for decoded JSON and the example fleets' clusters.
var (
	get, list, str, num = rendertest.Get, rendertest.List, rendertest.Str, rendertest.Num
	forExampleClusters  = rendertest.ForExampleClusters
	envoyDuration       = rendertest.EnvoyDuration
)

// The Istio test bed: istiogen (hack/istio/istiogen) loads objects into
// Istio's own discovery server and prints the Envoy configuration Istio
// generates for the ingress gateway; istioctl analyze checks them offline.

// istioGenerated is istiogen's output.
type istioGenerated struct {
	Clusters  []any `json:"clusters"`
	Endpoints []any `json:"endpoints"`
	Listeners []any `json:"listeners"`
	Routes    []any `json:"routes"`
	Secrets   []any `json:"secrets"`
}

// writeObjects writes objects (typed, unstructured contents or maps) as one
// YAML stream and returns the file's path.
func writeObjects(t testing.TB, name string, objs ...any) string {
	t.Helper()
	var buf bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// istioGen runs istiogen on files for a gateway proxy in namespace with the
// given pod labels.
func istioGen(t testing.TB, namespace string, labels map[string]string, files ...string) *istioGenerated {
	t.Helper()
	var kv []string
	for k, v := range labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	args := []string{"-namespace", namespace, "-labels", strings.Join(kv, ",")}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	cmd := exec.Command(testfleet.IstiogenBin(), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("istiogen %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var g istioGenerated
	if err := json.Unmarshal(out, &g); err != nil {
		t.Fatalf("istiogen output: %v", err)
	}
	// GATEFED_KEEP_TRANSLATION=DIR keeps each generated configuration there.
	if dir := os.Getenv("GATEFED_KEEP_TRANSLATION"); dir != "" {
		base := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err == nil {
			_ = os.WriteFile(base+".istio.json", out, 0o644)
		}
	}
	return &g
}

// istioAnalyze runs istioctl analyze offline on files (every namespace) and
// returns its messages at level Error, and the others.
func istioAnalyze(t testing.TB, files ...string) (errs, others []string) {
	t.Helper()
	args := append([]string{"analyze", "--use-kube=false", "-A", "-o", "json"}, files...)
	cmd := exec.Command(testfleet.IstioctlBin(), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var msgs []struct {
		Code    string `json:"code"`
		Level   string `json:"level"`
		Message string `json:"message"`
		Origin  string `json:"origin"`
	}
	if jerr := json.Unmarshal(out, &msgs); jerr != nil {
		t.Fatalf("istioctl %s: %v (output not JSON: %v)\n%s\n%s", strings.Join(args, " "), err, jerr, out, stderr.String())
	}
	for _, m := range msgs {
		s := fmt.Sprintf("%s %s [%s] %s", m.Level, m.Code, m.Origin, m.Message)
		if m.Level == "Error" {
			errs = append(errs, s)
		} else {
			others = append(others, s)
		}
	}
	if err != nil && len(errs) == 0 {
		t.Fatalf("istioctl %s: %v with no error message\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return errs, others
}

// istioWant is what Istio's generated configuration must show for one
// cluster, derived from the fleet (or written by hand), never from the
// rendered objects.
type istioWant struct {
	gatewayNamespace string
	routes           []istioWantRoute
	served           []istioWantServed // services accepted on the failover listener
	failoverPort     int
}

type istioWantRoute struct {
	label string
	hosts []string
	rules []istioWantRule
}

type istioWantRule struct {
	label    string
	backends []istioWantBackend
}

type istioWantBackend struct {
	service string // namespace/name, for messages
	weight  int
	// sni is the failover SNI when the service's tiers go through failover
	// addresses; "" when the service is only local (localHost:localPort).
	sni       string
	localHost string
	localPort int
	tiers     []istioWantTier
	outlier   *fleet.OutlierDetection
}

type istioWantTier struct {
	cluster string
	address string
	port    int
}

type istioWantServed struct {
	sni       string
	localHost string
	localPort int
}

// errorf is where assertions report (a *testing.T, or a recorder).
type errorf = rendertest.Errorf

type recorder struct{ errs []string }

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// istioConfig answers questions about istiogen's output.
type istioConfig struct {
	t errorf
	g *istioGenerated
	// What was checked, for the test log.
	envoyRoutes, tiers, chains int
	clusters                   map[string]bool
}

func (c *istioConfig) cluster(name string) any {
	for _, cl := range c.g.Clusters {
		if str(cl, "name") == name {
			return cl
		}
	}
	return nil
}

// endpoints returns a cluster's load assignment: inline (DNS clusters) or
// from EDS.
func (c *istioConfig) endpoints(cl any) any {
	if la := get(cl, "loadAssignment"); la != nil {
		return la
	}
	name := str(cl, "name")
	if sn := str(cl, "edsClusterConfig", "serviceName"); sn != "" {
		name = sn
	}
	for _, e := range c.g.Endpoints {
		if str(e, "clusterName") == name {
			return e
		}
	}
	return nil
}

// tlsContext returns the cluster's upstream TLS context, or nil.
func tlsContext(cl any) any {
	ts := get(cl, "transportSocket")
	if ts == nil || !strings.HasSuffix(str(ts, "typedConfig", "@type"), "UpstreamTlsContext") {
		return nil
	}
	return get(ts, "typedConfig")
}

// backendID names what an Envoy cluster reaches: the failover SNI it
// originates, or its outbound host and port.
func (c *istioConfig) backendID(name string) string {
	cl := c.cluster(name)
	if cl == nil {
		return "missing cluster " + name
	}
	if tc := tlsContext(cl); tc != nil && str(tc, "sni") != "" {
		return "sni:" + str(tc, "sni")
	}
	// outbound|PORT||HOST
	parts := strings.Split(name, "|")
	if len(parts) == 4 {
		return "local:" + parts[3] + ":" + parts[1]
	}
	return "cluster:" + name
}

func (b istioWantBackend) id() string {
	if b.sni != "" {
		return "sni:" + b.sni
	}
	return fmt.Sprintf("local:%s:%d", b.localHost, b.localPort)
}

// destinations returns the clusters an Envoy route sends to, with weights.
func destinations(r any) map[string]int {
	out := map[string]int{}
	if cl := str(r, "route", "cluster"); cl != "" {
		out[cl] = 1
	}
	for _, w := range list(r, "route", "weightedClusters", "clusters") {
		out[str(w, "name")] += int(num(w, "weight"))
	}
	return out
}

// virtualHostRoutes returns the Envoy routes of every virtual host serving one
// of hosts, on any route configuration.
func (c *istioConfig) virtualHostRoutes(hosts []string) []any {
	want := map[string]bool{}
	for _, h := range hosts {
		want[h] = true
	}
	var routes []any
	for _, rc := range c.g.Routes {
		for _, vh := range list(rc, "virtualHosts") {
			serves := false
			for _, d := range list(vh, "domains") {
				if want[fmt.Sprint(d)] {
					serves = true
				}
			}
			if serves {
				routes = append(routes, list(vh, "routes")...)
			}
		}
	}
	return routes
}

func (c *istioConfig) secret(name string) any {
	for _, s := range c.g.Secrets {
		if str(s, "name") == name {
			return s
		}
	}
	return nil
}

// assertSecret checks that Istio serves an SDS secret with a certificate and
// key (cert) or a CA.
func (c *istioConfig) assertSecret(what, name string, cert bool) {
	s := c.secret(name)
	switch {
	case s == nil:
		c.t.Errorf("%s: the configuration names no SDS secret %s", what, name)
	case get(s, "served") != true:
		c.t.Errorf("%s: Istio cannot serve secret %s (missing or unreadable)", what, name)
	case cert && (get(s, "certificate") != true || get(s, "privateKey") != true):
		c.t.Errorf("%s: secret %s has no certificate and key: %v", what, name, s)
	case !cert && get(s, "ca") != true:
		c.t.Errorf("%s: secret %s has no CA: %v", what, name, s)
	}
}

// assert checks everything and returns a summary of what it checked.
func (c *istioConfig) assert(w *istioWant) string {
	rules := 0
	for _, r := range w.routes {
		rules += c.assertRoute(w, r)
	}
	c.assertFailoverListener(w)
	if rules == 0 && len(w.served) == 0 {
		c.t.Errorf("nothing asserted: no rule with backends and no served service")
	}
	return fmt.Sprintf("%d rules over %d Envoy routes, %d backend clusters with %d tiers, %d failover filter chains",
		rules, c.envoyRoutes, len(c.clusters), c.tiers, c.chains)
}

// assertRoute checks every Envoy route of a GlobalRoute's hosts: each sends
// to exactly the backends of one of its rules, and each rule with backends
// is reached by at least one route. It returns the rules checked.
func (c *istioConfig) assertRoute(w *istioWant, wr istioWantRoute) int {
	t := c.t
	envoyRoutes := c.virtualHostRoutes(wr.hosts)
	if len(envoyRoutes) == 0 {
		t.Errorf("%s: no Envoy virtual host serves %v", wr.label, wr.hosts)
		return 0
	}
	reached := make([]bool, len(wr.rules))
	checked := 0
	for _, r := range envoyRoutes {
		dest := destinations(r)
		if len(dest) == 0 {
			continue // redirect or direct response
		}
		got := map[string]int{}
		for cl, wt := range dest {
			got[c.backendID(cl)] += wt
		}
		match := -1
		for i, rule := range wr.rules {
			if sameBackends(got, rule.backends) {
				match = i
				break
			}
		}
		if match < 0 {
			t.Errorf("%s: Envoy route %q %v sends to %v, the backends of none of the rules", wr.label, str(r, "name"), get(r, "match"), got)
			continue
		}
		reached[match] = true
		c.envoyRoutes++
		rule := wr.rules[match]
		if len(rule.backends) == 1 && len(dest) != 1 {
			t.Errorf("%s: route %q splits one backend over %d clusters: %v", rule.label, str(r, "name"), len(dest), dest)
		}
		for cl := range dest {
			for _, b := range rule.backends {
				if c.backendID(cl) == b.id() {
					c.assertBackend(w, rule.label, cl, b)
					if c.clusters == nil {
						c.clusters = map[string]bool{}
					}
					if !c.clusters[cl] {
						c.clusters[cl] = true
						c.tiers += len(b.tiers)
					}
				}
			}
		}
	}
	for i, rule := range wr.rules {
		if len(rule.backends) == 0 {
			continue
		}
		checked++
		if !reached[i] {
			t.Errorf("%s: no Envoy route sends to its backends %v", rule.label, backendIDs(rule.backends))
		}
	}
	return checked
}

func backendIDs(bs []istioWantBackend) []string {
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.id())
	}
	return ids
}

// sameBackends reports whether got (backend id -> weight) is the rule's
// backends with weights in the same proportion.
func sameBackends(got map[string]int, want []istioWantBackend) bool {
	if len(got) != len(want) {
		return false
	}
	sumGot, sumWant := 0, 0
	for _, b := range want {
		if _, ok := got[b.id()]; !ok {
			return false
		}
		sumGot += got[b.id()]
		sumWant += b.weight
	}
	if len(want) == 1 {
		return true
	}
	for _, b := range want {
		if got[b.id()]*sumWant != b.weight*sumGot {
			return false
		}
	}
	return true
}

// assertBackend checks one backend's Envoy cluster: tiers at priorities in
// tier order, mutual TLS with the SNI and the failover-upstream
// certificate, and outlier detection.
func (c *istioConfig) assertBackend(w *istioWant, rule, name string, b istioWantBackend) {
	t := c.t
	what := fmt.Sprintf("%s: backend %s (cluster %s)", rule, b.service, name)
	cl := c.cluster(name)
	if b.sni == "" {
		if tc := tlsContext(cl); tc != nil {
			for _, s := range list(tc, "commonTlsContext", "tlsCertificateSdsSecretConfigs") {
				if strings.HasSuffix(str(s, "name"), render.FailoverUpstreamSecret) {
					t.Errorf("%s: a local-only service goes through the failover client certificate", what)
				}
			}
		}
		return
	}
	la := c.endpoints(cl)
	if la == nil {
		t.Errorf("%s: no endpoints (type %s)", what, str(cl, "type"))
	} else {
		type ep struct {
			addr     string
			priority int
		}
		var got []ep
		for _, l := range list(la, "endpoints") {
			for _, e := range list(l, "lbEndpoints") {
				sa := get(e, "endpoint", "address", "socketAddress")
				got = append(got, ep{fmt.Sprintf("%s:%d", str(sa, "address"), int(num(sa, "portValue"))), int(num(l, "priority"))})
			}
		}
		sort.Slice(got, func(i, j int) bool { return got[i].priority < got[j].priority })
		var want []ep
		for i, tier := range b.tiers {
			want = append(want, ep{fmt.Sprintf("%s:%d", tier.address, tier.port), i})
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: endpoints (address, priority) %v, want the tiers %v in order %v", what, got, tierNames(b.tiers), want)
		}
	}

	tc := tlsContext(cl)
	if tc == nil {
		t.Errorf("%s: no TLS to the failover addresses: %v", what, get(cl, "transportSocket"))
	} else {
		if got := str(tc, "sni"); got != b.sni {
			t.Errorf("%s: SNI %q, want %q", what, got, b.sni)
		}
		certs := list(tc, "commonTlsContext", "tlsCertificateSdsSecretConfigs")
		wantCert := "kubernetes://" + render.FailoverUpstreamSecret
		if len(certs) != 1 || str(certs[0], "name") != wantCert {
			t.Errorf("%s: client certificate %v, want %s", what, certs, wantCert)
		} else {
			c.assertSecret(what, wantCert, true)
		}
		vc := get(tc, "commonTlsContext", "combinedValidationContext")
		wantCA := wantCert + "-cacert"
		if got := str(vc, "validationContextSdsSecretConfig", "name"); got != wantCA {
			t.Errorf("%s: target verified with %q, want %s", what, got, wantCA)
		} else {
			c.assertSecret(what, wantCA, false)
		}
		sans := list(vc, "defaultValidationContext", "matchSubjectAltNames")
		sans = append(sans, list(vc, "defaultValidationContext", "matchTypedSubjectAltNames")...)
		if len(sans) != 1 || (str(sans[0], "exact") != b.sni && str(sans[0], "matcher", "exact") != b.sni) {
			t.Errorf("%s: target certificate names checked %v, want exactly %s", what, sans, b.sni)
		}
	}

	od := get(cl, "outlierDetection")
	if od == nil {
		t.Errorf("%s: no outlier detection (Envoy never leaves priority 0 without it)", what)
		return
	}
	// Envoy's default is 10%: 100 unless the service sets it.
	wantEject := fleet.DefaultMaxEjectionPercent
	if b.outlier != nil {
		wantEject = b.outlier.MaxEjection()
	}
	if got := int32(num(od, "maxEjectionPercent")); got != wantEject {
		t.Errorf("%s: max ejection percent %v, want %d", what, get(od, "maxEjectionPercent"), wantEject)
	}
	if o := b.outlier; o != nil {
		if o.Consecutive5xx != 0 && int32(num(od, "consecutive5xx")) != o.Consecutive5xx {
			t.Errorf("%s: consecutive5xx %v, want %d", what, get(od, "consecutive5xx"), o.Consecutive5xx)
		}
		if o.Interval.Std() != 0 && envoyDuration(get(od, "interval")) != o.Interval.Std() {
			t.Errorf("%s: outlier interval %v, want %s", what, get(od, "interval"), o.Interval.Std())
		}
		if o.BaseEjectionTime.Std() != 0 && envoyDuration(get(od, "baseEjectionTime")) != o.BaseEjectionTime.Std() {
			t.Errorf("%s: base ejection time %v, want %s", what, get(od, "baseEjectionTime"), o.BaseEjectionTime.Std())
		}
	}
}

func tierNames(ts []istioWantTier) []string {
	var n []string
	for _, x := range ts {
		n = append(n, x.cluster)
	}
	return n
}

// assertFailoverListener checks the listener on the failover port: one
// filter chain per served SNI, each requiring a client certificate checked
// against the failover-downstream CA and sending only to the local Service.
func (c *istioConfig) assertFailoverListener(w *istioWant) {
	t := c.t
	var ls []any
	for _, l := range c.g.Listeners {
		if int(num(l, "address", "socketAddress", "portValue")) == w.failoverPort {
			ls = append(ls, l)
		}
	}
	if len(w.served) == 0 {
		if len(ls) != 0 {
			t.Errorf("a listener on the failover port %d, but no service is served here", w.failoverPort)
		}
		return
	}
	if len(ls) != 1 {
		t.Errorf("%d listeners on the failover port %d, want 1", len(ls), w.failoverPort)
		return
	}
	chains := map[string][]any{}
	for _, fc := range list(ls[0], "filterChains") {
		names := list(fc, "filterChainMatch", "serverNames")
		if len(names) == 0 {
			t.Errorf("failover listener: a filter chain matches any SNI: %v", get(fc, "filterChainMatch"))
		}
		for _, n := range names {
			chains[fmt.Sprint(n)] = append(chains[fmt.Sprint(n)], fc)
		}
	}
	served := map[string]bool{}
	for _, s := range w.served {
		served[s.sni] = true
		what := "failover listener, SNI " + s.sni
		fcs := chains[s.sni]
		c.chains += len(fcs)
		if len(fcs) != 1 {
			t.Errorf("%s: %d filter chains, want 1", what, len(fcs))
			continue
		}
		fc := fcs[0]
		if n := len(list(fc, "filterChainMatch", "serverNames")); n != 1 {
			t.Errorf("%s: the filter chain serves %d SNIs, want 1: %v", what, n, get(fc, "filterChainMatch"))
		}
		tc := get(fc, "transportSocket", "typedConfig")
		if !strings.HasSuffix(str(tc, "@type"), "DownstreamTlsContext") {
			t.Errorf("%s: no TLS termination: %v", what, get(fc, "transportSocket"))
		} else {
			if get(tc, "requireClientCertificate") != true {
				t.Errorf("%s: client certificate not required", what)
			}
			certs := list(tc, "commonTlsContext", "tlsCertificateSdsSecretConfigs")
			wantCert := "kubernetes://" + render.FailoverDownstreamSecret
			if len(certs) != 1 || str(certs[0], "name") != wantCert {
				t.Errorf("%s: serving certificate %v, want %s", what, certs, wantCert)
			} else {
				c.assertSecret(what, wantCert, true)
			}
			ca := str(tc, "commonTlsContext", "combinedValidationContext", "validationContextSdsSecretConfig", "name")
			if ca != wantCert+"-cacert" {
				t.Errorf("%s: clients verified with %q, want %s-cacert", what, ca, wantCert)
			} else {
				c.assertSecret(what, ca, false)
			}
		}
		var dest map[string]int
		filters := list(fc, "filters")
		for _, f := range filters {
			if str(f, "name") == "envoy.filters.network.tcp_proxy" {
				tp := get(f, "typedConfig")
				dest = map[string]int{}
				if cl := str(tp, "cluster"); cl != "" {
					dest[cl] = 1
				}
				for _, wc := range list(tp, "weightedClusters", "clusters") {
					dest[str(wc, "name")] = 1
				}
			}
		}
		want := fmt.Sprintf("outbound|%d||%s", s.localPort, s.localHost)
		if len(dest) != 1 || dest[want] == 0 {
			t.Errorf("%s: sends to %v, want only %s (filters %v)", what, dest, want, filters)
			continue
		}
		cl := c.cluster(want)
		if cl == nil {
			t.Errorf("%s: no cluster %s", what, want)
			continue
		}
		if id := c.backendID(want); strings.HasPrefix(id, "sni:") {
			t.Errorf("%s: onward cluster %s originates failover TLS (%s): not local-only", what, want, id)
		}
	}
	for sni := range chains {
		if !served[sni] {
			t.Errorf("failover listener: a filter chain for %s, which is not served here", sni)
		}
	}
}

// TestIstioTestBedOnHandWrittenObjects runs the test bed on hand-written
// objects of gatefed's Istio shape (hack/istio/testdata): Istio's generated
// configuration passes the assertions, and it fails them when a tier's
// order, the SNI or the target's one-server-per-SNI is broken.
func TestIstioTestBedOnHandWrittenObjects(t *testing.T) {
	if err := testfleet.CheckIstioBinaries(); err != nil {
		t.Fatal(err)
	}
	assertIstioPin(t)
	ca, err := localfleet.NewCertAuthority("istio")
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := testfleet.FailoverSecrets(ca, "east", "istio-system", "*.shop."+render.FailoverDomain)
	if err != nil {
		t.Fatal(err)
	}
	var secretObjs []any
	for _, s := range secrets {
		secretObjs = append(secretObjs, s)
	}
	world := []string{filepath.Join("..", "..", "..", "hack", "istio", "testdata", "cluster.yaml"), writeObjects(t, "secrets.yaml", secretObjs...)}
	objects := filepath.Join("..", "..", "..", "hack", "istio", "testdata", "failover.yaml")
	labels := map[string]string{"istio": "ingressgateway"}
	want := &istioWant{
		gatewayNamespace: "istio-system",
		failoverPort:     15443,
		routes: []istioWantRoute{{
			label: "GlobalRoute shop/shop",
			hosts: []string{"shop.example.com"},
			rules: []istioWantRule{{label: "rule checkout", backends: []istioWantBackend{{
				service: "shop/checkout", weight: 1, sni: "checkout-8080.shop." + render.FailoverDomain,
				tiers: []istioWantTier{
					{cluster: "east", address: "192.0.2.1", port: 15443},
					{cluster: "west", address: "192.0.2.2", port: 15443},
					{cluster: "gloo", address: "192.0.2.3", port: 15443},
				},
				outlier: &fleet.OutlierDetection{Consecutive5xx: 3, Interval: "5s",
					BaseEjectionTime: "30s", MaxEjectionPercent: 100},
			}}}},
		}},
		served: []istioWantServed{
			{sni: "checkout-8080.shop." + render.FailoverDomain, localHost: "checkout.shop.svc.cluster.local", localPort: 8080},
			{sni: "catalog-80.shop." + render.FailoverDomain, localHost: "catalog.shop.svc.cluster.local", localPort: 80},
		},
	}

	t.Run("as written", func(t *testing.T) {
		g := istioGen(t, "istio-system", labels, append([]string{objects}, world...)...)
		t.Log((&istioConfig{t: t, g: g}).assert(want))
		errs, others := istioAnalyze(t, append([]string{objects}, world...)...)
		if len(errs) > 0 {
			t.Errorf("istioctl analyze: %s", strings.Join(errs, "\n"))
		}
		for _, m := range others {
			t.Logf("istioctl analyze: %s", m)
		}
	})

	raw, err := os.ReadFile(objects)
	if err != nil {
		t.Fatal(err)
	}

	// Failover addresses that are DNS names: a STRICT_DNS cluster whose
	// inline endpoints carry the same priorities.
	t.Run("DNS names", func(t *testing.T) {
		dns := string(raw)
		dnsWant := *want
		dnsWant.routes = []istioWantRoute{want.routes[0]}
		dnsWant.routes[0].rules = []istioWantRule{want.routes[0].rules[0]}
		b := want.routes[0].rules[0].backends[0]
		b.tiers = nil
		for _, tier := range want.routes[0].rules[0].backends[0].tiers {
			name := tier.cluster + ".example.net"
			dns = strings.Replace(dns, "address: "+tier.address+"\n", "address: "+name+"\n", 1)
			b.tiers = append(b.tiers, istioWantTier{cluster: tier.cluster, address: name, port: tier.port})
		}
		dnsWant.routes[0].rules[0].backends = []istioWantBackend{b}
		dns = strings.Replace(dns, "resolution: STATIC", "resolution: DNS", 1)
		p := filepath.Join(t.TempDir(), "dns.yaml")
		if err := os.WriteFile(p, []byte(dns), 0o644); err != nil {
			t.Fatal(err)
		}
		g := istioGen(t, "istio-system", labels, append([]string{p}, world...)...)
		ic := &istioConfig{t: t, g: g}
		if typ := str(ic.cluster("outbound|15443||"+b.sni), "type"); typ != "STRICT_DNS" {
			t.Errorf("cluster type %q, want STRICT_DNS", typ)
		}
		ic.assert(&dnsWant)
	})

	// The assertions catch broken objects: each mutation must fail them.
	for _, m := range []struct{ name, from, to, caught string }{
		{"tiers out of order", "failoverPriority: [gatefed.dev/before-tier-2=true, gatefed.dev/before-tier-1=true]",
			"failoverPriority: [gatefed.dev/before-tier-1=true, gatefed.dev/before-tier-2=true]", "endpoints (address, priority)"},
		{"no outlier detection", "    outlierDetection:\n      consecutive5xxErrors: 3\n      interval: 5s\n      baseEjectionTime: 30s\n      maxEjectionPercent: 100\n",
			"", "no outlier detection"},
		{"another service's SNI", "      sni: checkout-8080.shop.failover.gatefed.internal\n", "      sni: catalog-80.shop.failover.gatefed.internal\n", "the backends of none of the rules"},
		{"one wildcard failover server", "    hosts: [checkout-8080.shop.failover.gatefed.internal]\n    tls: {mode: MUTUAL, credentialName: failover-downstream}\n  - port: {number: 15443, name: failover-catalog-80-shop, protocol: TLS}\n    hosts: [catalog-80.shop.failover.gatefed.internal]\n",
			"    hosts: ['*.shop.failover.gatefed.internal']\n", "failover listener"},
		{"no client certificate required", "    tls: {mode: MUTUAL, credentialName: failover-downstream}\n  - port: {number: 15443, name: failover-catalog-80-shop",
			"    tls: {mode: SIMPLE, credentialName: failover-downstream}\n  - port: {number: 15443, name: failover-catalog-80-shop", "client certificate not required"},
		{"a target that fails over onward", "  - route: [{destination: {host: checkout.shop.svc.cluster.local, port: {number: 8080}}}]",
			"  - route: [{destination: {host: checkout-8080.shop.failover.gatefed.internal, port: {number: 15443}}}]", "want only outbound|8080||checkout.shop.svc.cluster.local"},
	} {
		t.Run("fails when "+m.name, func(t *testing.T) {
			if !strings.Contains(string(raw), m.from) {
				t.Fatalf("mutation %q does not apply to %s", m.name, objects)
			}
			p := filepath.Join(t.TempDir(), "mutated.yaml")
			if err := os.WriteFile(p, []byte(strings.Replace(string(raw), m.from, m.to, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			g := istioGen(t, "istio-system", labels, append([]string{p}, world...)...)
			rec := &recorder{}
			(&istioConfig{t: rec, g: g}).assert(want)
			if !strings.Contains(strings.Join(rec.errs, "\n"), m.caught) {
				t.Errorf("the assertions did not report %q on objects with %s; they reported %q", m.caught, m.name, rec.errs)
			}
			for _, e := range rec.errs {
				t.Logf("caught: %s", e)
			}
		})
	}
}

// assertIstioPin checks that istio.ModuleVersion is hack/istio's pin.
func assertIstioPin(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "hack", "istio", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "istio.io/istio "+istio.ModuleVersion+"\n") {
		t.Errorf("hack/istio/go.mod does not require istio.io/istio %s (istio.ModuleVersion)", istio.ModuleVersion)
	}
}

// istioWorld is what an istio cluster holds besides gatefed's objects: the
// namespaces, the Services of the GlobalServices placed there (with cluster
// IPs), the failover Secrets and the routes' certificates.
func istioWorld(t testing.TB, f *fleet.Fleet, in *render.ClusterInput, gatewayNamespace string, ca *localfleet.CertAuthority) []any {
	t.Helper()
	c := in.Cluster
	namespaces := map[string]bool{gatewayNamespace: true}
	var objs []any
	n := 0
	for _, s := range f.Services {
		if !s.Spec.Clusters.Matches(c) {
			continue
		}
		n++
		namespaces[s.Metadata.Namespace] = true
		objs = append(objs, map[string]any{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": s.ServiceName(), "namespace": s.Metadata.Namespace},
			"spec": map[string]any{
				"clusterIP": fmt.Sprintf("10.96.0.%d", 10+n),
				"ports":     []any{map[string]any{"name": "http", "port": s.Spec.Port, "protocol": "TCP"}},
			},
		})
	}
	hosts := []string{render.FailoverDomain}
	for _, s := range f.Services {
		hosts = append(hosts, "*."+s.Metadata.Namespace+"."+render.FailoverDomain)
	}
	sort.Strings(hosts)
	secrets, err := testfleet.FailoverSecrets(ca, c.Name(), gatewayNamespace, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		objs = append(objs, s)
	}
	for _, r := range in.Routes {
		if r.Spec.TLS == nil {
			continue
		}
		cert, key, err := ca.ServerCert(r.Spec.Hosts...)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, testfleet.TLSSecret(ca, gatewayNamespace, r.Spec.TLS.SecretName, cert, key))
	}
	var names []string
	for ns := range namespaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		objs = append(objs, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
	}
	return objs
}

// istioWantFor derives what Istio's configuration must show for one cluster
// from the fleet alone.
func istioWantFor(in *render.ClusterInput, gatewayNamespace string) *istioWant {
	c := in.Cluster
	w := &istioWant{gatewayNamespace: gatewayNamespace, failoverPort: int(c.FailoverPort())}
	for _, route := range in.Routes {
		wr := istioWantRoute{label: "GlobalRoute " + route.Key(), hosts: route.Spec.Hosts}
		for i, rule := range route.Spec.Rules {
			r := istioWantRule{label: fmt.Sprintf("GlobalRoute %s rule %d", route.Key(), i)}
			for _, b := range rule.Backends {
				r.backends = append(r.backends, wantBackend(c, in.Used[route.BackendRef(b)], int(b.WeightOf())))
			}
			wr.rules = append(wr.rules, r)
		}
		w.routes = append(w.routes, wr)
	}
	for _, s := range in.Served {
		w.served = append(w.served, istioWantServed{
			sni:       render.FailoverSNI(s),
			localHost: s.ServiceName() + "." + s.Metadata.Namespace + ".svc." + c.Domain(),
			localPort: int(s.Spec.Port),
		})
	}
	return w
}

// wantBackend is what a route reaching a planned service must send to: the
// local Service when this cluster is its only tier, else its failover SNI
// with one endpoint per tier at the tier's failover address.
func wantBackend(c *fleet.Cluster, p *render.ServicePlan, weight int) istioWantBackend {
	s := p.Service
	wb := istioWantBackend{service: s.Key(), weight: weight, outlier: s.Spec.OutlierDetection}
	if len(p.Tiers) == 1 && p.Tiers[0].Local {
		wb.localHost = s.ServiceName() + "." + s.Metadata.Namespace + ".svc." + c.Domain()
		wb.localPort = int(s.Spec.Port)
		return wb
	}
	wb.sni = render.FailoverSNI(s)
	for _, tier := range p.Tiers {
		wt := istioWantTier{cluster: tier.Cluster.Name(), port: int(tier.Cluster.FailoverPort())}
		if tier.Cluster.Spec.Failover != nil {
			wt.address = tier.Cluster.Spec.Failover.Address
		}
		wb.tiers = append(wb.tiers, wt)
	}
	return wb
}

// assertGatewaysSelect checks that every rendered Istio Gateway is in the
// cluster's gateway namespace and selects the cluster's gateway pods.
func assertGatewaysSelect(t *testing.T, objs []*unstructured.Unstructured, namespace string, labels map[string]string) {
	n := 0
	for _, o := range objs {
		if o.GetKind() != "Gateway" || !strings.HasPrefix(o.GetAPIVersion(), "networking.istio.io/") {
			continue
		}
		n++
		sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector")
		if o.GetNamespace() != namespace || fmt.Sprint(sel) != fmt.Sprint(labels) {
			t.Errorf("Gateway %s/%s selects %v, want the cluster's gateway pods %v in %s", o.GetNamespace(), o.GetName(), sel, labels, namespace)
		}
	}
	if n == 0 {
		t.Errorf("no Istio Gateway rendered")
	}
}

// TestIstioGeneratedConfig renders every example fleet and generates each
// istio cluster's Envoy configuration with Istio's own code (istiogen), then
// asserts it per source cluster (see istioConfig.assert); istioctl analyze
// must report no error on every istio cluster's objects.
func TestIstioGeneratedConfig(t *testing.T) {
	if err := testfleet.CheckIstioBinaries(); err != nil {
		t.Fatal(err)
	}
	ca, err := localfleet.NewCertAuthority("istio")
	if err != nil {
		t.Fatal(err)
	}
	forExampleClusters(t, "istio", nil, func(t *testing.T, f *fleet.Fleet, co *render.ClusterOutput) {
		in := render.Input(f, co.Cluster, nil)
		gw := co.Cluster.Spec.Gateway
		ns, labels := gw.Namespace, gw.Selector
		assertGatewaysSelect(t, co.Objects, ns, labels)
		var objs []any
		for _, o := range co.Objects {
			objs = append(objs, o.Object)
		}
		files := []string{writeObjects(t, "rendered.yaml", objs...), writeObjects(t, "world.yaml", istioWorld(t, f, in, ns, ca)...)}
		g := istioGen(t, ns, labels, files...)
		ic, want := &istioConfig{t: t, g: g}, istioWantFor(in, ns)
		t.Log(ic.assert(want))
		t.Logf("route options checked on %d Envoy routes", ic.assertRouteOptions(in, want))
		errs, others := istioAnalyze(t, files...)
		if len(errs) > 0 {
			t.Errorf("istioctl analyze:\n%s", strings.Join(errs, "\n"))
		}
		for _, m := range others {
			t.Logf("istioctl analyze: %s", m)
		}
	})
}
