package fleet

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gatefed/gatefed/internal/provider"
)

// Redirect status codes every provider can send.
var redirectCodes = []int32{301, 302, 303, 307, 308}

// Rate limit units.
var rateLimitUnits = []string{"Second", "Minute", "Hour"}

// RateLimitPeriod is the length of a rate limit unit.
func RateLimitPeriod(unit string) time.Duration {
	switch unit {
	case "Minute":
		return time.Minute
	case "Hour":
		return time.Hour
	}
	return time.Second
}

// originPattern is what the Gateway API accepts as a CORS origin:
// scheme://host[:port], the host possibly starting with "*.", or "*".
var originPattern = regexp.MustCompile(`^(\*|https?://(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?)$`)

// DefaultRedirectStatus is the status of a redirect that names none.
const DefaultRedirectStatus = 302

// MaxDirectResponseBody is the largest direct response body Envoy sends
// (its route configuration's default max_direct_response_body_size_bytes).
const MaxDirectResponseBody = 4096

// DefaultMirrorPercent is the share of requests a mirror that names none copies.
const DefaultMirrorPercent = 100

// PercentOf returns the share of requests the mirror copies.
func (m *Mirror) PercentOf() int32 {
	if m.Percent == 0 {
		return DefaultMirrorPercent
	}
	return m.Percent
}

// MirrorRef resolves a mirror's service to "namespace/name" in the route's namespace.
func (r *GlobalRoute) MirrorRef(m *Mirror) string {
	return r.BackendRef(Backend{Service: m.Service})
}

// elsewhere is the documented way to serve a route without a cluster that
// cannot run one of its options: placement (docs/policy.md, "Placement").
func elsewhere(cluster string) string {
	return fmt.Sprintf(", or serve the route from other clusters only: leave %q out of the route's spec.clusters (names or selector; see \"Placement\" in docs/policy.md)", cluster)
}

// StatusOf returns the redirect's status code.
func (r *Redirect) StatusOf() int32 {
	if r.StatusCode == 0 {
		return DefaultRedirectStatus
	}
	return r.StatusCode
}

// Sorted returns a header map's names in order, so renders are stable.
func Sorted(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ruleAction checks that a rule has exactly one action and that options
// needing backends have them.
func (v *validator) ruleAction(d docRef, rf string, rule *Rule) {
	actions := []string{}
	if len(rule.Backends) > 0 {
		actions = append(actions, "backends")
	}
	if rule.Redirect != nil {
		actions = append(actions, "redirect")
	}
	if rule.DirectResponse != nil {
		actions = append(actions, "directResponse")
	}
	switch len(actions) {
	case 0:
		v.add(d, rf+".backends", "required: at least one backend (or a redirect or a directResponse instead)")
	case 1:
	default:
		v.add(d, rf+"."+actions[1], "a rule has one of backends, redirect and directResponse, not %s", strings.Join(actions, " and "))
	}
	if len(rule.Backends) == 0 && len(actions) == 1 {
		for _, o := range []struct {
			field string
			set   bool
		}{
			{"timeout", rule.Timeout != ""}, {"retries", rule.Retries != nil},
			{"rewrite", rule.Rewrite != nil}, {"requestHeaders", rule.RequestHeaders != nil},
			{"cors", rule.CORS != nil}, {"rateLimit", rule.RateLimit != nil},
			{"mirror", rule.Mirror != nil},
		} {
			if o.set {
				v.add(d, rf+"."+o.field, "only with backends: a %s answers without sending the request on", actions[0])
			}
		}
	}
}

// server is a provider that serves a rule, with the first of its clusters that does.
type server struct {
	desc    *provider.Descriptor
	cluster string
}

// servingProviders returns the providers of the placed clusters, in
// registration order, each with its first cluster.
func servingProviders(placed []*Cluster) []server {
	first := map[string]string{}
	for _, c := range placed {
		if p := c.Spec.Gateway.Provider; first[p] == "" {
			first[p] = c.Metadata.Name
		}
	}
	var out []server
	for _, d := range provider.All() {
		if name := first[d.Name]; name != "" {
			out = append(out, server{d, name})
		}
	}
	return out
}

// limits adds, at field, the refusal of each serving provider whose limit
// (picked from its descriptor) is set.
func (v *validator) limits(d docRef, field string, servers []server, limit func(provider.Limits) string) {
	for _, s := range servers {
		if why := limit(s.desc.Limits); why != "" {
			v.add(d, field, "%s (cluster %q) %s%s", s.desc.Title, s.cluster, why, elsewhere(s.cluster))
		}
	}
}

// hostname checks a hostname a rule sends to, when set.
func (v *validator) hostname(d docRef, field, h string) {
	if h == "" {
		return
	}
	if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
		v.add(d, field, "invalid hostname %q: %s", h, errs[0])
	}
}

// ruleOptions validates a rule's rewrite, header changes, redirect and
// direct response, for every provider of the clusters that serve it.
func (v *validator) ruleOptions(d docRef, rf string, rule *Rule, placed []*Cluster) {
	prefixMatch := rule.Match == nil || (rule.Match.PathExact == "" && rule.Match.PathRegex == "")
	methods := 0
	if rule.Match != nil {
		methods = len(rule.Match.Methods)
	}
	servers := servingProviders(placed)
	// Replacing a matched prefix needs a prefix match; Envoy Gateway's
	// ReplacePrefixMatch needs exactly one, and a rule with methods has one per method.
	prefixReplace := func(field string) {
		switch {
		case !prefixMatch:
			v.add(d, field, "replaces the matched path prefix, so the rule's match needs pathPrefix (or no path), not pathExact or pathRegex")
		case methods > 1:
			v.limits(d, field, servers, func(l provider.Limits) string {
				if l.PrefixReplacePerMethod == nil {
					return ""
				}
				return l.PrefixReplacePerMethod(methods)
			})
		}
	}
	// A path prefix that replaces the matched one (rewrite or redirect).
	replacement := func(field, prefix string) {
		switch {
		case prefix == "":
		case !strings.HasPrefix(prefix, "/"):
			v.add(d, field, "must start with /")
		default:
			prefixReplace(field)
		}
	}

	if rw := rule.Rewrite; rw != nil {
		if rw.PathPrefix == "" && rw.Hostname == "" {
			v.add(d, rf+".rewrite", "set pathPrefix, hostname or both")
		}
		replacement(rf+".rewrite.pathPrefix", rw.PathPrefix)
		v.hostname(d, rf+".rewrite.hostname", rw.Hostname)
	}
	v.headers(d, rf+".requestHeaders", rule.RequestHeaders)
	v.headers(d, rf+".responseHeaders", rule.ResponseHeaders)

	if rd := rule.Redirect; rd != nil {
		switch rd.Scheme {
		case "", "https":
		case "http":
			v.limits(d, rf+".redirect.scheme", servers, func(l provider.Limits) string { return l.HTTPRedirect })
		default:
			v.add(d, rf+".redirect.scheme", "unknown scheme %q (want http or https)", rd.Scheme)
		}
		v.hostname(d, rf+".redirect.hostname", rd.Hostname)
		if rd.Port < 0 || rd.Port > 65535 {
			v.add(d, rf+".redirect.port", "port %d out of range 1-65535", rd.Port)
		}
		if rd.Path != "" && rd.PathPrefix != "" {
			v.add(d, rf+".redirect", "at most one of path and pathPrefix")
		}
		if rd.Path != "" && !strings.HasPrefix(rd.Path, "/") {
			v.add(d, rf+".redirect.path", "must start with /")
		}
		replacement(rf+".redirect.pathPrefix", rd.PathPrefix)
		if rd.StatusCode != 0 && !contains(redirectCodes, rd.StatusCode) {
			v.add(d, rf+".redirect.statusCode", "%d is not a redirect status (want 301, 302, 303, 307 or 308)", rd.StatusCode)
		}
		if rd.Scheme == "" && rd.Hostname == "" && rd.Port == 0 && rd.Path == "" && rd.PathPrefix == "" {
			v.add(d, rf+".redirect", "set at least one of scheme, hostname, port, path and pathPrefix: a redirect to the same URL loops")
		}
	}
	if c := rule.CORS; c != nil {
		v.cors(d, rf+".cors", c)
		if rule.Match != nil && len(rule.Match.Methods) > 0 && !contains(rule.Match.Methods, "OPTIONS") {
			v.add(d, rf+".match.methods", "a rule with cors must match OPTIONS too: browsers send their preflight check as OPTIONS, and a request no rule matches gets no CORS answer")
		}
	}
	if rl := rule.RateLimit; rl != nil {
		if rl.Requests < 1 {
			v.add(d, rf+".rateLimit.requests", "must be at least 1")
		}
		v.limits(d, rf+".rateLimit", servers, func(l provider.Limits) string { return l.RateLimit })
		if !contains(rateLimitUnits, rl.Unit) {
			v.add(d, rf+".rateLimit.unit", "unknown unit %q%s (want Second, Minute or Hour)", rl.Unit, DidYouMean(rl.Unit, rateLimitUnits))
		}
	}
	if dr := rule.DirectResponse; dr != nil {
		if dr.Status < 200 || dr.Status > 599 {
			v.add(d, rf+".directResponse.status", "%d is not a response status (200-599)", dr.Status)
		}
		if len(dr.Body) > MaxDirectResponseBody {
			v.add(d, rf+".directResponse.body", "%d bytes, at most %d (Envoy's limit on a direct response body)", len(dr.Body), MaxDirectResponseBody)
		}
		if strings.Contains(dr.Body, "%") {
			v.limits(d, rf+".directResponse.body", servers, func(l provider.Limits) string { return l.PercentInDirectResponse })
		}
	}
}

// mirror validates a rule's mirror: a known service every serving cluster
// can reach, and a percentage.
func (v *validator) mirror(f *Fleet, d docRef, rf string, r *GlobalRoute, m *Mirror, placed []*Cluster, serviceKeys []string) {
	if m == nil {
		return
	}
	if d.src.Has(rf+".mirror.percent") && (m.Percent < 1 || m.Percent > 100) {
		v.add(d, rf+".mirror.percent", "%d is not a percentage of requests (1-100; default %d)", m.Percent, DefaultMirrorPercent)
	}
	if m.Service == "" {
		v.add(d, rf+".mirror.service", "required: the GlobalService that gets the copies")
		return
	}
	v.serviceRef(f, d, rf+".mirror.service", r.MirrorRef(m), placed, serviceKeys)
}

// headers validates a header modifier: valid names, no pseudo-headers, no
// Host (rewrite.hostname changes it), no name twice, values on one line.
func (v *validator) headers(d docRef, field string, h *HeaderModifier) {
	if h == nil {
		return
	}
	if len(h.Set) == 0 && len(h.Add) == 0 && len(h.Remove) == 0 {
		v.add(d, field, "set, add or remove at least one header")
	}
	seen := map[string]string{}
	check := func(f, name string) {
		lower := strings.ToLower(name)
		switch {
		case strings.HasPrefix(name, ":"):
			v.add(d, f, "%q is a pseudo-header, which cannot be changed", name)
			return
		case len(validation.IsHTTPHeaderName(name)) > 0:
			v.add(d, f, "invalid header name %q: %s", name, validation.IsHTTPHeaderName(name)[0])
			return
		case lower == "host":
			v.add(d, f, "the Host header is changed with rewrite.hostname")
			return
		}
		if prev, dup := seen[lower]; dup {
			v.add(d, f, "header %q also in %s", name, prev)
		}
		seen[lower] = f
	}
	for _, group := range []struct {
		name string
		m    map[string]string
	}{{"set", h.Set}, {"add", h.Add}} {
		for _, name := range Sorted(group.m) {
			f := field + "." + group.name + "." + name
			check(f, name)
			if strings.ContainsAny(group.m[name], "\r\n\x00") {
				v.add(d, f, "a header value is one line")
			}
			if strings.Count(strings.ReplaceAll(group.m[name], "%%", ""), "%") > 0 {
				v.add(d, f, "Envoy reads %%...%% in a header value as a command operator: write %%%% for a literal %%")
			}
		}
	}
	for i, name := range h.Remove {
		check(fmt.Sprintf("%s.remove[%d]", field, i), name)
	}
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// cors validates a CORS policy as browsers and both providers read it.
func (v *validator) cors(d docRef, field string, c *CORS) {
	if len(c.AllowOrigins) == 0 {
		v.add(d, field+".allowOrigins", "required: at least one origin (scheme://host[:port], a *. host, or *)")
	}
	for i, o := range c.AllowOrigins {
		if !originPattern.MatchString(o) {
			v.add(d, fmt.Sprintf("%s.allowOrigins[%d]", field, i), "%q is not an origin: want scheme://host[:port] (http or https, lower case, no path), a host starting with *., or *", o)
		}
		if o == "*" && c.AllowCredentials {
			v.add(d, fmt.Sprintf("%s.allowOrigins[%d]", field, i), "browsers refuse credentials with the origin *: name the origins")
		}
	}
	for i, m := range c.AllowMethods {
		if m != "*" && !contains(methods, m) {
			v.add(d, fmt.Sprintf("%s.allowMethods[%d]", field, i), "unknown HTTP method %q%s", m, DidYouMean(m, methods))
		}
	}
	for _, list := range []struct {
		name  string
		names []string
	}{{"allowHeaders", c.AllowHeaders}, {"exposeHeaders", c.ExposeHeaders}} {
		for i, h := range list.names {
			if h == "*" {
				continue
			}
			if errs := validation.IsHTTPHeaderName(h); len(errs) > 0 {
				v.add(d, fmt.Sprintf("%s.%s[%d]", field, list.name, i), "invalid header name %q: %s", h, errs[0])
			}
		}
	}
	if c.MaxAge != "" {
		v.duration(d, field+".maxAge", c.MaxAge)
		if age := c.MaxAge.Std(); age > 0 && age%time.Second != 0 {
			v.add(d, field+".maxAge", "%s is not a whole number of seconds (browsers cache for whole seconds)", c.MaxAge)
		}
	}
}
