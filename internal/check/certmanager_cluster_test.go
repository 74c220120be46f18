package check_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/testfleet"
)

var certificatesGVR = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}

// With spec.failoverCertificates, apply writes a cert-manager Certificate
// for each failover Secret, strictly validated against cert-manager's own
// CRDs; config-status fails a Certificate that is not Ready.
func TestCheckFailoverCertificates(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{
		{Name: "cm", CRDs: localfleet.Families(localfleet.GatewayAPI, envoygateway.Name, localfleet.CertManager)},
	}})
	ctx := context.Background()
	const ns = "cm-edge"
	sim := tf.Cluster("cm").Sim()
	for _, n := range []string{ns, "shop"} {
		if err := sim.EnsureNamespace(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	fleettest.Write(t, dir, fleettest.YAML(
		fleettest.Cluster("cm", "envoy-gateway").Kubeconfig(tf.Kubeconfig).GatewayNamespace(ns).Failover("203.0.113.7", 15443).
			Spec("failoverCertificates", "{issuerRef: {name: fleet-failover-ca, kind: ClusterIssuer}, duration: 2160h, renewBefore: 720h}"),
		fleettest.Service("shop", "checkout", 8080).On("cm").HealthCheck(),
		fleettest.Route("shop", "web", "shop.example.com").To("checkout"),
	))
	ios, _, applyOut, applyErr := iostreams.Test()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	if code := cmd.Main([]string{"-f", dir, "apply", "--yes"}, ios); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, applyOut, applyErr)
	}
	dyn, err := dynamic.NewForConfig(tf.Cluster("cm").Config)
	if err != nil {
		t.Fatal(err)
	}
	certs := dyn.Resource(certificatesGVR).Namespace(ns)
	down, err := certs.Get(ctx, "gatefed-failover-downstream", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dns, _, _ := unstructured.NestedStringSlice(down.Object, "spec", "dnsNames")
	usages, _, _ := unstructured.NestedStringSlice(down.Object, "spec", "usages")
	secret, _, _ := unstructured.NestedString(down.Object, "spec", "secretName")
	if !slices.Equal(dns, []string{"checkout-8080.shop.failover.gatefed.internal"}) || !slices.Contains(usages, "server auth") || secret != "failover-downstream" {
		t.Fatalf("Certificate gatefed-failover-downstream: dnsNames %v usages %v secretName %q", dns, usages, secret)
	}
	up, err := certs.Get(ctx, "gatefed-failover-upstream", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if usages, _, _ := unstructured.NestedStringSlice(up.Object, "spec", "usages"); !slices.Contains(usages, "client auth") {
		t.Fatalf("Certificate gatefed-failover-upstream: usages %v", usages)
	}

	setReady := func(status, reason string) {
		t.Helper()
		for _, name := range []string{"gatefed-failover-upstream", "gatefed-failover-downstream"} {
			c, err := certs.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c.Object["status"] = map[string]any{"conditions": []any{map[string]any{
				"type": "Ready", "status": status, "reason": reason, "message": "set by the test", "observedGeneration": c.GetGeneration(),
				"lastTransitionTime": metav1.Now().UTC().Format("2006-01-02T15:04:05Z"),
			}}}
			if _, err := certs.UpdateStatus(ctx, c, metav1.UpdateOptions{FieldValidation: "Strict"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		status, reason string
		code           int
		sev            check.Severity
	}{
		{"False", "DoesNotExist", 1, check.Failure},
		{"True", "Ready", 0, ""},
	} {
		setReady(tc.status, tc.reason)
		out, errOut, code := runCheckIn(t, dir, false, "-x", "gateway-install,drift,service-presence,failover-readiness,failover-trust,sizing", "-o", "json")
		if code != tc.code {
			t.Fatalf("Ready=%s: exit %d, want %d\n%s\n%s", tc.status, code, tc.code, out, errOut)
		}
		var rep jsonReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		fs := rep.findings("cm", check.ConfigStatus)
		notReady := hasFinding(fs, check.Failure, "Certificate cm-edge/gatefed-failover-downstream is not Ready (Ready=False", "Secret cm-edge/failover-downstream may be missing or stale")
		if notReady != (tc.sev == check.Failure) {
			t.Fatalf("Ready=%s: config-status findings %+v", tc.status, fs)
		}
	}
}
