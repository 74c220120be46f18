package envoygateway

import "testing"

func TestPatchPolicyEnabled(t *testing.T) {
	for _, tc := range []struct {
		config string
		want   bool
	}{
		{"apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyGateway\nextensionApis:\n  enableBackend: true\n  enableEnvoyPatchPolicy: true\n", true},
		{"apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyGateway\nextensionApis:\n  enableBackend: true\n", false},
		{"apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyGateway\ngateway: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}\n", false},
	} {
		got, err := PatchPolicyEnabled(tc.config)
		if err != nil || got != tc.want {
			t.Errorf("PatchPolicyEnabled(%q) = %v, %v; want %v", tc.config, got, err, tc.want)
		}
	}
	if _, err := PatchPolicyEnabled("extensionApis: [1"); err == nil {
		t.Error("no error for a configuration that is not YAML")
	}
}
