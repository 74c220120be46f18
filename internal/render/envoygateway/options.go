package envoygateway

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"

	"github.com/gatefed/gatefed/internal/fleet"
)

// ruleFilters turns a rule's options into HTTPRoute filters, in the order
// Envoy applies them: request headers, rewrite, response headers; or the
// redirect, or the direct response's HTTPRouteFilter; a mirror after them.
func (r *renderer) ruleFilters(route *fleet.GlobalRoute, m *ruleModel) []gwapiv1.HTTPRouteFilter {
	rule := m.rule
	var out []gwapiv1.HTTPRouteFilter
	if c := rule.CORS; c != nil {
		f := &gwapiv1.HTTPCORSFilter{}
		for _, o := range c.AllowOrigins {
			f.AllowOrigins = append(f.AllowOrigins, gwapiv1.CORSOrigin(o))
		}
		for _, m := range c.AllowMethods {
			f.AllowMethods = append(f.AllowMethods, gwapiv1.HTTPMethodWithWildcard(m))
		}
		for _, h := range c.AllowHeaders {
			f.AllowHeaders = append(f.AllowHeaders, gwapiv1.HTTPHeaderName(h))
		}
		for _, h := range c.ExposeHeaders {
			f.ExposeHeaders = append(f.ExposeHeaders, gwapiv1.HTTPHeaderName(h))
		}
		if c.AllowCredentials {
			f.AllowCredentials = ptrTo(true)
		}
		if age := c.MaxAge.Std(); age > 0 {
			f.MaxAge = int32(age / time.Second)
		}
		out = append(out, gwapiv1.HTTPRouteFilter{Type: gwapiv1.HTTPRouteFilterCORS, CORS: f})
	}
	if h := headerModifier(rule.RequestHeaders); h != nil {
		out = append(out, gwapiv1.HTTPRouteFilter{Type: gwapiv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: h})
	}
	if rw := rule.Rewrite; rw != nil {
		f := &gwapiv1.HTTPURLRewriteFilter{}
		if rw.Hostname != "" {
			f.Hostname = ptrTo(gwapiv1.PreciseHostname(rw.Hostname))
		}
		if rw.PathPrefix != "" {
			f.Path = &gwapiv1.HTTPPathModifier{Type: gwapiv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptrTo(rw.PathPrefix)}
		}
		out = append(out, gwapiv1.HTTPRouteFilter{Type: gwapiv1.HTTPRouteFilterURLRewrite, URLRewrite: f})
	}
	if h := headerModifier(rule.ResponseHeaders); h != nil {
		out = append(out, gwapiv1.HTTPRouteFilter{Type: gwapiv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: h})
	}
	if mf := r.mirrorFilter(route, rule.Mirror); mf != nil {
		out = append(out, gwapiv1.HTTPRouteFilter{Type: gwapiv1.HTTPRouteFilterRequestMirror, RequestMirror: mf})
	}
	if rd := rule.Redirect; rd != nil {
		f := &gwapiv1.HTTPRequestRedirectFilter{StatusCode: ptrTo(int(rd.StatusOf()))}
		if rd.Scheme != "" {
			f.Scheme = ptrTo(rd.Scheme)
		}
		if rd.Hostname != "" {
			f.Hostname = ptrTo(gwapiv1.PreciseHostname(rd.Hostname))
		}
		if rd.Port != 0 {
			f.Port = ptrTo(gwapiv1.PortNumber(rd.Port))
		}
		switch {
		case rd.Path != "":
			f.Path = &gwapiv1.HTTPPathModifier{Type: gwapiv1.FullPathHTTPPathModifier, ReplaceFullPath: ptrTo(rd.Path)}
		case rd.PathPrefix != "":
			f.Path = &gwapiv1.HTTPPathModifier{Type: gwapiv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptrTo(rd.PathPrefix)}
		}
		out = append(out, gwapiv1.HTTPRouteFilter{Type: gwapiv1.HTTPRouteFilterRequestRedirect, RequestRedirect: f})
	}
	if rule.DirectResponse != nil {
		out = append(out, gwapiv1.HTTPRouteFilter{Type: gwapiv1.HTTPRouteFilterExtensionRef, ExtensionRef: &gwapiv1.LocalObjectReference{
			Group: egGroup, Kind: kindRouteFilter,
			Name: gwapiv1.ObjectName(r.names.Name(kindRouteFilter, r.Gateway.Namespace, route.Metadata.Namespace, route.Metadata.Name, m.name)),
		}})
	}
	return out
}

// mirrorFilter copies the mirror's share of requests to what a rule sending
// to its service would use first: the local Service, or the Backend of its
// first failover tier.
func (r *renderer) mirrorFilter(route *fleet.GlobalRoute, m *fleet.Mirror) *gwapiv1.HTTPRequestMirrorFilter {
	if m == nil {
		return nil
	}
	p := r.In.Used[route.MirrorRef(m)]
	if p == nil || p.Service == nil || len(p.Tiers) == 0 {
		r.Warnf("GlobalRoute %s: mirror service %s has no cluster to serve it; no requests are mirrored", route.Key(), route.MirrorRef(m))
		return nil
	}
	ref := r.tierRef(p, 0, 1, false).BackendObjectReference
	return &gwapiv1.HTTPRequestMirrorFilter{BackendRef: ref, Percent: ptrTo(m.PercentOf())}
}

func headerModifier(h *fleet.HeaderModifier) *gwapiv1.HTTPHeaderFilter {
	if h == nil {
		return nil
	}
	f := &gwapiv1.HTTPHeaderFilter{Remove: append([]string(nil), h.Remove...)}
	for _, name := range fleet.Sorted(h.Set) {
		f.Set = append(f.Set, gwapiv1.HTTPHeader{Name: gwapiv1.HTTPHeaderName(name), Value: h.Set[name]})
	}
	for _, name := range fleet.Sorted(h.Add) {
		f.Add = append(f.Add, gwapiv1.HTTPHeader{Name: gwapiv1.HTTPHeaderName(name), Value: h.Add[name]})
	}
	return f
}

// routeFilters renders an Envoy Gateway HTTPRouteFilter for every rule of a
// route that answers directly.
func (r *renderer) routeFilters(route *fleet.GlobalRoute) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, m := range r.rules[route.Key()] {
		dr := m.rule.DirectResponse
		if dr == nil {
			continue
		}
		f := &egv1a1.HTTPRouteFilter{
			TypeMeta: metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: kindRouteFilter},
			ObjectMeta: metav1.ObjectMeta{
				Name:      r.names.Name(kindRouteFilter, r.Gateway.Namespace, route.Metadata.Namespace, route.Metadata.Name, m.name),
				Namespace: r.Gateway.Namespace,
			},
			Spec: egv1a1.HTTPRouteFilterSpec{DirectResponse: &egv1a1.HTTPDirectResponseFilter{StatusCode: ptrTo(int(dr.Status))}},
		}
		if dr.Body != "" {
			f.Spec.DirectResponse.Body = &egv1a1.CustomResponseBody{Type: ptrTo(egv1a1.ResponseValueTypeInline), Inline: ptrTo(dr.Body)}
		}
		obj, err := r.object(f, fleet.KindGlobalRoute, route.Metadata.Namespace, route.Metadata.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}
