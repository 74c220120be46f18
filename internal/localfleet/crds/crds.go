// Package crds holds the Gateway API CustomResourceDefinitions (the
// experimental channel) a local fleet installs, embedded in gatefed so that
// `gatefed demo up` needs no source tree, each with its full schema and
// without descriptions. They are shared by the providers built on the
// Gateway API; each gateway's own CRDs are embedded in its provider package
// (provider.Install.CRDManifests).
//
// The files are derived by hack/crds (go run ./hack/crds); do not edit them.
package crds

import (
	"embed"
	"fmt"
	"io/fs"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/provider"
)

//go:embed gateway-api/*.yaml
var files embed.FS

// GatewayAPI holds the Gateway API CRDs, one *.yaml file each.
var GatewayAPI = provider.Subdir(files, "gateway-api")

// Load decodes the CRDs of the *.yaml files at the root of fsys, one each,
// in file-name order.
func Load(fsys fs.FS) ([]*apiextv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no *.yaml files")
	}
	out := make([]*apiextv1.CustomResourceDefinition, 0, len(names))
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
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
