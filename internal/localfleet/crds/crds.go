// Package crds holds the CustomResourceDefinitions a local fleet installs,
// embedded in gatefed so that `gatefed demo up` needs no source tree:
// the Gateway API (experimental channel), Envoy Gateway and Gloo Edge CRDs,
// each with its full schema and without descriptions.
//
// The files are derived by hack/crds (go run ./hack/crds); do not edit them.
// gloo-1.17 holds the oldest supported Gloo's CRDs for tests; it is not embedded.
package crds

import (
	"embed"
	"fmt"
	"io/fs"
	"path"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// CRD families, each a directory of this package.
const (
	GatewayAPI   = "gateway-api"
	EnvoyGateway = "envoy-gateway"
	Gloo         = "gloo"
)

//go:embed gateway-api/*.yaml envoy-gateway/*.yaml gloo/*.yaml
var files embed.FS

// Load decodes the CRDs of a family, in file-name order.
func Load(family string) ([]*apiextv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(files, path.Join(family, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no CRDs of family %q", family)
	}
	out := make([]*apiextv1.CustomResourceDefinition, 0, len(names))
	for _, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		crd := &apiextv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, crd)
	}
	return out, nil
}
