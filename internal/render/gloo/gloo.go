// Package gloo renders a cluster's part of the fleet as Gloo Edge objects:
// an Upstream per service its routes use (with failover to other clusters),
// a VirtualService per route (and, for a TLS route that redirects plain
// HTTP, a second one that answers with the redirect), and on failover targets a TCP Gateway that
// accepts failover traffic and sends it to local endpoints only.
package gloo

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/gloo/gloov1"
)

// Object names. Gloo's discovery names the Upstreams it creates
// "<namespace>-<service>-<port>"; every name gatefed renders starts with
// "gatefed-" so the two never meet.
const (
	namePrefix      = "gatefed"
	localNamePrefix = "gatefed-local"
	// FailoverGatewayName is the Gateway that accepts failover traffic on a target.
	FailoverGatewayName = "gatefed-failover"
	// maxNameLength keeps names valid as DNS labels and label values.
	maxNameLength = render.MaxNameLen
)

// Provider renders Gloo Edge objects.
type Provider struct{}

var _ render.Provider = Provider{}

// New returns the Gloo Edge provider.
func New() Provider { return Provider{} }

// UpstreamName is the Upstream a cluster's routes use to reach a service.
func UpstreamName(s *fleet.GlobalService) string {
	return objectName(namePrefix, s.Metadata.Namespace, s.Metadata.Name)
}

// LocalUpstreamName is the local-only Upstream failover traffic for a service reaches on a target.
func LocalUpstreamName(s *fleet.GlobalService) string {
	return objectName(localNamePrefix, s.Metadata.Namespace, s.Metadata.Name)
}

// VirtualServiceName is the VirtualService of a route.
func VirtualServiceName(r *fleet.GlobalRoute) string {
	return objectName(namePrefix, r.Metadata.Namespace, r.Metadata.Name)
}

// HTTPSRedirectName is the VirtualService that answers plain HTTP on the
// hosts of a TLS route with a redirect to https.
func HTTPSRedirectName(r *fleet.GlobalRoute) string {
	return objectName(VirtualServiceName(r), "https-redirect")
}

// objectName joins parts with "-"; a name longer than a DNS label is cut and
// ends in a hash of the whole name, so it stays unique and stable.
func objectName(parts ...string) string {
	return render.FitName(strings.ToLower(strings.Join(parts, "-")))
}

// Render returns the cluster's Upstreams, VirtualServices, local-only
// Upstreams and failover Gateway, in that order.
func (Provider) Render(in *render.ClusterInput) ([]*unstructured.Unstructured, []string, error) {
	r := &renderer{
		in:      in,
		cluster: in.Cluster.Metadata.Name,
		ns:      in.Cluster.Spec.Gateway.Namespace,
		names:   map[string]string{},
	}
	if r.ns == "" {
		return nil, nil, fmt.Errorf("spec.gateway.namespace is empty")
	}
	if err := r.upstreams(); err != nil {
		return nil, nil, err
	}
	if err := r.virtualServices(); err != nil {
		return nil, nil, err
	}
	if err := r.failoverGateway(); err != nil {
		return nil, nil, err
	}
	return r.objs, r.Warnings, nil
}

type renderer struct {
	in      *render.ClusterInput
	cluster string
	ns      string
	objs    []*unstructured.Unstructured
	render.Warnings
	// names maps "Kind/name" to the document it was rendered for, to catch two documents sharing a name.
	names map[string]string
}

// emit converts, stamps and keeps an object, refusing a second one of the same kind and name.
func (r *renderer) emit(typed any, kind, name, sourceKind, sourceNs, sourceName string) (*unstructured.Unstructured, error) {
	key := kind + "/" + name
	source := sourceKind + " " + fleet.Ref(sourceNs, sourceName)
	if prev, dup := r.names[key]; dup {
		return nil, fmt.Errorf("%s and %s both render %s %s/%s; rename one", prev, source, kind, r.ns, name)
	}
	r.names[key] = source
	obj, err := render.Convert(typed, r.cluster, sourceKind, sourceNs, sourceName)
	if err != nil {
		return nil, err
	}
	r.objs = append(r.objs, obj)
	return obj, nil
}

func (r *renderer) meta(name string, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: r.ns, Annotations: annotations}
}

// upstreams renders one Upstream per used service that has tiers.
func (r *renderer) upstreams() error {
	for _, key := range r.in.UsedKeys() {
		sp := r.in.Used[key]
		s := sp.Service
		if len(sp.Tiers) == 0 {
			// Nothing to point an Upstream at; the rules using it say what happens.
			continue
		}
		spec, err := r.upstreamSpec(sp)
		if err != nil {
			return err
		}
		if spec.Failover != nil && !s.HasHealthSignal() {
			r.Warnf("GlobalService %s: failover to %s never triggers without spec.healthCheck or spec.outlierDetection",
				key, strings.Join(render.TierNames(sp)[1:], ", "))
		}
		up := &gloov1.Upstream{
			TypeMeta:   metav1.TypeMeta{APIVersion: gloov1.GlooGroupVersion, Kind: gloov1.KindUpstream},
			ObjectMeta: r.meta(UpstreamName(s), nil),
			Spec:       spec,
		}
		obj, err := r.emit(up, gloov1.KindUpstream, up.Name, fleet.KindGlobalService, s.Metadata.Namespace, s.Metadata.Name)
		if err != nil {
			return err
		}
		render.AnnotateService(obj, sp)
	}
	return nil
}

// upstreamSpec points at tier 0 (the local Service, or the first remote
// cluster's failover port) and lists the other tiers as failover priorities.
func (r *renderer) upstreamSpec(sp *render.ServicePlan) (gloov1.UpstreamSpec, error) {
	s := sp.Service
	var spec gloov1.UpstreamSpec
	first := sp.Tiers[0]
	if first.Local {
		spec.Kube = kubeUpstream(s)
	} else {
		if !first.Cluster.FailoverTarget() {
			return spec, fmt.Errorf("GlobalService %s: tier cluster %s has no spec.failover", s.Key(), first.Cluster.Name())
		}
		spec.Static = &gloov1.StaticUpstream{
			Hosts: []gloov1.StaticHost{{
				Addr:    first.Cluster.Spec.Failover.Address,
				Port:    uint32(first.Cluster.FailoverPort()),
				SniAddr: render.FailoverSNI(s),
			}},
			UseTLS:         ptr(true),
			AutoSniRewrite: ptr(false),
		}
		spec.SslConfig = r.failoverTLS(s)
	}
	spec.HealthChecks = healthChecks(s.Spec.HealthCheck)
	spec.OutlierDetection = outlierDetection(s.Spec.OutlierDetection)

	var priorities []gloov1.PriorityLocality
	for _, t := range sp.Tiers[1:] {
		c := t.Cluster
		if !c.FailoverTarget() {
			return spec, fmt.Errorf("GlobalService %s: tier cluster %s has no spec.failover", s.Key(), c.Name())
		}
		ep := gloov1.LocalityLbEndpoints{
			LbEndpoints: []gloov1.LbEndpoint{{
				Address:           c.Spec.Failover.Address,
				Port:              uint32(c.FailoverPort()),
				UpstreamSslConfig: r.failoverTLS(s),
			}},
		}
		if c.Spec.Region != "" || c.Spec.Zone != "" {
			ep.Locality = &gloov1.Locality{Region: c.Spec.Region, Zone: c.Spec.Zone}
		}
		priorities = append(priorities, gloov1.PriorityLocality{LocalityEndpoints: []gloov1.LocalityLbEndpoints{ep}})
	}
	if len(priorities) > 0 {
		spec.Failover = &gloov1.Failover{PrioritizedLocalities: priorities}
	}
	return spec, nil
}

func kubeUpstream(s *fleet.GlobalService) *gloov1.KubeUpstream {
	return &gloov1.KubeUpstream{
		ServiceName:      s.ServiceName(),
		ServiceNamespace: s.Metadata.Namespace,
		ServicePort:      uint32(s.Spec.Port),
	}
}

// failoverTLS is the client side of the failover wire contract.
func (r *renderer) failoverTLS(s *fleet.GlobalService) *gloov1.UpstreamSslConfig {
	return &gloov1.UpstreamSslConfig{
		SecretRef: &gloov1.ResourceRef{Name: render.FailoverUpstreamSecret, Namespace: r.ns},
		Sni:       render.FailoverSNI(s),
	}
}

// healthChecks copies the health check; the fleet loader has filled in
// interval, timeout and thresholds, so all of them are written.
func healthChecks(hc *fleet.HealthCheck) []gloov1.HealthCheck {
	if hc == nil {
		return nil
	}
	out := gloov1.HealthCheck{
		Timeout:         protoDuration(hc.Timeout.Std()),
		Interval:        protoDuration(hc.Interval.Std()),
		HTTPHealthCheck: &gloov1.HTTPHealthCheck{Path: hc.Path},
	}
	if hc.HealthyThreshold > 0 {
		out.HealthyThreshold = ptr(uint32(hc.HealthyThreshold))
	}
	if hc.UnhealthyThreshold > 0 {
		out.UnhealthyThreshold = ptr(uint32(hc.UnhealthyThreshold))
	}
	return []gloov1.HealthCheck{out}
}

// outlierDetection copies the fields set; Envoy's defaults apply to the rest.
func outlierDetection(od *fleet.OutlierDetection) *gloov1.OutlierDetection {
	if od == nil {
		return nil
	}
	out := &gloov1.OutlierDetection{
		Interval:         protoDuration(od.Interval.Std()),
		BaseEjectionTime: protoDuration(od.BaseEjectionTime.Std()),
	}
	if od.Consecutive5xx > 0 {
		out.Consecutive5xx = ptr(uint32(od.Consecutive5xx))
	}
	if od.MaxEjectionPercent > 0 {
		out.MaxEjectionPercent = ptr(uint32(od.MaxEjectionPercent))
	}
	return out
}

// Gloo's default Gateways: gateway-proxy serves the VirtualServices without
// sslConfig (plain HTTP), gateway-proxy-ssl those with one (HTTPS).
const (
	plainGateway = "gateway-proxy"
	sslGateway   = "gateway-proxy-ssl"
)

// gateways are the default Gateways that serve a route's VirtualServices: a
// route with TLS is served over HTTPS only, and over plain HTTP too when its
// redirect VirtualService answers there.
func gateways(route *fleet.GlobalRoute) []string {
	t := route.Spec.TLS
	switch {
	case t == nil:
		return []string{plainGateway}
	case t.HTTPSRedirect:
		return []string{sslGateway, plainGateway}
	default:
		return []string{sslGateway}
	}
}

// virtualServices renders one VirtualService per route served here, and a
// redirect VirtualService per TLS route with httpsRedirect.
func (r *renderer) virtualServices() error {
	routes := append([]*fleet.GlobalRoute(nil), r.in.Routes...)
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].Key() < routes[j].Key() })
	// hostOwner maps "gateway host" to the route that has it there: two
	// VirtualServices may share a domain only on different Gateways.
	hostOwner := map[string]string{}
	for _, route := range routes {
		for _, h := range route.Spec.Hosts {
			prev := ""
			for _, gw := range gateways(route) {
				if owner, ok := hostOwner[gw+" "+h]; ok {
					if prev == "" {
						prev = owner
					}
					continue
				}
				hostOwner[gw+" "+h] = route.Key()
			}
			if prev != "" {
				r.Warnf("host %q is in GlobalRoutes %s and %s; Gloo rejects VirtualServices whose domains overlap on one gateway", h, prev, route.Key())
			}
		}
		var rules []gloov1.Route
		for i, rule := range route.Spec.Rules {
			gr, err := r.route(route, i, rule)
			if err != nil {
				return err
			}
			rules = append(rules, gr)
		}
		vs := &gloov1.VirtualService{
			TypeMeta:   metav1.TypeMeta{APIVersion: gloov1.GatewayGroupVersion, Kind: gloov1.KindVirtualService},
			ObjectMeta: r.meta(VirtualServiceName(route), nil),
			Spec: gloov1.VirtualServiceSpec{
				SslConfig: r.sslConfig(route),
				VirtualHost: gloov1.VirtualHost{
					Domains: append([]string(nil), route.Spec.Hosts...),
					Routes:  rules,
				},
			},
		}
		if _, err := r.emit(vs, gloov1.KindVirtualService, vs.Name, fleet.KindGlobalRoute, route.Metadata.Namespace, route.Metadata.Name); err != nil {
			return err
		}
		if t := route.Spec.TLS; t != nil && t.HTTPSRedirect {
			if err := r.httpsRedirect(route); err != nil {
				return err
			}
		}
	}
	return nil
}

// sslConfig is the TLS the gateway terminates for a route's hosts: the
// certificate in the route's Secret in the gateway namespace, for SNI names
// equal to its hosts. Nil without TLS.
func (r *renderer) sslConfig(route *fleet.GlobalRoute) *gloov1.DownstreamSslConfig {
	t := route.Spec.TLS
	if t == nil {
		return nil
	}
	return &gloov1.DownstreamSslConfig{
		SecretRef:  &gloov1.ResourceRef{Name: t.SecretName, Namespace: r.ns},
		SniDomains: append([]string(nil), route.Spec.Hosts...),
	}
}

// httpsRedirect renders the VirtualService, without sslConfig so the plain
// HTTP gateway serves it, that answers every request for the route's hosts
// with a 301 to the same URL over https.
func (r *renderer) httpsRedirect(route *fleet.GlobalRoute) error {
	vs := &gloov1.VirtualService{
		TypeMeta:   metav1.TypeMeta{APIVersion: gloov1.GatewayGroupVersion, Kind: gloov1.KindVirtualService},
		ObjectMeta: r.meta(HTTPSRedirectName(route), nil),
		Spec: gloov1.VirtualServiceSpec{VirtualHost: gloov1.VirtualHost{
			Domains: append([]string(nil), route.Spec.Hosts...),
			Routes: []gloov1.Route{{
				Matchers: []gloov1.Matcher{{Prefix: "/"}},
				RedirectAction: &gloov1.RedirectAction{
					HTTPSRedirect: true,
					ResponseCode:  gloov1.MovedPermanently,
				},
			}},
		}},
	}
	_, err := r.emit(vs, gloov1.KindVirtualService, vs.Name, fleet.KindGlobalRoute, route.Metadata.Namespace, route.Metadata.Name)
	return err
}

// route renders one rule: a redirectAction, a directResponseAction, or a
// routeAction to the Upstreams of its backends.
func (r *renderer) route(route *fleet.GlobalRoute, i int, rule fleet.Rule) (gloov1.Route, error) {
	out := gloov1.Route{Name: rule.Name, Matchers: []gloov1.Matcher{matcher(rule.Match)}}
	where := fmt.Sprintf("GlobalRoute %s rules[%d]", route.Key(), i)

	switch {
	case rule.Redirect != nil:
		ra, err := r.redirectAction(where, rule)
		if err != nil {
			return out, err
		}
		out.RedirectAction = ra
	case rule.DirectResponse != nil:
		out.DirectResponseAction = &gloov1.DirectResponseAction{
			Status: uint32(rule.DirectResponse.Status),
			Body:   rule.DirectResponse.Body,
		}
	default:
		if err := r.routeAction(&out, route, where, rule); err != nil {
			return out, err
		}
	}
	out.Options = r.routeOptions(where, route, rule, out.RouteAction != nil)
	return out, nil
}

// routeAction sends to the Upstreams of the rule's backends, or answers
// render.NoBackendStatus when none of them can take traffic.
func (r *renderer) routeAction(out *gloov1.Route, route *fleet.GlobalRoute, where string, rule fleet.Rule) error {
	var dests []gloov1.WeightedDestination
	for _, b := range rule.Backends {
		key := route.BackendRef(b)
		sp, ok := r.in.Used[key]
		if !ok {
			return fmt.Errorf("%s: backend %s has no service plan", where, key)
		}
		if len(sp.Tiers) == 0 {
			if len(rule.Backends) > 1 {
				r.Warnf("%s: backend %s has no cluster to serve it; its share of traffic goes to the other backends", where, key)
			}
			continue
		}
		if b.WeightOf() <= 0 {
			continue
		}
		dests = append(dests, gloov1.WeightedDestination{
			Destination: gloov1.Destination{Upstream: gloov1.ResourceRef{Name: UpstreamName(sp.Service), Namespace: r.ns}},
			Weight:      ptr(uint32(b.WeightOf())),
		})
	}
	switch {
	case len(dests) == 0:
		r.Warnf("%s: no backend can take traffic; the VirtualService answers %d", where, render.NoBackendStatus)
		out.DirectResponseAction = &gloov1.DirectResponseAction{
			Status: render.NoBackendStatus,
			Body:   render.NoBackendBody,
		}
	case len(rule.Backends) == 1:
		out.RouteAction = &gloov1.RouteAction{Single: &gloov1.Destination{Upstream: dests[0].Destination.Upstream}}
	default:
		out.RouteAction = &gloov1.RouteAction{Multi: &gloov1.MultiDestination{Destinations: dests}}
	}
	return nil
}

// redirectCodes are Gloo's names for the redirect statuses.
var redirectCodes = map[int32]string{
	301: gloov1.MovedPermanently,
	302: gloov1.Found,
	303: gloov1.SeeOther,
	307: gloov1.TemporaryRedirect,
	308: gloov1.PermanentRedirect,
}

// redirectAction converts a redirect. The response code is always written:
// Gloo's default is 301, gatefed's 302.
func (r *renderer) redirectAction(where string, rule fleet.Rule) (*gloov1.RedirectAction, error) {
	rd := rule.Redirect
	code, ok := redirectCodes[rd.StatusOf()]
	if !ok {
		return nil, fmt.Errorf("%s: redirect.statusCode %d is not a status Gloo redirects with (301, 302, 303, 307, 308)", where, rd.StatusOf())
	}
	if rd.Scheme != "" && rd.Scheme != "https" {
		return nil, fmt.Errorf("%s: redirect.scheme %q: Gloo redirects only to https", where, rd.Scheme)
	}
	out := &gloov1.RedirectAction{
		HostRedirect:  rd.Hostname,
		PathRedirect:  rd.Path,
		PrefixRewrite: rd.PathPrefix,
		ResponseCode:  code,
		HTTPSRedirect: rd.Scheme == "https",
	}
	if rd.Port != 0 {
		out.PortRedirect = ptr(uint32(rd.Port))
	}
	if rd.PathPrefix != "" {
		r.prefixSlash(where, "redirect.pathPrefix", rd.PathPrefix, rule.Match)
	}
	return out, nil
}

// routeOptions converts the rule's timeout, retries, rewrite, header
// changes, CORS policy, rate limit and mirror. A route that does not send the request
// on (a redirect, a direct response, or a rule none of whose backends can
// take traffic) keeps only its response header changes: Gloo refuses
// timeout, retries and rewrites (and older Gloo versions CORS) without a
// routeAction, request headers go nowhere, and there is nothing to limit.
func (r *renderer) routeOptions(where string, route *fleet.GlobalRoute, rule fleet.Rule, forwards bool) *gloov1.RouteOptions {
	var opts gloov1.RouteOptions
	if forwards {
		if d := rule.Timeout.Std(); d > 0 {
			opts.Timeout = protoDuration(d)
		}
		if rt := rule.Retries; rt != nil {
			opts.Retries = &gloov1.RetryPolicy{
				RetryOn:       render.RetryOn,
				NumRetries:    uint32(render.OrDefault(rt.Attempts, 1)),
				PerTryTimeout: protoDuration(rt.PerTryTimeout.Std()),
			}
		}
		if rw := rule.Rewrite; rw != nil {
			opts.PrefixRewrite = rw.PathPrefix
			opts.HostRewrite = rw.Hostname
			if rw.PathPrefix != "" {
				r.prefixSlash(where, "rewrite.pathPrefix", rw.PathPrefix, rule.Match)
			}
		}
		opts.HeaderManipulation = headerManipulation(rule.RequestHeaders, rule.ResponseHeaders)
		opts.Cors = corsPolicy(rule.CORS)
		opts.Ratelimit = localRateLimit(rule.RateLimit)
		opts.Shadowing = r.shadowing(where, route, rule.Mirror)
	} else {
		opts.HeaderManipulation = headerManipulation(nil, rule.ResponseHeaders)
	}
	if opts == (gloov1.RouteOptions{}) {
		return nil
	}
	return &opts
}

// shadowing mirrors the rule's requests to the Upstream this cluster renders
// for the mirror's service, the one its routes to that service use. The
// copies keep the request's Host, as on Envoy Gateway.
func (r *renderer) shadowing(where string, route *fleet.GlobalRoute, m *fleet.Mirror) *gloov1.RouteShadowing {
	if m == nil {
		return nil
	}
	sp := r.in.Used[route.MirrorRef(m)]
	if sp == nil || len(sp.Tiers) == 0 {
		r.Warnf("%s: mirror service %s has no cluster to serve it; no requests are mirrored", where, route.MirrorRef(m))
		return nil
	}
	return &gloov1.RouteShadowing{
		Upstream:   gloov1.ResourceRef{Name: UpstreamName(sp.Service), Namespace: r.ns},
		Percentage: float64(m.PercentOf()),
		// Envoy Gateway sends copies with the Host unchanged; so does gatefed on Gloo.
		DisableShadowHostSuffixAppend: true,
	}
}

// headerManipulation converts request and response header changes: set
// headers replace (append false), added ones append (append true), both in
// name order; removed headers keep their order. Values are passed on as they
// are, so Envoy reads %...% in them as command operators.
func headerManipulation(req, resp *fleet.HeaderModifier) *gloov1.HeaderManipulation {
	var out gloov1.HeaderManipulation
	out.RequestHeadersToAdd, out.RequestHeadersToRemove = headerChanges(req)
	out.ResponseHeadersToAdd, out.ResponseHeadersToRemove = headerChanges(resp)
	if out.RequestHeadersToAdd == nil && out.RequestHeadersToRemove == nil &&
		out.ResponseHeadersToAdd == nil && out.ResponseHeadersToRemove == nil {
		return nil
	}
	return &out
}

func headerChanges(h *fleet.HeaderModifier) ([]gloov1.HeaderValueOption, []string) {
	if h == nil {
		return nil, nil
	}
	var add []gloov1.HeaderValueOption
	for _, group := range []struct {
		m      map[string]string
		append bool
	}{{h.Set, false}, {h.Add, true}} {
		for _, name := range fleet.Sorted(group.m) {
			add = append(add, gloov1.HeaderValueOption{
				Header: gloov1.HeaderValue{Key: name, Value: group.m[name]},
				Append: ptr(group.append),
			})
		}
	}
	var remove []string
	if len(h.Remove) > 0 {
		remove = append(remove, h.Remove...)
	}
	return add, remove
}

// corsPolicy converts a CORS policy. Exact origins go to allowOrigin; an
// origin with a "*" (a "*." host, or "*" alone) becomes an allowOriginRegex
// that Envoy matches against the whole Origin header (RE2): dots and other
// regex characters are escaped and "*" becomes ".*". Methods and headers stay
// lists (Gloo joins them), and maxAge is whole seconds, as the
// Access-Control-Max-Age header carries it.
func corsPolicy(c *fleet.CORS) *gloov1.CorsPolicy {
	if c == nil {
		return nil
	}
	out := &gloov1.CorsPolicy{AllowCredentials: c.AllowCredentials}
	for _, o := range c.AllowOrigins {
		if strings.Contains(o, "*") {
			out.AllowOriginRegex = append(out.AllowOriginRegex, originRegex(o))
		} else {
			out.AllowOrigin = append(out.AllowOrigin, o)
		}
	}
	out.AllowMethods = append(out.AllowMethods, c.AllowMethods...)
	out.AllowHeaders = append(out.AllowHeaders, c.AllowHeaders...)
	out.ExposeHeaders = append(out.ExposeHeaders, c.ExposeHeaders...)
	if age := c.MaxAge.Std(); age > 0 {
		out.MaxAge = strconv.FormatInt(int64(age/time.Second), 10)
	}
	return out
}

// originRegex is the allowOriginRegex of a wildcard origin:
// "https://*.example.com" becomes `https://.*\.example\.com` and "*" becomes ".*".
func originRegex(origin string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(origin), `\*`, ".*")
}

// localRateLimit converts a rate limit into the route's local token bucket:
// it holds requests tokens and is refilled with requests tokens every unit.
func localRateLimit(l *fleet.RateLimit) *gloov1.RateLimitRouteExtension {
	if l == nil {
		return nil
	}
	return &gloov1.RateLimitRouteExtension{LocalRatelimit: &gloov1.TokenBucket{
		MaxTokens:     uint32(l.Requests),
		TokensPerFill: ptr(uint32(l.Requests)),
		FillInterval:  protoDuration(fleet.RateLimitPeriod(l.Unit)),
	}}
}

// prefixSlash warns when a prefix replacement and the prefix it replaces
// disagree on a trailing slash. Envoy replaces the matched characters as they
// are, so prefix /api replaced with / turns /api/x into //x, and prefix /
// replaced with /v2 turns /x into /v2x; Envoy Gateway replaces whole path
// segments, giving /x and /v2/x.
func (r *renderer) prefixSlash(where, field, replacement string, m *fleet.Match) {
	prefix := "/"
	if m != nil {
		if m.PathExact != "" || m.PathRegex != "" {
			return // validation refuses a prefix replacement without a prefix match
		}
		if m.PathPrefix != "" {
			prefix = m.PathPrefix
		}
	}
	if strings.HasSuffix(prefix, "/") == strings.HasSuffix(replacement, "/") {
		return
	}
	example := prefix + "/x"
	if strings.HasSuffix(prefix, "/") {
		example = prefix + "x"
	}
	r.Warnf("%s: %s %q replaces the matched prefix %q character for character on Gloo, so %s becomes %s; end both with / or neither",
		where, field, replacement, prefix, example, replacement+example[len(prefix):])
}

// matcher converts a rule's match; no path means prefix "/".
func matcher(m *fleet.Match) gloov1.Matcher {
	if m == nil {
		return gloov1.Matcher{Prefix: "/"}
	}
	var out gloov1.Matcher
	switch {
	case m.PathExact != "":
		out.Exact = m.PathExact
	case m.PathRegex != "":
		out.Regex = m.PathRegex
	case m.PathPrefix != "":
		out.Prefix = m.PathPrefix
	default:
		out.Prefix = "/"
	}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, gloov1.HeaderMatcher{Name: h.Name, Value: h.Value})
	}
	out.Methods = append(out.Methods, m.Methods...)
	return out
}

// failoverGateway renders, on a failover target, a local-only Upstream per
// served service and the TCP Gateway that terminates failover TLS and sends
// each SNI to its local-only Upstream. A local-only Upstream never has a
// failover block, so failover traffic is never sent on to another cluster.
func (r *renderer) failoverGateway() error {
	c := r.in.Cluster
	if !c.FailoverTarget() || len(r.in.Served) == 0 {
		return nil
	}
	if c.Spec.Gateway.Name == "" {
		return fmt.Errorf("spec.gateway.name is empty")
	}
	served := r.in.ServedBySNI(func(kept, dropped *fleet.GlobalService, sni string) {
		r.Warnf("GlobalServices %s and %s name the same Service port (SNI %s); failover traffic for both reaches %s's local Upstream",
			kept.Key(), dropped.Key(), sni, kept.Key())
	})
	var hosts []gloov1.TCPHost
	for _, s := range served {
		sni := render.FailoverSNI(s)
		twin := &gloov1.Upstream{
			TypeMeta: metav1.TypeMeta{APIVersion: gloov1.GlooGroupVersion, Kind: gloov1.KindUpstream},
			ObjectMeta: r.meta(LocalUpstreamName(s), map[string]string{
				render.AnnotationTiers: r.cluster,
			}),
			Spec: gloov1.UpstreamSpec{Kube: kubeUpstream(s)},
		}
		if _, err := r.emit(twin, gloov1.KindUpstream, twin.Name, fleet.KindGlobalService, s.Metadata.Namespace, s.Metadata.Name); err != nil {
			return err
		}
		hosts = append(hosts, gloov1.TCPHost{
			Name: twin.Name,
			SslConfig: &gloov1.DownstreamSslConfig{
				SecretRef:  &gloov1.ResourceRef{Name: render.FailoverDownstreamSecret, Namespace: r.ns},
				SniDomains: []string{sni},
			},
			Destination: gloov1.TCPDestination{Single: &gloov1.Destination{
				Upstream: gloov1.ResourceRef{Name: twin.Name, Namespace: r.ns},
			}},
		})
	}
	gw := &gloov1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gloov1.GatewayGroupVersion, Kind: gloov1.KindGateway},
		ObjectMeta: r.meta(FailoverGatewayName, nil),
		Spec: gloov1.GatewaySpec{
			BindAddress: "::",
			BindPort:    uint32(c.FailoverPort()),
			ProxyNames:  []string{c.Spec.Gateway.Name},
			TCPGateway:  &gloov1.TCPGateway{TCPHosts: hosts},
		},
	}
	_, err := r.emit(gw, gloov1.KindGateway, gw.Name, fleet.KindCluster, "", r.cluster)
	return err
}

// protoDuration formats a duration as protobuf JSON does: seconds with 0, 3,
// 6 or 9 fractional digits and an "s", for example "90s" or "0.250s".
// Zero gives "" (unset).
func protoDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	secs, nanos := int64(d/time.Second), int64(d%time.Second)
	switch {
	case nanos == 0:
		return fmt.Sprintf("%s%ds", sign, secs)
	case nanos%1e6 == 0:
		return fmt.Sprintf("%s%d.%03ds", sign, secs, nanos/1e6)
	case nanos%1e3 == 0:
		return fmt.Sprintf("%s%d.%06ds", sign, secs, nanos/1e3)
	default:
		return fmt.Sprintf("%s%d.%09ds", sign, secs, nanos)
	}
}

func ptr[T any](v T) *T { return &v }
