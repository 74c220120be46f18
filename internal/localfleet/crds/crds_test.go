package crds_test

import (
	"io/fs"
	"testing"
	"testing/fstest"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"

	"github.com/gatefed/gatefed/internal/localfleet/crds"
	"github.com/gatefed/gatefed/internal/providers"
)

// Every embedded CRD (the Gateway API's here, each provider's in its own
// package) decodes, is named after its group and plural, and serves only
// structural schemas (what the API server requires of a v1 CRD).
func TestEmbeddedCRDsAreStructural(t *testing.T) {
	if n := len(load(t, "gateway-api", crds.GatewayAPI)); n != 13 {
		t.Errorf("gateway-api: %d CRDs, want 13", n)
	}
	embedded := 0
	for _, p := range providers.All() {
		if d := p.Descriptor(); d.Install.CRDManifests != nil {
			embedded++
			load(t, d.Name, d.Install.CRDManifests)
		}
	}
	if embedded == 0 {
		t.Error("no provider embeds its CRD manifests")
	}
	if _, err := crds.Load(fstest.MapFS{}); err == nil {
		t.Error("Load of a file system without CRDs: no error")
	}
}

// Every CRD a provider requires (Descriptor.CRDs, which cluster register
// and check gateway-install read) is served, at the version gatefed reads
// first, by the CRDs a local fleet installs for it: its embedded manifests
// and the Gateway API's.
func TestProviderCRDsServedByTheirManifests(t *testing.T) {
	shared := load(t, "gateway-api", crds.GatewayAPI)
	for _, p := range providers.All() {
		d := p.Descriptor()
		if d.Install.CRDManifests == nil {
			continue
		}
		served := map[string]bool{}
		for _, crd := range append(load(t, d.Name, d.Install.CRDManifests), shared...) {
			for _, v := range crd.Spec.Versions {
				if v.Served {
					served[crd.Name+" "+v.Name] = true
				}
			}
		}
		for _, k := range d.CRDs {
			if !served[k.CRDName()+" "+k.Version] {
				t.Errorf("%s: CRD %s %s is required but not served by its manifests or the Gateway API's", d.Name, k.CRDName(), k.Version)
			}
		}
	}
}

// load decodes the CRDs of fsys and checks each is named and structural.
func load(t *testing.T, family string, fsys fs.FS) []*apiextv1.CustomResourceDefinition {
	t.Helper()
	out, err := crds.Load(fsys)
	if err != nil {
		t.Fatalf("%s: %v", family, err)
	}
	for _, crd := range out {
		if crd.Name != crd.Spec.Names.Plural+"."+crd.Spec.Group {
			t.Errorf("%s: CRD %s is not named <plural>.<group>", family, crd.Name)
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Errorf("%s %s: no schema", crd.Name, v.Name)
				continue
			}
			structural(t, crd.Name+" "+v.Name, v.Schema.OpenAPIV3Schema)
		}
	}
	return out
}

func structural(t *testing.T, what string, s *apiextv1.JSONSchemaProps) {
	t.Helper()
	var internal apiextensions.JSONSchemaProps
	if err := apiextv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(s, &internal, nil); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	ss, err := schema.NewStructural(&internal)
	if err != nil {
		t.Errorf("%s: not structural: %v", what, err)
		return
	}
	if errs := schema.ValidateStructural(nil, ss); len(errs) > 0 {
		t.Errorf("%s: not structural: %v", what, errs.ToAggregate())
	}
	if s.Description != "" {
		t.Errorf("%s: the schema keeps its description", what)
	}
}
