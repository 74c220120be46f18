package istio_test

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/rendertest"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// assertRouteOptions checks, on every Envoy virtual host serving a route,
// that Istio generated one Envoy route per rule and method, in rule order,
// each with the rule's match path and method, and the rule's options: header
// changes, rewrite, CORS, redirect and direct response (as on every
// provider), timeout, retries and mirror. It returns the routes checked.
func (c *istioConfig) assertRouteOptions(in *render.ClusterInput, w *istioWant) int {
	checked := 0
	for _, route := range in.Routes {
		hosts := map[string]bool{}
		for _, h := range route.Spec.Hosts {
			hosts[h] = true
		}
		vhosts := 0
		for _, rc := range c.g.Routes {
			for _, vh := range list(rc, "virtualHosts") {
				if !servesAny(vh, hosts) {
					continue
				}
				vhosts++
				checked += c.assertVirtualHostRules(in, w, route, str(rc, "name")+" "+str(vh, "name"), list(vh, "routes"))
			}
		}
		if vhosts == 0 {
			c.t.Errorf("GlobalRoute %s: no Envoy virtual host serves %v", route.Key(), route.Spec.Hosts)
		}
	}
	return checked
}

func servesAny(vh any, hosts map[string]bool) bool {
	for _, d := range list(vh, "domains") {
		if hosts[fmt.Sprint(d)] {
			return true
		}
	}
	return false
}

// assertVirtualHostRules maps a virtual host's Envoy routes to the route's
// rules (one per method, or one) and checks each.
func (c *istioConfig) assertVirtualHostRules(in *render.ClusterInput, w *istioWant, route *fleet.GlobalRoute, where string, routes []any) int {
	n := 0
	for i, rule := range route.Spec.Rules {
		label := fmt.Sprintf("GlobalRoute %s rule %d (%s)", route.Key(), i, where)
		methods := []string{""}
		if rule.Match != nil && len(rule.Match.Methods) > 0 {
			methods = rule.Match.Methods
		}
		for _, method := range methods {
			if n >= len(routes) {
				c.t.Errorf("%s: no Envoy route for method %q; the virtual host has %d routes", label, method, len(routes))
				return n
			}
			r := routes[n]
			n++
			c.assertMatch(label, r, &route.Spec.Rules[i], method)
			c.assertRuleOptions(in, w, label, r, route, &route.Spec.Rules[i])
		}
	}
	if n != len(routes) {
		c.t.Errorf("GlobalRoute %s (%s): %d Envoy routes, want %d (its rules, one per method)", route.Key(), where, len(routes), n)
	}
	return n
}

// assertMatch checks an Envoy route's name, path and method against the rule.
func (c *istioConfig) assertMatch(label string, r any, rule *fleet.Rule, method string) {
	if got := str(r, "name"); got != rule.Name {
		c.t.Errorf("%s: Envoy route named %q, want %q", label, got, rule.Name)
	}
	m := rule.Match
	if m == nil {
		m = &fleet.Match{}
	}
	field, want := "prefix", "/"
	switch {
	case m.PathExact != "":
		field, want = "path", m.PathExact
	case m.PathRegex != "":
		field, want = "safeRegex", m.PathRegex
	case m.PathPrefix != "":
		want = m.PathPrefix
	}
	got := str(r, "match", field)
	if field == "safeRegex" {
		got = str(r, "match", "safeRegex", "regex")
	}
	if got != want {
		c.t.Errorf("%s: Envoy route matches %v, want %s %q", label, get(r, "match"), field, want)
	}
	gotMethod := ""
	for _, h := range list(r, "match", "headers") {
		if str(h, "name") == ":method" {
			gotMethod = str(h, "stringMatch", "exact")
		}
	}
	if gotMethod != strings.ToUpper(method) {
		c.t.Errorf("%s: Envoy route matches method %q, want %q", label, gotMethod, method)
	}
}

// assertRuleOptions checks one Envoy route of a rule. A rule none of whose
// backends can be served answers the no-backend direct response instead.
func (c *istioConfig) assertRuleOptions(in *render.ClusterInput, w *istioWant, label string, r any, route *fleet.GlobalRoute, rule *fleet.Rule) {
	forwards := len(rule.Backends) > 0 && servable(in, route, rule)
	want := rule
	if len(rule.Backends) > 0 && !forwards {
		want = &fleet.Rule{Name: rule.Name, ResponseHeaders: rule.ResponseHeaders,
			DirectResponse: &fleet.DirectResponse{Status: render.NoBackendStatus, Body: render.NoBackendBody}}
	}
	rendertest.AssertRouteOptions(c.t, label, r, want)
	if !forwards {
		return
	}
	name := label + ": route " + str(r, "name")
	// Istio's default is no timeout (0s); a rule's timeout replaces it.
	if got, wantT := envoyDuration(get(r, "route", "timeout")), rule.Timeout.Std(); str(r, "route", "timeout") == "" || got != wantT {
		c.t.Errorf("%s: timeout %v, want %v", name, get(r, "route", "timeout"), wantT)
	}
	c.assertRetries(name, get(r, "route", "retryPolicy"), rule.Retries)
	c.assertMirror(in, w, name, list(r, "route", "requestMirrorPolicies"), route, rule)
}

// servable reports whether some backend of the rule has tiers and weight.
func servable(in *render.ClusterInput, route *fleet.GlobalRoute, rule *fleet.Rule) bool {
	for _, b := range rule.Backends {
		if p := in.Used[route.BackendRef(b)]; p != nil && len(p.Tiers) > 0 && b.WeightOf() > 0 {
			return true
		}
	}
	return false
}

// assertRetries: no retry policy without retries (Istio's default of two is
// turned off); with them, the attempts (1 when left out), per-try timeout and
// the retry conditions every provider uses.
func (c *istioConfig) assertRetries(name string, rp any, rt *fleet.Retries) {
	if rt == nil {
		if rp != nil {
			c.t.Errorf("%s: retries %v, the rule has none", name, rp)
		}
		return
	}
	attempts := rt.Attempts
	if attempts <= 0 {
		attempts = 1
	}
	switch {
	case rp == nil:
		c.t.Errorf("%s: no retry policy, want %d retries", name, attempts)
	case int32(num(rp, "numRetries")) != attempts:
		c.t.Errorf("%s: %v retries, want %d", name, get(rp, "numRetries"), attempts)
	case str(rp, "retryOn") != render.RetryOn:
		c.t.Errorf("%s: retries on %q, want %q", name, str(rp, "retryOn"), render.RetryOn)
	case envoyDuration(get(rp, "perTryTimeout")) != rt.PerTryTimeout.Std():
		c.t.Errorf("%s: per-try timeout %v, want %s", name, get(rp, "perTryTimeout"), rt.PerTryTimeout)
	}
}

// assertMirror: one mirror policy with the rule's share as its runtime
// fraction, to the cluster a backend of the mirror's service would use
// (checked as a backend: tiers, TLS, outlier detection), the Host kept.
func (c *istioConfig) assertMirror(in *render.ClusterInput, w *istioWant, name string, policies []any, route *fleet.GlobalRoute, rule *fleet.Rule) {
	m := rule.Mirror
	var p *render.ServicePlan
	if m != nil {
		p = in.Used[route.MirrorRef(m)]
	}
	if p == nil || len(p.Tiers) == 0 {
		if len(policies) > 0 {
			c.t.Errorf("%s: mirrors requests (%v), want none", name, policies)
		}
		return
	}
	if len(policies) != 1 {
		c.t.Errorf("%s: %d request mirror policies, want 1: %v", name, len(policies), policies)
		return
	}
	pol := policies[0]
	if got := rendertest.EnvoyPercent(get(pol, "runtimeFraction", "defaultValue")); got != float64(m.PercentOf()) {
		c.t.Errorf("%s: mirrors %v%% of requests (%v), want %d%%", name, got, get(pol, "runtimeFraction"), m.PercentOf())
	}
	if get(pol, "disableShadowHostSuffixAppend") != true {
		c.t.Errorf("%s: mirrored requests get a -shadow Host suffix: %v", name, pol)
	}
	b := wantBackend(in.Cluster, p, 1)
	cl := str(pol, "cluster")
	if got := c.backendID(cl); got != b.id() {
		c.t.Errorf("%s: mirrors to %s (%s), want %s", name, cl, got, b.id())
		return
	}
	c.assertBackend(w, name+" mirror", cl, b)
}

// TestIstioRouteOptionsCatchMutations changes one option at a time in the
// VirtualServices rendered for mixed-istio's istio-east, generates Istio's
// configuration from them, and wants the route-option assertions to report
// each change.
func TestIstioRouteOptionsCatchMutations(t *testing.T) {
	if err := testfleet.CheckIstioBinaries(); err != nil {
		t.Fatal(err)
	}
	ca, err := localfleet.NewCertAuthority("istio")
	if err != nil {
		t.Fatal(err)
	}
	f, co := rendertest.ExampleCluster(t, "mixed-istio", "istio-east")
	in := render.Input(f, co.Cluster, nil)
	gw := co.Cluster.Spec.Gateway
	world := writeObjects(t, "world.yaml", istioWorld(t, f, in, gw.Namespace, ca)...)
	status, shop := "gatefed-ops-status", "gatefed-shop-shop"
	for _, m := range []struct {
		name, vs string
		rule     int
		set      func(hr map[string]any)
		caught   string
	}{
		{"another rewrite", status, 0, func(hr map[string]any) { hr["rewrite"].(map[string]any)["uri"] = "/other/" }, "prefix rewrite"},
		{"a header appended, not set", status, 0, func(hr map[string]any) {
			req := hr["headers"].(map[string]any)["request"].(map[string]any)
			req["add"].(map[string]any)["x-env"] = "prod"
			delete(req, "set")
		}, "request header x-env=prod not set"},
		{"a response header kept", status, 0, func(hr map[string]any) {
			delete(hr["headers"].(map[string]any)["response"].(map[string]any), "remove")
		}, "response headers removed"},
		{"an origin regex with unquoted dots", status, 0, func(hr map[string]any) {
			hr["corsPolicy"].(map[string]any)["allowOrigins"].([]any)[1] = map[string]any{"regex": "https://.*.example.com"}
		}, "admitted by"},
		{"another mirror share", status, 0, func(hr map[string]any) {
			hr["mirrors"].([]any)[0].(map[string]any)["percentage"] = map[string]any{"value": int64(50)}
		}, "mirrors 50% of requests"},
		{"another direct response body", status, 1, func(hr map[string]any) {
			hr["directResponse"].(map[string]any)["body"] = map[string]any{"string": "closed\n"}
		}, "direct response body"},
		{"another timeout", shop, 0, func(hr map[string]any) { hr["timeout"] = "30s" }, "timeout 30s"},
		{"Istio's default retries", shop, 1, func(hr map[string]any) { delete(hr, "retries") }, "the rule has none"},
		{"another redirect code", shop, 2, func(hr map[string]any) { hr["redirect"].(map[string]any)["redirectCode"] = int64(302) }, "redirect responseCode"},
	} {
		t.Run("fails when "+m.name, func(t *testing.T) {
			objs := mutateHTTPRoute(t, co, m.vs, m.rule, m.set)
			g := istioGen(t, gw.Namespace, gw.Selector, writeObjects(t, "rendered.yaml", objs...), world)
			rec := &recorder{}
			(&istioConfig{t: rec, g: g}).assertRouteOptions(in, istioWantFor(in, gw.Namespace))
			if !strings.Contains(strings.Join(rec.errs, "\n"), m.caught) {
				t.Errorf("the assertions did not report %q; they reported %q", m.caught, rec.errs)
			}
			for _, e := range rec.errs {
				t.Logf("caught: %s", e)
			}
		})
	}
}

// mutateHTTPRoute returns a cluster's objects with set applied to the http
// route at index i of the VirtualService named vs.
func mutateHTTPRoute(t *testing.T, co *render.ClusterOutput, vs string, i int, set func(map[string]any)) []any {
	var objs []any
	found := false
	for _, o := range co.Objects {
		o = o.DeepCopy()
		if o.GetKind() == "VirtualService" && o.GetName() == vs {
			routes, _, _ := unstructured.NestedSlice(o.Object, "spec", "http")
			if i >= len(routes) {
				t.Fatalf("VirtualService %s has %d http routes, not %d", vs, len(routes), i+1)
			}
			set(routes[i].(map[string]any))
			if err := unstructured.SetNestedSlice(o.Object, routes, "spec", "http"); err != nil {
				t.Fatal(err)
			}
			found = true
		}
		objs = append(objs, o.Object)
	}
	if !found {
		t.Fatalf("no VirtualService %s", vs)
	}
	return objs
}
