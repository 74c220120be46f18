package gloo

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
)

// tlsRoutes are the routes of the tls sample fleet: shop over two hosts with
// an HTTPS redirect, api over HTTPS only.
func tlsRoutes() []*fleet.GlobalRoute {
	shop := fleettest.NewRoute("shop", "shop", []string{"shop.example.com", "www.shop.example.com"},
		fleet.Rule{Backends: []fleet.Backend{fleettest.Backend("checkout")}})
	shop.Spec.TLS = &fleet.RouteTLS{SecretName: "shop-tls", HTTPSRedirect: true}
	api := fleettest.NewRoute("shop", "api", []string{"api.example.com"}, fleet.Rule{
		Match:           &fleet.Match{PathPrefix: "/v1"},
		Backends:        []fleet.Backend{fleettest.Backend("checkout")},
		ResponseHeaders: &fleet.HeaderModifier{Set: map[string]string{"strict-transport-security": "max-age=31536000"}},
	})
	api.Spec.TLS = &fleet.RouteTLS{SecretName: "api-tls"}
	return []*fleet.GlobalRoute{shop, api}
}

// TestTLS: a route with tls gets sslConfig on its VirtualService, so only
// gateway-proxy-ssl serves it; with httpsRedirect a second VirtualService
// without sslConfig answers plain HTTP on the same domains with a 301.
func TestTLS(t *testing.T) {
	f := shopFleet()
	f.Routes = tlsRoutes()
	objs, warnings := renderCluster(t, f, "east", nil)
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}

	shop := find(t, objs, "VirtualService", "gatefed-shop-shop")
	assertYAML(t, "shop", shop.Object["spec"], `
sslConfig:
  secretRef: {name: shop-tls, namespace: gloo-system}
  sniDomains: [shop.example.com, www.shop.example.com]
virtualHost:
  domains: [shop.example.com, www.shop.example.com]
  routes:
  - matchers: [{prefix: /}]
    routeAction: {single: {upstream: {name: gatefed-shop-checkout, namespace: gloo-system}}}
`)
	redirect := find(t, objs, "VirtualService", "gatefed-shop-shop-https-redirect")
	assertYAML(t, "shop redirect", redirect.Object["spec"], `
virtualHost:
  domains: [shop.example.com, www.shop.example.com]
  routes:
  - matchers: [{prefix: /}]
    redirectAction: {httpsRedirect: true, responseCode: MOVED_PERMANENTLY}
`)
	if redirect.GetNamespace() != "gloo-system" {
		t.Errorf("redirect namespace %q, want gloo-system", redirect.GetNamespace())
	}
	if !reflect.DeepEqual(redirect.GetLabels(), shop.GetLabels()) || !reflect.DeepEqual(redirect.GetAnnotations(), shop.GetAnnotations()) {
		t.Errorf("redirect labels %v annotations %v, want the route's %v %v",
			redirect.GetLabels(), redirect.GetAnnotations(), shop.GetLabels(), shop.GetAnnotations())
	}
	if got := shop.GetAnnotations()[render.AnnotationSource]; got != "GlobalRoute/shop/shop" {
		t.Errorf("source %q, want GlobalRoute/shop/shop", got)
	}

	api := find(t, objs, "VirtualService", "gatefed-shop-api")
	assertYAML(t, "api", api.Object["spec"], `
sslConfig:
  secretRef: {name: api-tls, namespace: gloo-system}
  sniDomains: [api.example.com]
virtualHost:
  domains: [api.example.com]
  routes:
  - matchers: [{prefix: /v1}]
    routeAction: {single: {upstream: {name: gatefed-shop-checkout, namespace: gloo-system}}}
    options:
      headerManipulation:
        responseHeadersToAdd:
        - header: {key: strict-transport-security, value: max-age=31536000}
          append: false
`)
	var vss []string
	for _, o := range objs {
		if o.GetKind() == "VirtualService" {
			vss = append(vss, o.GetName())
		}
	}
	if want := []string{"gatefed-shop-api", "gatefed-shop-shop", "gatefed-shop-shop-https-redirect"}; !reflect.DeepEqual(vss, want) {
		t.Errorf("VirtualServices %v, want %v", vss, want)
	}
}

// TestTLSHostOverlap: two VirtualServices may share a domain when one has
// sslConfig, since different Gateways serve them; on one Gateway it is a
// conflict, reported once per host.
func TestTLSHostOverlap(t *testing.T) {
	const host = "shop.example.com"
	route := func(name string, tls *fleet.RouteTLS) *fleet.GlobalRoute {
		r := fleettest.NewRoute("shop", name, []string{host}, fleet.Rule{Backends: []fleet.Backend{fleettest.Backend("checkout")}})
		r.Spec.TLS = tls
		return r
	}
	httpsOnly := &fleet.RouteTLS{SecretName: "shop-tls"}
	redirect := &fleet.RouteTLS{SecretName: "shop-tls", HTTPSRedirect: true}
	for _, tc := range []struct {
		name     string
		a, b     *fleet.RouteTLS
		overlaps int
	}{
		{"https and plain", httpsOnly, nil, 0},
		{"redirect and plain", redirect, nil, 1},
		{"plain and plain", nil, nil, 1},
		{"https and https", httpsOnly, httpsOnly, 1},
		{"redirect and redirect", redirect, redirect, 1},
		{"redirect and https", redirect, httpsOnly, 1},
	} {
		f := shopFleet()
		f.Routes = []*fleet.GlobalRoute{route("a", tc.a), route("b", tc.b)}
		_, warnings := renderCluster(t, f, "east", nil)
		var overlaps []string
		for _, w := range warnings {
			if strings.Contains(w, "overlap") {
				overlaps = append(overlaps, w)
			}
		}
		if len(overlaps) != tc.overlaps {
			t.Errorf("%s: overlap warnings %q, want %d", tc.name, overlaps, tc.overlaps)
		}
		for _, w := range overlaps {
			if !strings.Contains(w, `host "shop.example.com" is in GlobalRoutes shop/a and shop/b`) {
				t.Errorf("%s: warning %q", tc.name, w)
			}
		}
	}
}

// TestHTTPSRedirectName stays a DNS label and apart from the route's own
// VirtualService when the route's name is long; a route whose own name is
// another's redirect name is refused, not silently merged.
func TestHTTPSRedirectName(t *testing.T) {
	long := fleettest.NewRoute("shop", strings.Repeat("a", 60), []string{"a.example.com"})
	vs, rd := VirtualServiceName(long), HTTPSRedirectName(long)
	if len(vs) > maxNameLength || len(rd) > maxNameLength || vs == rd {
		t.Errorf("names %q and %q", vs, rd)
	}
	if again := HTTPSRedirectName(long); again != rd {
		t.Errorf("name %q then %q", rd, again)
	}

	f := shopFleet()
	shop := fleettest.NewRoute("shop", "shop", []string{"shop.example.com"}, fleet.Rule{Backends: []fleet.Backend{fleettest.Backend("checkout")}})
	shop.Spec.TLS = &fleet.RouteTLS{SecretName: "shop-tls", HTTPSRedirect: true}
	clash := fleettest.NewRoute("shop", "shop-https-redirect", []string{"other.example.com"}, fleet.Rule{Backends: []fleet.Backend{fleettest.Backend("checkout")}})
	f.Routes = []*fleet.GlobalRoute{shop, clash}
	_, _, err := New().Render(renderInput(f, "east"))
	if err == nil || !strings.Contains(err.Error(), "both render VirtualService gloo-system/gatefed-shop-shop-https-redirect") {
		t.Errorf("err = %v", err)
	}
}
