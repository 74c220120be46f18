package gloo

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/gloo/gloov1"
)

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
	sp := r.In.Used[route.MirrorRef(m)]
	if sp == nil || len(sp.Tiers) == 0 {
		r.Warnf("%s: mirror service %s has no cluster to serve it; no requests are mirrored", where, route.MirrorRef(m))
		return nil
	}
	out := &gloov1.RouteShadowing{
		Upstream:   gloov1.ResourceRef{Name: UpstreamName(sp.Service), Namespace: r.ns},
		Percentage: float64(m.PercentOf()),
	}
	// Envoy Gateway sends copies with the Host unchanged; so does gatefed on
	// a Gloo that can.
	if g := r.In.Cluster.Spec.Gateway; atLeast(g, shadowHostVersion) {
		out.DisableShadowHostSuffixAppend = true
	} else {
		r.Warnf("%s: Gloo %s appends -shadow to the Host of mirrored requests (disableShadowHostSuffixAppend needs Gloo %s or later)", where, g.Version, shadowHostVersion)
	}
	return out
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
// disagree on a trailing slash (see render.PrefixSlash).
func (r *renderer) prefixSlash(where, field, replacement string, m *fleet.Match) {
	if w := render.PrefixSlash("Gloo", field, replacement, m); w != "" {
		r.Warnf("%s: %s", where, w)
	}
}
