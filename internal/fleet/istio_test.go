package fleet

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestIstioClusterDefaultsAndRefusals loads a fleet with istio clusters: the
// gateway defaults, and the refusals an istio cluster gets at FILE:LINE.
func TestIstioClusterDefaultsAndRefusals(t *testing.T) {
	dir := t.TempDir()
	good := `apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: mesh}
spec:
  gateway: {provider: istio}
  failover: {address: 192.0.2.1}
`
	write(t, filepath.Join(dir, "fleet.yaml"), good)
	f, err := Load([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := f.Cluster("mesh").Spec.Gateway
	if g.Namespace != "istio-system" || g.Name != "gatefed" || len(g.Selector) != 1 || g.Selector["istio"] != "ingressgateway" {
		t.Errorf("defaults: %+v", g)
	}

	bad := `apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: edge}
spec:
  gateway: {provider: istio, className: eg, selector: {"bad key!": x}}
---
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: gloo}
spec:
  gateway: {provider: gloo, selector: {app: x}}
  failover: {address: 192.0.2.2}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: web}
spec:
  port: 80
  outlierDetection: {consecutive5xx: 3}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalRoute
metadata: {name: web}
spec:
  hosts: [web.example.com]
  rules:
  - backends: [{service: web}]
    rateLimit: {requests: 10, unit: Second}
`
	write(t, filepath.Join(dir, "fleet.yaml"), bad)
	_, err = Load([]string{dir}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	file := filepath.Join(dir, "fleet.yaml")
	for _, want := range []string{
		file + ":5: Cluster edge: spec.gateway.className: only for provider envoy-gateway",
		file + `:5: Cluster edge: spec.gateway.selector.bad key!: invalid label key "bad key!"`,
		file + ":11: Cluster gloo: spec.gateway.selector: only for provider istio",
		file + `:4: Cluster edge: spec.failover: required: GlobalService default/web runs here and fails over to other clusters`,
		file + `:28: GlobalRoute default/web: spec.rules[0].rateLimit: Istio (cluster "edge") has no local rate-limit API`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}
