package gloo

import (
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/gloo/gloov1"
)

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
	routes := append([]*fleet.GlobalRoute(nil), r.In.Routes...)
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
	ssl := &gloov1.DownstreamSslConfig{SecretRef: &gloov1.ResourceRef{Name: t.SecretName, Namespace: r.ns}}
	// Without sniDomains the certificate serves every SNI: the catch-all.
	if !route.CatchAll() {
		ssl.SniDomains = append([]string(nil), route.Spec.Hosts...)
	}
	return ssl
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
		sp, ok := r.In.Used[key]
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
