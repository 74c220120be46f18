package check_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// gateway-install reads Envoy Gateway's configuration ConfigMap for a
// cluster with spec.gateway.strictTiers: it fails while the ConfigMap is
// missing or leaves extensionApis.enableEnvoyPatchPolicy off, and passes
// that step once it is on; a cluster without the opt-in is not asked.
func TestGatewayInstallNeedsThePatchAPIForStrictTiers(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{{Name: "eg"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sim := tf.Cluster("eg").Sim()
	if err := sim.EnsureNamespace(ctx, "envoy-gateway-system"); err != nil {
		t.Fatal(err)
	}
	const marker = "extensionApis.enableEnvoyPatchPolicy"
	findings := func(strict string) []check.Finding {
		t.Helper()
		f := fleettest.Load(t, fleettest.YAML(fleettest.Raw(`
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: eg}
spec:
  kubeconfig: `+tf.Kubeconfig+`
  gateway: {provider: envoy-gateway, strictTiers: `+strict+`}
`)))
		rep, err := check.Run(ctx, f, check.Options{Clusters: []string{"eg"}, Timeout: time.Minute,
			Exclude: []string{check.ConfigStatus, check.Drift, check.ServicePresence, check.FailoverReadiness, check.Sizing}})
		if err != nil {
			t.Fatal(err)
		}
		var out []check.Finding
		for _, fd := range rep.Clusters[0].Check(check.GatewayInstall).Findings {
			if strings.Contains(fd.Message, marker) {
				out = append(out, fd)
			}
		}
		return out
	}
	want := func(what string, got []check.Finding, sev check.Severity, text string) {
		t.Helper()
		if len(got) != 1 || got[0].Severity != sev || !strings.Contains(got[0].Message, text) {
			t.Errorf("%s: findings %+v, want one %s with %q", what, got, sev, text)
		}
	}
	want("no ConfigMap", findings("true"), check.Failure, "does not exist")

	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "envoy-gateway-config", Namespace: "envoy-gateway-system"},
		Data:       map[string]string{"envoy-gateway.yaml": "apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyGateway\nextensionApis: {enableBackend: true}\n"},
	}
	if _, err := sim.Kube.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	off := findings("true")
	want("patch API off", off, check.Failure, "leaves off: Envoy Gateway ignores an EnvoyPatchPolicy")
	if len(off) == 1 && !strings.Contains(off[0].Hint, "enableEnvoyPatchPolicy=true") {
		t.Errorf("hint %q does not say how to turn it on", off[0].Hint)
	}

	cm.Data["envoy-gateway.yaml"] = "apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyGateway\nextensionApis: {enableBackend: true, enableEnvoyPatchPolicy: true}\n"
	if _, err := sim.Kube.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want("patch API on", findings("true"), check.Info, "strict tiers apply")
	if got := findings("false"); len(got) != 0 {
		t.Errorf("without strictTiers: %+v, want no finding on the patch API", got)
	}
}
