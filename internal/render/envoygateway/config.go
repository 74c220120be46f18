package envoygateway

import (
	"fmt"

	"sigs.k8s.io/yaml"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
)

// Where Envoy Gateway's Helm chart keeps the controller's configuration (an
// EnvoyGateway document), in the controller's namespace.
const (
	ConfigMapName = "envoy-gateway-config"
	ConfigMapKey  = "envoy-gateway.yaml"
)

// PatchPolicyEnabled reads the controller's configuration and reports
// whether it applies EnvoyPatchPolicies (extensionApis.enableEnvoyPatchPolicy).
func PatchPolicyEnabled(config string) (bool, error) {
	var eg egv1a1.EnvoyGateway
	if err := yaml.Unmarshal([]byte(config), &eg); err != nil {
		return false, fmt.Errorf("%s is not an EnvoyGateway configuration: %w", ConfigMapKey, err)
	}
	return eg.ExtensionAPIs != nil && eg.ExtensionAPIs.EnableEnvoyPatchPolicy, nil
}
