package gloo

import (
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
)

// The failover Gateway binds :: (both families) unless the proxy's Service
// is IPv4 only, where Envoy cannot bind ::.
func TestFailoverBindAddressFollowsIPFamilies(t *testing.T) {
	for _, tc := range []struct {
		families []string
		want     string
	}{
		{nil, "::"},
		{[]string{"IPv4"}, "0.0.0.0"},
		{[]string{"IPv4", "IPv6"}, "::"},
		{[]string{"IPv6"}, "::"},
	} {
		f := shopFleet()
		f.Cluster("east").Spec.Gateway.IPFamilies = tc.families
		objs, _ := renderCluster(t, f, "east", nil)
		gw := find(t, objs, "Gateway", FailoverGatewayName)
		if got := gw.Object["spec"].(map[string]any)["bindAddress"]; got != tc.want {
			t.Errorf("ipFamilies %v: bindAddress %v, want %s", tc.families, got, tc.want)
		}
	}
}

// disableShadowHostSuffixAppend is new in Gloo 1.22: older Gloo refuses it,
// so it is left out there, with a warning that copies get a -shadow Host.
func TestShadowHostSuffixByGlooVersion(t *testing.T) {
	for _, tc := range []struct {
		version string
		field   bool
	}{
		{"", true}, {"1.22.0", true}, {"v1.23.1", true}, {"1.21.9", false}, {OldestVersion, false},
	} {
		f := shopFleet()
		f.Cluster("east").Spec.Gateway.Version = tc.version
		f.Routes[0].Spec.Rules[0].Mirror = &fleet.Mirror{Service: "checkout", Percent: 10}
		objs, warnings := renderCluster(t, f, "east", nil)
		vs := find(t, objs, "VirtualService", "gatefed-shop-storefront")
		route := vs.Object["spec"].(map[string]any)["virtualHost"].(map[string]any)["routes"].([]any)[0].(map[string]any)
		sh := route["options"].(map[string]any)["shadowing"].(map[string]any)
		_, has := sh["disableShadowHostSuffixAppend"]
		if has != tc.field {
			t.Errorf("Gloo %q: disableShadowHostSuffixAppend written %v, want %v: %v", tc.version, has, tc.field, sh)
		}
		warned := strings.Contains(strings.Join(warnings, "\n"), "appends -shadow")
		if warned == tc.field {
			t.Errorf("Gloo %q: warning %v, want %v: %q", tc.version, warned, !tc.field, warnings)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	for v, want := range map[string]string{
		"1.22.3": "", "v1.17.0": "", NewestVersion: "", "1.30": "",
		"1.16.9": "older than " + OldestVersion, "latest": "not a version", "1": "not a version", "1.x": "not a version",
	} {
		got := CheckVersion(v)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("CheckVersion(%q) = %q, want %q", v, got, want)
		}
	}
}

// The catch-all host is Gloo's domain "*"; with tls, an sslConfig without
// sniDomains serves every SNI.
func TestCatchAllHost(t *testing.T) {
	f := shopFleet()
	f.Routes[0].Spec.Hosts = []string{fleet.CatchAllHost}
	f.Routes[0].Spec.TLS = &fleet.RouteTLS{SecretName: "default-tls"}
	objs, _ := renderCluster(t, f, "east", nil)
	vs := find(t, objs, "VirtualService", "gatefed-shop-storefront")
	spec := vs.Object["spec"].(map[string]any)
	assertYAML(t, "domains", spec["virtualHost"].(map[string]any)["domains"], `["*"]`)
	assertYAML(t, "sslConfig", spec["sslConfig"], `{secretRef: {name: default-tls, namespace: gloo-system}}`)
}

func TestEnterpriseImage(t *testing.T) {
	for image, want := range map[string]bool{
		"quay.io/solo-io/gloo-ee:1.19.6": true, "quay.io/solo-io/gloo:1.19.6": false, "gloo-ee": true, "mirror.example.com/gloo@sha256:00": false,
	} {
		if got := EnterpriseImage(image); got != want {
			t.Errorf("EnterpriseImage(%q) = %v, want %v", image, got, want)
		}
	}
}
