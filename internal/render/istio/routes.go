package istio

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// routesGateway renders the Gateway (spec.gateway.name) the routes'
// VirtualServices bind to: port 80 for the hosts of routes without tls; per
// route with tls, port 443 terminating with its Secret and, with
// httpsRedirect, a port 80 server answering its hosts with a redirect.
func (r *renderer) routesGateway() (*unstructured.Unstructured, error) {
	gw := &networkingv1.Gateway{
		ObjectMeta: meta(r.Gateway.Namespace, r.Gateway.Name),
	}
	gw.Spec.Selector = r.Gateway.Selector
	var plain []string
	seen := map[string]bool{}
	var secure []*networking.Server
	k := 0
	for _, route := range r.In.Routes {
		t := route.Spec.TLS
		if t == nil {
			for _, h := range route.Spec.Hosts {
				if !seen[h] {
					seen[h] = true
					plain = append(plain, h)
				}
			}
			continue
		}
		hosts := append([]string(nil), route.Spec.Hosts...)
		if t.HTTPSRedirect {
			secure = append(secure, &networking.Server{
				Port:  &networking.Port{Number: httpPort, Name: "http-redirect-" + strconv.Itoa(k), Protocol: "HTTP"},
				Hosts: hosts,
				Tls:   &networking.ServerTLSSettings{HttpsRedirect: true},
			})
		}
		secure = append(secure, &networking.Server{
			Port:  &networking.Port{Number: httpsPort, Name: "https-" + strconv.Itoa(k), Protocol: "HTTPS"},
			Hosts: hosts,
			Tls:   &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_SIMPLE, CredentialName: t.SecretName},
		})
		k++
	}
	if len(plain) > 0 {
		sort.Strings(plain)
		gw.Spec.Servers = append(gw.Spec.Servers, &networking.Server{
			Port:  &networking.Port{Number: httpPort, Name: "http", Protocol: "HTTP"},
			Hosts: plain,
		})
	}
	gw.Spec.Servers = append(gw.Spec.Servers, secure...)
	obj, err := gatewayObject(gw)
	return stamp(obj, err, r.Cluster, fleet.KindCluster, "", r.Cluster)
}

// virtualService renders a GlobalRoute: its hosts on the cluster's Gateway,
// one http route per rule, in order (Istio takes the first that matches).
func (r *renderer) virtualService(route *fleet.GlobalRoute) (*unstructured.Unstructured, error) {
	vs := &networkingv1.VirtualService{
		ObjectMeta: meta(r.Gateway.Namespace, r.names.Name(KindVirtualService, r.Gateway.Namespace, route.Metadata.Namespace, route.Metadata.Name)),
	}
	vs.Spec.Hosts = append([]string(nil), route.Spec.Hosts...)
	vs.Spec.Gateways = []string{r.Gateway.Namespace + "/" + r.Gateway.Name}
	vs.Spec.ExportTo = []string{"."}
	var plans []*render.ServicePlan
	seen := map[string]bool{}
	use := func(p *render.ServicePlan) {
		if !seen[p.Service.Key()] {
			seen[p.Service.Key()] = true
			plans = append(plans, p)
		}
	}
	for i := range route.Spec.Rules {
		hr, err := r.httpRoute(route, i, use)
		if err != nil {
			return nil, err
		}
		vs.Spec.Http = append(vs.Spec.Http, hr)
	}
	obj, err := virtualServiceObject(vs)
	obj, err = stamp(obj, err, r.Cluster, fleet.KindGlobalRoute, route.Metadata.Namespace, route.Metadata.Name)
	if err != nil {
		return nil, err
	}
	// Protobuf JSON leaves out attempts: 0; write it, so that a reader sees
	// that Istio's default retries are off.
	routes, _, _ := unstructured.NestedSlice(obj.Object, "spec", "http")
	for _, hr := range routes {
		if rt, ok := hr.(map[string]any)["retries"].(map[string]any); ok && len(rt) == 0 {
			rt["attempts"] = int64(0)
		}
	}
	if err := unstructured.SetNestedSlice(obj.Object, routes, "spec", "http"); err != nil {
		return nil, err
	}
	render.AnnotateRoute(obj, plans)
	return obj, nil
}

func ruleLabel(route *fleet.GlobalRoute, i int) string {
	if n := route.Spec.Rules[i].Name; n != "" {
		return fmt.Sprintf("GlobalRoute %s rule %q", route.Key(), n)
	}
	return fmt.Sprintf("GlobalRoute %s rule %d", route.Key(), i)
}

// plan returns the tiers of a service a rule names.
func (r *renderer) plan(route *fleet.GlobalRoute, key string) (*render.ServicePlan, error) {
	p := r.In.Used[key]
	if p == nil || p.Service == nil {
		return nil, fmt.Errorf("GlobalRoute %s: no tiers planned for GlobalService %s", route.Key(), key)
	}
	return p, nil
}

// destination is where a route sends a service: the ServiceEntry of its
// tiers, or its local Service when this cluster is its only tier.
func (r *renderer) destination(p *render.ServicePlan) *networking.Destination {
	if throughTiers(p) {
		return &networking.Destination{Host: tiersHost(p.Service), Port: &networking.PortSelector{Number: uint32(p.Service.Spec.Port)}}
	}
	return &networking.Destination{Host: r.localHost(p.Service), Port: &networking.PortSelector{Number: uint32(p.Service.Spec.Port)}}
}

func (r *renderer) httpRoute(route *fleet.GlobalRoute, i int, use func(*render.ServicePlan)) (*networking.HTTPRoute, error) {
	rule := &route.Spec.Rules[i]
	where := ruleLabel(route, i)
	hr := &networking.HTTPRoute{Name: rule.Name, Match: matches(rule.Match)}
	forwards := false
	switch {
	case rule.Redirect != nil:
		hr.Redirect = redirect(rule.Redirect)
		if rule.Redirect.PathPrefix != "" {
			r.prefixSlash(where, "redirect.pathPrefix", rule.Redirect.PathPrefix, rule.Match)
		}
	case rule.DirectResponse != nil:
		hr.DirectResponse = directResponse(uint32(rule.DirectResponse.Status), rule.DirectResponse.Body)
	default:
		var dests []*networking.HTTPRouteDestination
		for _, b := range rule.Backends {
			key := route.BackendRef(b)
			p, err := r.plan(route, key)
			if err != nil {
				return nil, err
			}
			use(p)
			if len(p.Tiers) == 0 {
				if len(rule.Backends) > 1 {
					r.Warnf("%s: backend %s has no cluster to serve it; its share of traffic goes to the other backends", where, key)
				}
				continue
			}
			if b.WeightOf() <= 0 {
				continue
			}
			dests = append(dests, &networking.HTTPRouteDestination{Destination: r.destination(p), Weight: b.WeightOf()})
		}
		if len(dests) == 0 {
			r.Warnf("%s: no backend can take traffic; the VirtualService answers %d", where, render.NoBackendStatus)
			hr.DirectResponse = directResponse(render.NoBackendStatus, render.NoBackendBody)
			break
		}
		if len(dests) == 1 {
			dests[0].Weight = 0 // one destination takes all traffic
		}
		hr.Route = dests
		forwards = true
	}
	if forwards {
		if err := r.forwardOptions(route, where, rule, hr, use); err != nil {
			return nil, err
		}
	}
	if h := headerOps(rule.ResponseHeaders); h != nil {
		if hr.Headers == nil {
			hr.Headers = &networking.Headers{}
		}
		hr.Headers.Response = h
	}
	return hr, nil
}

// forwardOptions sets what applies to a request that is sent on: timeout,
// retries, rewrite, request headers, CORS and mirror.
func (r *renderer) forwardOptions(route *fleet.GlobalRoute, where string, rule *fleet.Rule, hr *networking.HTTPRoute, use func(*render.ServicePlan)) error {
	hr.Timeout = duration(rule.Timeout)
	if rt := rule.Retries; rt != nil {
		attempts := rt.Attempts
		if attempts <= 0 {
			attempts = 1
		}
		hr.Retries = &networking.HTTPRetry{Attempts: attempts, PerTryTimeout: duration(rt.PerTryTimeout), RetryOn: render.RetryOn}
	} else {
		// Istio retries twice by default; the other providers do not retry.
		hr.Retries = &networking.HTTPRetry{Attempts: 0}
	}
	if rw := rule.Rewrite; rw != nil {
		hr.Rewrite = &networking.HTTPRewrite{Uri: rw.PathPrefix, Authority: rw.Hostname}
		if rw.PathPrefix != "" {
			r.prefixSlash(where, "rewrite.pathPrefix", rw.PathPrefix, rule.Match)
		}
	}
	if h := headerOps(rule.RequestHeaders); h != nil {
		hr.Headers = &networking.Headers{Request: h}
	}
	if c := rule.CORS; c != nil {
		hr.CorsPolicy = corsPolicy(c)
	}
	if m := rule.Mirror; m != nil {
		key := route.MirrorRef(m)
		p, err := r.plan(route, key)
		if err != nil {
			return err
		}
		use(p)
		if len(p.Tiers) == 0 {
			r.Warnf("%s: mirror %s has no cluster to serve it; no copies are sent", where, key)
		} else {
			hr.Mirrors = []*networking.HTTPMirrorPolicy{{
				Destination: r.destination(p),
				Percentage:  &networking.Percent{Value: float64(m.PercentOf())},
			}}
		}
	}
	return nil
}

// matches turns a rule's match into Istio matches: one per method, each
// with the same path and headers (header names lower-cased). No path is
// prefix "/".
func matches(m *fleet.Match) []*networking.HTTPMatchRequest {
	uri := func() *networking.StringMatch { return prefix("/") }
	var methods []string
	var headers []fleet.HeaderMatch
	if m != nil {
		switch {
		case m.PathExact != "":
			uri = func() *networking.StringMatch { return exact(m.PathExact) }
		case m.PathRegex != "":
			uri = func() *networking.StringMatch { return regex(m.PathRegex) }
		case m.PathPrefix != "":
			uri = func() *networking.StringMatch { return prefix(m.PathPrefix) }
		}
		methods, headers = m.Methods, m.Headers
	}
	one := func(method string) *networking.HTTPMatchRequest {
		mr := &networking.HTTPMatchRequest{Uri: uri()}
		if method != "" {
			mr.Method = exact(strings.ToUpper(method))
		}
		if len(headers) > 0 {
			mr.Headers = map[string]*networking.StringMatch{}
			for _, h := range headers {
				mr.Headers[strings.ToLower(h.Name)] = exact(h.Value)
			}
		}
		return mr
	}
	if len(methods) == 0 {
		return []*networking.HTTPMatchRequest{one("")}
	}
	out := make([]*networking.HTTPMatchRequest, 0, len(methods))
	for _, method := range methods {
		out = append(out, one(method))
	}
	return out
}

func exact(s string) *networking.StringMatch {
	return &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: s}}
}

func prefix(s string) *networking.StringMatch {
	return &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: s}}
}

func regex(s string) *networking.StringMatch {
	return &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: s}}
}

func headerOps(h *fleet.HeaderModifier) *networking.Headers_HeaderOperations {
	if h == nil {
		return nil
	}
	ops := &networking.Headers_HeaderOperations{Remove: append([]string(nil), h.Remove...)}
	if len(h.Set) > 0 {
		ops.Set = map[string]string{}
		for k, v := range h.Set {
			ops.Set[k] = v
		}
	}
	if len(h.Add) > 0 {
		ops.Add = map[string]string{}
		for k, v := range h.Add {
			ops.Add[k] = v
		}
	}
	return ops
}

func redirect(rd *fleet.Redirect) *networking.HTTPRedirect {
	out := &networking.HTTPRedirect{
		Scheme:        rd.Scheme,
		Authority:     rd.Hostname,
		Uri:           rd.Path,
		PrefixRewrite: rd.PathPrefix,
		RedirectCode:  uint32(rd.StatusOf()),
	}
	if rd.Port != 0 {
		out.RedirectPort = &networking.HTTPRedirect_Port{Port: uint32(rd.Port)}
	}
	return out
}

func directResponse(status uint32, body string) *networking.HTTPDirectResponse {
	out := &networking.HTTPDirectResponse{Status: status}
	if body != "" {
		out.Body = &networking.HTTPBody{Specifier: &networking.HTTPBody_String_{String_: body}}
	}
	return out
}

// corsPolicy converts a CORS policy. Origins without "*" match exactly;
// "https://*.example.com" becomes the regex https://.*\.example\.com and
// "*" the regex .* (Istio matches the whole Origin).
func corsPolicy(c *fleet.CORS) *networking.CorsPolicy {
	out := &networking.CorsPolicy{
		AllowMethods:  append([]string(nil), c.AllowMethods...),
		AllowHeaders:  append([]string(nil), c.AllowHeaders...),
		ExposeHeaders: append([]string(nil), c.ExposeHeaders...),
		MaxAge:        duration(c.MaxAge),
	}
	for _, o := range c.AllowOrigins {
		if !strings.Contains(o, "*") {
			out.AllowOrigins = append(out.AllowOrigins, exact(o))
			continue
		}
		parts := strings.Split(o, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		out.AllowOrigins = append(out.AllowOrigins, regex(strings.Join(parts, ".*")))
	}
	if c.AllowCredentials {
		out.AllowCredentials = wrapperspb.Bool(true)
	}
	return out
}

// prefixSlash warns when a prefix replacement and the prefix it replaces
// disagree on a trailing slash: Istio's rewrite.uri and redirect
// prefixRewrite replace the matched characters (see render.PrefixSlash).
func (r *renderer) prefixSlash(where, field, replacement string, m *fleet.Match) {
	if w := render.PrefixSlash("Istio", field, replacement, m); w != "" {
		r.Warnf("%s: %s", where, w)
	}
}
