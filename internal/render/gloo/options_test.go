package gloo

import (
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
)

// optionsRoute uses every rule option: a rewrite with request and response
// header changes, CORS and a rate limit, redirects, a direct response, and a
// rule whose only backend (legacy) no cluster but edge can serve.
func optionsRoute() *fleet.GlobalRoute {
	return fleettest.NewRoute("shop", "options", []string{"options.shop.example.com"},
		fleet.Rule{
			Name:    "api",
			Match:   &fleet.Match{PathPrefix: "/api"},
			Rewrite: &fleet.Rewrite{PathPrefix: "/v2", Hostname: "api.internal.example.com"},
			RequestHeaders: &fleet.HeaderModifier{
				Set:    map[string]string{"x-tenant": "blue", "x-env": "prod"},
				Add:    map[string]string{"x-trace": "on"},
				Remove: []string{"x-debug", "cookie"},
			},
			ResponseHeaders: &fleet.HeaderModifier{
				Set:    map[string]string{"cache-control": "no-store"},
				Add:    map[string]string{"x-served-by": "gatefed"},
				Remove: []string{"server"},
			},
			CORS: &fleet.CORS{
				AllowOrigins:     []string{"https://shop.example.com", "https://*.shop.example.com"},
				AllowMethods:     []string{"GET", "POST"},
				AllowHeaders:     []string{"content-type"},
				ExposeHeaders:    []string{"x-request-id"},
				MaxAge:           "1h",
				AllowCredentials: true,
			},
			RateLimit: &fleet.RateLimit{Requests: 100, Unit: "Second"},
			Timeout:   "5s",
			Backends:  []fleet.Backend{fleettest.Backend("checkout")},
		},
		fleet.Rule{
			Name:     "to-https",
			Match:    &fleet.Match{PathPrefix: "/login"},
			Redirect: &fleet.Redirect{Scheme: "https", StatusCode: 301},
		},
		fleet.Rule{
			Name:     "moved",
			Match:    &fleet.Match{PathExact: "/old"},
			Redirect: &fleet.Redirect{Hostname: "new.shop.example.com", Path: "/new", Port: 8443},
		},
		fleet.Rule{
			Name:            "docs",
			Match:           &fleet.Match{PathPrefix: "/docs/"},
			Redirect:        &fleet.Redirect{PathPrefix: "/manual/", StatusCode: 308},
			ResponseHeaders: &fleet.HeaderModifier{Set: map[string]string{"cache-control": "max-age=60"}},
		},
		fleet.Rule{
			Name:            "maintenance",
			Match:           &fleet.Match{PathPrefix: "/admin"},
			DirectResponse:  &fleet.DirectResponse{Status: 503, Body: "down for maintenance\n"},
			ResponseHeaders: &fleet.HeaderModifier{Set: map[string]string{"retry-after": "120"}, Remove: []string{"server"}},
		},
		fleet.Rule{
			Name:            "legacy",
			Match:           &fleet.Match{PathPrefix: "/legacy"},
			Rewrite:         &fleet.Rewrite{PathPrefix: "/"},
			RequestHeaders:  &fleet.HeaderModifier{Set: map[string]string{"x-legacy": "1"}},
			ResponseHeaders: &fleet.HeaderModifier{Add: map[string]string{"x-legacy": "1"}},
			Retries:         &fleet.Retries{Attempts: 2},
			CORS:            &fleet.CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}},
			RateLimit:       &fleet.RateLimit{Requests: 20, Unit: "Minute"},
			Backends:        []fleet.Backend{fleettest.Backend("legacy")},
		},
	)
}

func optionsFleet() *fleet.Fleet {
	f := shopFleet()
	f.Routes = append(f.Routes, optionsRoute())
	return f
}

func routesOf(t *testing.T, objs []*unstructured.Unstructured, vsName string) []any {
	t.Helper()
	vs := find(t, objs, "VirtualService", vsName)
	return vs.Object["spec"].(map[string]any)["virtualHost"].(map[string]any)["routes"].([]any)
}

func TestRouteOptions(t *testing.T) {
	objs, warnings := renderCluster(t, optionsFleet(), "east", nil)
	routes := routesOf(t, objs, "gatefed-shop-options")
	if len(routes) != 6 {
		t.Fatalf("%d routes, want 6", len(routes))
	}
	for i, want := range []string{`
name: api
matchers: [{prefix: /api}]
routeAction:
  single:
    upstream: {name: gatefed-shop-checkout, namespace: gloo-system}
options:
  timeout: 5s
  prefixRewrite: /v2
  hostRewrite: api.internal.example.com
  headerManipulation:
    requestHeadersToAdd:
    - header: {key: x-env, value: prod}
      append: false
    - header: {key: x-tenant, value: blue}
      append: false
    - header: {key: x-trace, value: "on"}
      append: true
    requestHeadersToRemove: [x-debug, cookie]
    responseHeadersToAdd:
    - header: {key: cache-control, value: no-store}
      append: false
    - header: {key: x-served-by, value: gatefed}
      append: true
    responseHeadersToRemove: [server]
  cors:
    allowOrigin: [https://shop.example.com]
    allowOriginRegex: ['https://.*\.shop\.example\.com']
    allowMethods: [GET, POST]
    allowHeaders: [content-type]
    exposeHeaders: [x-request-id]
    maxAge: "3600"
    allowCredentials: true
  ratelimit:
    localRatelimit: {maxTokens: 100, tokensPerFill: 100, fillInterval: 1s}
`, `
name: to-https
matchers: [{prefix: /login}]
redirectAction:
  httpsRedirect: true
  responseCode: MOVED_PERMANENTLY
`, `
name: moved
matchers: [{exact: /old}]
redirectAction:
  hostRedirect: new.shop.example.com
  pathRedirect: /new
  portRedirect: 8443
  responseCode: FOUND
`, `
name: docs
matchers: [{prefix: /docs/}]
redirectAction:
  prefixRewrite: /manual/
  responseCode: PERMANENT_REDIRECT
options:
  headerManipulation:
    responseHeadersToAdd:
    - header: {key: cache-control, value: max-age=60}
      append: false
`, `
name: maintenance
matchers: [{prefix: /admin}]
directResponseAction:
  status: 503
  body: "down for maintenance\n"
options:
  headerManipulation:
    responseHeadersToAdd:
    - header: {key: retry-after, value: "120"}
      append: false
    responseHeadersToRemove: [server]
`, `
name: legacy
matchers: [{prefix: /legacy}]
directResponseAction:
  status: 503
  body: "no cluster can serve this route\n"
options:
  headerManipulation:
    responseHeadersToAdd:
    - header: {key: x-legacy, value: "1"}
      append: true
`} {
		assertYAML(t, routes[i].(map[string]any)["name"].(string), routes[i], want)
	}
	// /legacy replaced with / would double the slash, but the rule answers
	// 503 here, so nothing is rewritten and nothing is said about it; its
	// CORS policy and rate limit are left out with the rest.
	assertWarning(t, warnings, "GlobalRoute shop/options rules[5]: no backend can take traffic; the VirtualService answers 503")
	for _, w := range warnings {
		if strings.Contains(w, "character for character") {
			t.Errorf("unexpected warning: %s", w)
		}
	}
}

// TestCORSAndRateLimit: exact origins are allowOrigin, wildcard ones an
// allowOriginRegex that Envoy matches against the whole Origin (RE2, as Go's
// regexp); maxAge is whole seconds; the token bucket holds and refills the
// limit every unit; a route that cannot send on gets neither.
func TestCORSAndRateLimit(t *testing.T) {
	for _, tc := range []struct {
		origin, regex string
		match, miss   []string
	}{
		{"https://*.shop.example.com", `https://.*\.shop\.example\.com`,
			[]string{"https://a.shop.example.com", "https://a.b.shop.example.com"},
			[]string{"https://shop.example.com", "https://evilshop.example.com", "http://a.shop.example.com", "https://a.shop.example.com.evil.net", "https://aXshop.example.com"}},
		{"http://*.local:8080", `http://.*\.local:8080`,
			[]string{"http://dev.local:8080"},
			[]string{"http://dev.local", "http://dev.local:80800"}},
		{"*", `.*`, []string{"https://anything.example.net", "*"}, nil},
	} {
		f := shopFleet()
		f.Routes = []*fleet.GlobalRoute{fleettest.NewRoute("shop", "r", []string{"r.example.com"}, fleet.Rule{
			Backends: []fleet.Backend{fleettest.Backend("checkout")},
			CORS:     &fleet.CORS{AllowOrigins: []string{tc.origin}},
		})}
		objs, _ := renderCluster(t, f, "east", nil)
		route := routesOf(t, objs, "gatefed-shop-r")[0].(map[string]any)
		assertYAML(t, tc.origin, route["options"], "cors: {allowOriginRegex: ['"+tc.regex+"']}")
		re := regexp.MustCompile(`^(?:` + tc.regex + `)$`)
		for _, o := range tc.match {
			if !re.MatchString(o) {
				t.Errorf("%s: %s does not match %s", tc.origin, tc.regex, o)
			}
		}
		for _, o := range tc.miss {
			if re.MatchString(o) {
				t.Errorf("%s: %s matches %s", tc.origin, tc.regex, o)
			}
		}
	}

	for unit, interval := range map[string]string{"Second": "1s", "Minute": "60s", "Hour": "3600s"} {
		f := shopFleet()
		f.Routes = []*fleet.GlobalRoute{fleettest.NewRoute("shop", "r", []string{"r.example.com"}, fleet.Rule{
			Backends:  []fleet.Backend{fleettest.Backend("checkout")},
			CORS:      &fleet.CORS{AllowOrigins: []string{"https://a.example.com"}, MaxAge: "90s"},
			RateLimit: &fleet.RateLimit{Requests: 7, Unit: unit},
		})}
		objs, _ := renderCluster(t, f, "east", nil)
		route := routesOf(t, objs, "gatefed-shop-r")[0].(map[string]any)
		assertYAML(t, unit, route["options"], `
cors: {allowOrigin: [https://a.example.com], maxAge: "90"}
ratelimit: {localRatelimit: {maxTokens: 7, tokensPerFill: 7, fillInterval: `+interval+`}}
`)
	}

	// The only backend has weight 0, so the rule answers 503, without its
	// CORS policy or rate limit.
	f := shopFleet()
	f.Routes = []*fleet.GlobalRoute{fleettest.NewRoute("shop", "r", []string{"r.example.com"}, fleet.Rule{
		Backends:  []fleet.Backend{fleettest.Backend("checkout", 0)},
		CORS:      &fleet.CORS{AllowOrigins: []string{"https://a.example.com"}},
		RateLimit: &fleet.RateLimit{Requests: 1, Unit: "Second"},
	})}
	objs, _ := renderCluster(t, f, "east", nil)
	assertYAML(t, "unservable", routesOf(t, objs, "gatefed-shop-r")[0], `
matchers: [{prefix: /}]
directResponseAction: {status: 503, body: "no cluster can serve this route\n"}
`)
}

// TestRedirectResponseCodes writes Gloo's enum names, and always writes one:
// Gloo's default (MOVED_PERMANENTLY) is not gatefed's (302).
func TestRedirectResponseCodes(t *testing.T) {
	for code, want := range map[int32]string{
		0: "FOUND", 301: "MOVED_PERMANENTLY", 302: "FOUND", 303: "SEE_OTHER", 307: "TEMPORARY_REDIRECT", 308: "PERMANENT_REDIRECT",
	} {
		f := shopFleet()
		f.Routes = []*fleet.GlobalRoute{fleettest.NewRoute("shop", "r", []string{"r.example.com"},
			fleet.Rule{Redirect: &fleet.Redirect{Hostname: "x.example.com", StatusCode: code}})}
		objs, _ := renderCluster(t, f, "east", nil)
		ra := routesOf(t, objs, "gatefed-shop-r")[0].(map[string]any)["redirectAction"].(map[string]any)
		if got := ra["responseCode"]; got != want {
			t.Errorf("statusCode %d: responseCode %v, want %s", code, got, want)
		}
	}

	f := shopFleet()
	f.Routes = []*fleet.GlobalRoute{fleettest.NewRoute("shop", "r", []string{"r.example.com"},
		fleet.Rule{Redirect: &fleet.Redirect{Hostname: "x.example.com", StatusCode: 304}})}
	if _, _, err := New().Render(renderInput(f, "east")); err == nil || !strings.Contains(err.Error(), "redirect.statusCode 304") {
		t.Errorf("status 304: err = %v", err)
	}
	f.Routes[0].Spec.Rules[0].Redirect = &fleet.Redirect{Scheme: "http"}
	if _, _, err := New().Render(renderInput(f, "east")); err == nil || !strings.Contains(err.Error(), "Gloo redirects only to https") {
		t.Errorf("scheme http: err = %v", err)
	}
}

// TestAnsweringRulesUseNoUpstream: a route of redirects and direct responses
// sends nowhere, so the cluster gets its VirtualService and no Upstream.
func TestAnsweringRulesUseNoUpstream(t *testing.T) {
	f := shopFleet()
	f.Routes = []*fleet.GlobalRoute{fleettest.NewRoute("shop", "answers", []string{"answers.example.com"},
		fleet.Rule{Match: &fleet.Match{PathPrefix: "/a"}, Redirect: &fleet.Redirect{Scheme: "https"}},
		fleet.Rule{DirectResponse: &fleet.DirectResponse{Status: 404}},
	)}
	objs, warnings := renderCluster(t, f, "edge", nil)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind()+"/"+o.GetName())
	}
	if len(objs) != 1 || objs[0].GetKind() != "VirtualService" {
		t.Errorf("objects %v, want only the VirtualService", kinds)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	assertYAML(t, "routes", routesOf(t, objs, "gatefed-shop-answers"), `
- matchers: [{prefix: /a}]
  redirectAction: {httpsRedirect: true, responseCode: FOUND}
- matchers: [{prefix: /}]
  directResponseAction: {status: 404}
`)
}

// TestPrefixSlashWarning: Envoy replaces a matched prefix character for
// character, so a replacement that disagrees with its prefix on a trailing
// slash doubles or drops a slash.
func TestPrefixSlashWarning(t *testing.T) {
	for _, tc := range []struct {
		name     string
		match    *fleet.Match
		rewrite  string
		redirect bool
		warning  string // "" means none
	}{
		{"strip a prefix", &fleet.Match{PathPrefix: "/api"}, "/", false,
			`rules[0]: rewrite.pathPrefix "/" replaces the matched prefix "/api" character for character on Gloo, so /api/x becomes //x`},
		{"prefix the root", nil, "/v2", false,
			`rules[0]: rewrite.pathPrefix "/v2" replaces the matched prefix "/" character for character on Gloo, so /x becomes /v2x`},
		{"redirect", &fleet.Match{PathPrefix: "/docs/"}, "/manual", true,
			`rules[0]: redirect.pathPrefix "/manual" replaces the matched prefix "/docs/" character for character on Gloo, so /docs/x becomes /manualx`},
		{"neither ends in /", &fleet.Match{PathPrefix: "/api"}, "/v2", false, ""},
		{"both end in /", &fleet.Match{PathPrefix: "/api/"}, "/", false, ""},
		{"root to root", nil, "/", true, ""},
	} {
		rule := fleet.Rule{Match: tc.match}
		if tc.redirect {
			rule.Redirect = &fleet.Redirect{PathPrefix: tc.rewrite}
		} else {
			rule.Rewrite = &fleet.Rewrite{PathPrefix: tc.rewrite}
			rule.Backends = []fleet.Backend{fleettest.Backend("checkout")}
		}
		f := shopFleet()
		f.Routes = []*fleet.GlobalRoute{fleettest.NewRoute("shop", "r", []string{"r.example.com"}, rule)}
		_, warnings := renderCluster(t, f, "east", nil)
		var slash []string
		for _, w := range warnings {
			if strings.Contains(w, "character for character") {
				slash = append(slash, w)
			}
		}
		switch {
		case tc.warning == "" && len(slash) > 0:
			t.Errorf("%s: unexpected warnings %q", tc.name, slash)
		case tc.warning != "":
			assertWarning(t, slash, tc.warning)
		}
	}
}

func renderInput(f *fleet.Fleet, cluster string) *render.ClusterInput {
	return render.Input(f, f.Cluster(cluster), nil)
}
