package rendertest

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gatefed/gatefed/internal/fleet"
)

// Errorf is where assertions report (a *testing.T, or a recorder).
type Errorf interface {
	Errorf(format string, args ...any)
}

// EnvoyRedirectCode are Envoy's names for redirect status codes
// (RedirectAction.RedirectResponseCode); MOVED_PERMANENTLY is the zero value,
// left out of JSON.
var EnvoyRedirectCode = map[int32]string{301: "", 302: "FOUND", 303: "SEE_OTHER", 307: "TEMPORARY_REDIRECT", 308: "PERMANENT_REDIRECT"}

// EnvoyPercent reads an Envoy FractionalPercent as a percentage.
func EnvoyPercent(v any) float64 {
	per := map[string]float64{"": 100, "HUNDRED": 100, "TEN_THOUSAND": 10000, "MILLION": 1000000}[Str(v, "denominator")]
	if per == 0 {
		return -1
	}
	return Num(v, "numerator") * 100 / per
}

// AssertRouteOptions checks one Envoy route (protobuf JSON), as a gateway's
// own code generated it, against its rule's header changes, rewrite, CORS,
// local rate limit, redirect and direct response.
func AssertRouteOptions(t Errorf, label string, r any, rule *fleet.Rule) {
	name := label + ": route " + Str(r, "name")
	assertHeaders(t, name, r, "request", rule.RequestHeaders)
	assertHeaders(t, name, r, "response", rule.ResponseHeaders)
	var rw fleet.Rewrite
	if rule.Rewrite != nil {
		rw = *rule.Rewrite
	}
	if got := Str(r, "route", "prefixRewrite"); got != rw.PathPrefix {
		t.Errorf("%s: prefix rewrite %q, want %q", name, got, rw.PathPrefix)
	}
	if got := Get(r, "route", "regexRewrite"); got != nil {
		t.Errorf("%s: a regex rewrite %v, want only the prefix rewrite %q", name, got, rw.PathPrefix)
	}
	if got := Str(r, "route", "hostRewriteLiteral"); got != rw.Hostname {
		t.Errorf("%s: host rewrite %q, want %q", name, got, rw.Hostname)
	}
	assertCORS(t, name, Get(r, "typedPerFilterConfig", "envoy.filters.http.cors"), rule.CORS)
	assertRateLimit(t, name, Get(r, "typedPerFilterConfig", "envoy.filters.http.local_ratelimit", "tokenBucket"), rule.RateLimit)
	assertRedirect(t, name, r, rule.Redirect)
	assertDirectResponse(t, name, r, rule.DirectResponse)
}

// assertHeaders checks field ("request" or "response") header changes: set
// overwrites, add appends, remove removes, and nothing else.
func assertHeaders(t Errorf, name string, r any, field string, h *fleet.HeaderModifier) {
	added := map[string]string{} // key=value -> appendAction
	for _, e := range List(r, field+"HeadersToAdd") {
		added[Str(e, "header", "key")+"="+Str(e, "header", "value")] = Str(e, "appendAction")
	}
	removed := map[string]bool{}
	for _, n := range List(r, field+"HeadersToRemove") {
		removed[fmt.Sprint(n)] = true
	}
	if h == nil {
		h = &fleet.HeaderModifier{}
	}
	for _, k := range fleet.Sorted(h.Set) {
		if a, ok := added[k+"="+h.Set[k]]; !ok || a != "OVERWRITE_IF_EXISTS_OR_ADD" {
			t.Errorf("%s: %s header %s=%s not set (overwriting): %v", name, field, k, h.Set[k], List(r, field+"HeadersToAdd"))
		}
	}
	for _, k := range fleet.Sorted(h.Add) {
		if a, ok := added[k+"="+h.Add[k]]; !ok || (a != "" && a != "APPEND_IF_EXISTS_OR_ADD") {
			t.Errorf("%s: %s header %s=%s not appended: %v", name, field, k, h.Add[k], List(r, field+"HeadersToAdd"))
		}
	}
	for _, k := range h.Remove {
		if !removed[k] {
			t.Errorf("%s: %s header %s not removed: %v", name, field, k, List(r, field+"HeadersToRemove"))
		}
	}
	if len(removed) != len(h.Remove) {
		t.Errorf("%s: %s headers removed %v, want %v", name, field, List(r, field+"HeadersToRemove"), h.Remove)
	}
	if len(added) != len(h.Set)+len(h.Add) {
		t.Errorf("%s: %s headers added %v, want %d", name, field, List(r, field+"HeadersToAdd"), len(h.Set)+len(h.Add))
	}
}

// assertCORS checks an Envoy CorsPolicy against the rule's: its lists,
// credentials and max age, and which origins its matchers admit.
func assertCORS(t Errorf, name string, cors any, c *fleet.CORS) {
	switch {
	case c == nil && cors != nil:
		t.Errorf("%s: a CORS policy (%v), the rule has none", name, cors)
		return
	case c != nil && cors == nil:
		t.Errorf("%s: no CORS policy", name)
		return
	case c == nil:
		return
	}
	for field, w := range map[string][]string{
		"allowMethods": c.AllowMethods, "allowHeaders": c.AllowHeaders, "exposeHeaders": c.ExposeHeaders,
	} {
		if got := splitList(Str(cors, field)); strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("%s: CORS %s %q, want %q", name, field, Str(cors, field), w)
		}
	}
	if got, _ := Get(cors, "allowCredentials").(bool); got != c.AllowCredentials {
		t.Errorf("%s: CORS allowCredentials %v, want %v", name, got, c.AllowCredentials)
	}
	if age := c.MaxAge.Std(); age > 0 && Str(cors, "maxAge") != fmt.Sprint(int(age/time.Second)) {
		t.Errorf("%s: CORS maxAge %q, want %d", name, Str(cors, "maxAge"), int(age/time.Second))
	}
	matchers := List(cors, "allowOriginStringMatch")
	if len(matchers) != len(c.AllowOrigins) {
		t.Errorf("%s: CORS origins %v, want %v", name, matchers, c.AllowOrigins)
	}
	admits := func(origin string) bool {
		for _, m := range matchers {
			if matchString(m, origin) {
				return true
			}
		}
		return false
	}
	for _, o := range c.AllowOrigins {
		in, out := originSamples(o)
		if !admits(in) {
			t.Errorf("%s: CORS origin %s: %q not admitted by %v", name, o, in, matchers)
		}
		for _, s := range out {
			if admits(s) {
				t.Errorf("%s: CORS origin %s: %q admitted by %v", name, o, s, matchers)
			}
		}
	}
}

// originSamples returns an Origin that an allowOrigins entry admits, and
// near misses it must not (only where the entry has a fixed part to miss).
func originSamples(o string) (in string, out []string) {
	if !strings.Contains(o, "*") {
		return o, []string{o + "x", "x" + o}
	}
	in = strings.ReplaceAll(o, "*", "a-b.c")
	parts := strings.Split(o, "*")
	if parts[len(parts)-1] != "" {
		out = append(out, in+".evil.example")
	}
	if parts[0] != "" {
		out = append(out, "x"+in)
	}
	if strings.Contains(strings.Join(parts, ""), ".") {
		for i := range parts {
			parts[i] = strings.ReplaceAll(parts[i], ".", "x")
		}
		out = append(out, strings.Join(parts, "a-b.c"))
	}
	return in, out
}

// matchString evaluates an Envoy StringMatcher on s (safe_regex matches the
// whole string).
func matchString(m any, s string) bool {
	cmp := func(a, b string) (string, string) {
		if Get(m, "ignoreCase") == true {
			return strings.ToLower(a), strings.ToLower(b)
		}
		return a, b
	}
	switch {
	case Get(m, "exact") != nil:
		a, b := cmp(s, Str(m, "exact"))
		return a == b
	case Get(m, "prefix") != nil:
		a, b := cmp(s, Str(m, "prefix"))
		return strings.HasPrefix(a, b)
	case Get(m, "suffix") != nil:
		a, b := cmp(s, Str(m, "suffix"))
		return strings.HasSuffix(a, b)
	case Get(m, "contains") != nil:
		a, b := cmp(s, Str(m, "contains"))
		return strings.Contains(a, b)
	case Get(m, "safeRegex") != nil:
		re, err := regexp.Compile("^(?:" + Str(m, "safeRegex", "regex") + ")$")
		return err == nil && re.MatchString(s)
	}
	return false
}

// splitList splits an Envoy comma-separated list ("GET,POST" or "GET, POST").
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func assertRateLimit(t Errorf, name string, limit any, l *fleet.RateLimit) {
	switch {
	case l == nil && limit != nil:
		t.Errorf("%s: a rate limit (%v), the rule has none", name, limit)
	case l != nil && limit == nil:
		t.Errorf("%s: no local rate limit", name)
	case l != nil:
		if int32(Num(limit, "maxTokens")) != l.Requests || int32(Num(limit, "tokensPerFill")) != l.Requests ||
			EnvoyDuration(Get(limit, "fillInterval")) != fleet.RateLimitPeriod(l.Unit) {
			t.Errorf("%s: token bucket %v, want %d requests per %s", name, limit, l.Requests, l.Unit)
		}
	}
}

func assertRedirect(t Errorf, name string, r any, want *fleet.Redirect) {
	rd := Get(r, "redirect")
	switch {
	case want == nil && rd != nil:
		t.Errorf("%s: redirects (%v), the rule does not", name, rd)
		return
	case want == nil:
		return
	case rd == nil || Get(r, "route") != nil:
		t.Errorf("%s: want a redirect and no upstream, got %v", name, r)
		return
	}
	for field, w := range map[string]string{
		"schemeRedirect": want.Scheme, "hostRedirect": want.Hostname, "pathRedirect": want.Path,
		"prefixRewrite": want.PathPrefix, "responseCode": EnvoyRedirectCode[want.StatusOf()],
	} {
		if got := Str(rd, field); got != w {
			t.Errorf("%s: redirect %s %q, want %q", name, field, got, w)
		}
	}
	if got := int32(Num(rd, "portRedirect")); got != want.Port {
		t.Errorf("%s: redirect port %d, want %d", name, got, want.Port)
	}
}

func assertDirectResponse(t Errorf, name string, r any, want *fleet.DirectResponse) {
	dr := Get(r, "directResponse")
	switch {
	case want == nil && dr != nil:
		t.Errorf("%s: answers directly (%v), the rule does not", name, dr)
		return
	case want == nil:
		return
	case dr == nil || Get(r, "route") != nil:
		t.Errorf("%s: want a direct response and no upstream, got %v", name, r)
		return
	}
	if got := int32(Num(dr, "status")); got != want.Status {
		t.Errorf("%s: direct response status %d, want %d", name, got, want.Status)
	}
	if body := envoyBody(dr); body != want.Body {
		t.Errorf("%s: direct response body %q, want %q (%v)", name, body, want.Body, dr)
	}
}

// envoyBody reads a DirectResponseAction's body: its body, or its body
// format's text source, inline as a string or base64 bytes.
func envoyBody(dr any) string {
	for _, src := range []any{Get(dr, "body"), Get(dr, "bodyFormat", "textFormatSource")} {
		if s := Str(src, "inlineString"); s != "" {
			return s
		}
		if b, err := base64.StdEncoding.DecodeString(Str(src, "inlineBytes")); err == nil && len(b) > 0 {
			return string(b)
		}
	}
	return ""
}
