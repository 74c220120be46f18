package crds

import (
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
)

// Every embedded CRD decodes, is named after its group and plural, and
// serves only structural schemas (what the API server requires of a v1 CRD).
func TestEmbeddedCRDsAreStructural(t *testing.T) {
	want := map[string]int{GatewayAPI: 13, EnvoyGateway: 8, Gloo: 5}
	for family, n := range want {
		crds, err := Load(family)
		if err != nil {
			t.Fatalf("%s: %v", family, err)
		}
		if len(crds) != n {
			t.Errorf("%s: %d CRDs, want %d", family, len(crds), n)
		}
		for _, crd := range crds {
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
	}
	if _, err := Load("nope"); err == nil {
		t.Error("Load of an unknown family: no error")
	}
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
