package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Register records spec.gateway.strictTiers from Envoy Gateway's
// configuration (ConfigMap envoy-gateway-system/envoy-gateway-config, key
// envoy-gateway.yaml): true with extensionApis.enableEnvoyPatchPolicy on,
// left out with it off; without the ConfigMap it records nothing and says so.
func TestRegisterRecordsStrictTiers(t *testing.T) {
	t.Setenv("KUBECONFIG", testFleet.Kubeconfig)
	_, cs := admin(t, "c3")
	ctx := context.Background()
	dir := t.TempDir()
	register := func() (notes string, strict bool) {
		t.Helper()
		res, err := Register(ctx, RegisterOptions{Name: "eg-three", Context: "c3", Provider: "envoy-gateway", FleetPaths: []string{dir}, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		c := loadFleet(t, dir).Cluster("eg-three")
		if c == nil {
			t.Fatalf("eg-three not registered")
		}
		return strings.Join(res.Notes, "\n"), c.Spec.Gateway.StrictTiers
	}
	const ns, name = "envoy-gateway-system", "envoy-gateway-config"
	if notes, strict := register(); strict || !strings.Contains(notes, "strictTiers not recorded: its configuration (ConfigMap "+ns+"/"+name+") does not exist to show Envoy Gateway's extensionApis.enableEnvoyPatchPolicy") {
		t.Fatalf("without the ConfigMap: strictTiers %v, notes %q", strict, notes)
	}

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string]string{
		"envoy-gateway.yaml": "apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyGateway\nprovider: {type: Kubernetes}\nextensionApis:\n  enableEnvoyPatchPolicy: true\n  enableBackend: true\n",
	}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().ConfigMaps(ns).Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if notes, strict := register(); !strict || !strings.Contains(notes, "strictTiers: Envoy Gateway has extensionApis.enableEnvoyPatchPolicy on (ConfigMap "+ns+"/"+name+")") {
		t.Fatalf("with the patch API on: strictTiers %v, notes %q", strict, notes)
	}

	cm.Data["envoy-gateway.yaml"] = strings.Replace(cm.Data["envoy-gateway.yaml"], "enableEnvoyPatchPolicy: true", "enableEnvoyPatchPolicy: false", 1)
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if notes, strict := register(); strict || !strings.Contains(notes, "strictTiers off: Envoy Gateway has extensionApis.enableEnvoyPatchPolicy off") {
		t.Fatalf("with the patch API off: strictTiers %v, notes %q", strict, notes)
	}
}
