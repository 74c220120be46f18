package fleet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testCluster = `apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: %s}
spec:
  gateway: {provider: %s}
  failover: {address: 192.0.2.1}
`

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func cluster(name, provider string) string {
	return strings.Replace(strings.Replace(testCluster, "%s", name, 1), "%s", provider, 1)
}

func TestLoadDirectoryDefaultsAndStdin(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "b", "west.yml"), cluster("west", "envoy-gateway"))
	write(t, filepath.Join(dir, "a.yaml"), cluster("east", "gloo"))
	write(t, filepath.Join(dir, ".git", "ignored.yaml"), "not: a fleet document")
	write(t, filepath.Join(dir, "README.md"), "# not read")
	stdin := strings.NewReader("---\n" + `apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: checkout}
spec:
  port: 8080
  healthCheck: {path: /healthz, interval: 5s, timeout: 1s}
`)
	f, err := Load([]string{dir, "-"}, stdin)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Clusters) != 2 || f.Clusters[0].Name() != "east" || f.Clusters[1].Name() != "west" {
		t.Fatalf("clusters %+v", f.Clusters)
	}
	east, west := f.Cluster("east"), f.Cluster("west")
	if g := east.Spec.Gateway; g.Namespace != "gloo-system" || g.Name != "gateway-proxy" || g.ClassName != "" {
		t.Errorf("gloo defaults: %+v", g)
	}
	if g := west.Spec.Gateway; g.Namespace != "envoy-gateway-system" || g.Name != "eg" || g.ClassName != "eg" {
		t.Errorf("envoy-gateway defaults: %+v", g)
	}
	if east.FailoverPort() != 15443 || east.Context() != "east" {
		t.Errorf("failover port %d, context %q", east.FailoverPort(), east.Context())
	}
	s := f.Service("default/checkout")
	if s == nil || s.ServiceName() != "checkout" || s.Policy() != PolicyLocality {
		t.Fatalf("service %+v", s)
	}
	if s.Source.File != "-" || s.Source.LineOf("spec.healthCheck.path") != 7 || s.Source.LineOf("spec.healthCheck.nothing") != 7 {
		t.Errorf("source %s:%d, healthCheck at %d", s.Source.File, s.Source.Line, s.Source.LineOf("spec.healthCheck.path"))
	}
	if got := f.Placed(nil); len(got) != 2 {
		t.Errorf("placed %v", got)
	}
}

func TestLoadEmptyDocumentsAndMissingFile(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "f.yaml"), "---\n# only a comment\n---\n"+cluster("east", "gloo")+"---\n")
	f, err := Load([]string{filepath.Join(dir, "f.yaml")}, nil)
	if err != nil || len(f.Clusters) != 1 {
		t.Fatalf("%v %+v", err, f)
	}
	_, err = Load([]string{filepath.Join(dir, "nope.yaml")}, nil)
	var errs Errors
	if err == nil || errors.As(err, &errs) || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("missing file: %v", err)
	}
}

func TestNearest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"regoin", "region"}, {"glo", "gloo"}, {"colour", ""}, {"x", ""}, {"zonf", "zone"}, {"b", ""},
	} {
		if got := Nearest(tc.in, []string{"region", "gloo", "zone", "context"}); got != tc.want {
			t.Errorf("Nearest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLoadHealthCheckDefaults(t *testing.T) {
	const svc = `---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: %s}
spec:
  port: 8080
  healthCheck: %s
`
	doc := func(name, hc string) string {
		return strings.Replace(strings.Replace(svc, "%s", name, 1), "%s", hc, 1)
	}
	in := cluster("east", "gloo") +
		doc("only-path", "{path: /healthz}") +
		doc("explicit", "{path: /ready, interval: 10s, timeout: 2s, healthyThreshold: 2, unhealthyThreshold: 5}")
	f, err := Load([]string{"-"}, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]HealthCheck{
		"default/only-path": {Path: "/healthz", Interval: "5s", Timeout: "1s", HealthyThreshold: 1, UnhealthyThreshold: 3},
		"default/explicit":  {Path: "/ready", Interval: "10s", Timeout: "2s", HealthyThreshold: 2, UnhealthyThreshold: 5},
	} {
		if got := f.Service(name).Spec.HealthCheck; *got != want {
			t.Errorf("%s: healthCheck %+v, want %+v", name, *got, want)
		}
	}

	_, err = Load([]string{"-"}, strings.NewReader(cluster("east", "gloo")+doc("no-path", "{interval: 5s}")))
	if err == nil || !strings.Contains(err.Error(), "spec.healthCheck.path: required") {
		t.Errorf("health check without a path: %v", err)
	}
}
