package localfleet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gatefed/gatefed/internal/provider"
)

// crdYAML is a CRD of plural.group example.com.
func crdYAML(plural string) string {
	return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ` + plural + `.example.com}
spec:
  group: example.com
  names: {kind: K, plural: ` + plural + `}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`
}

// A provider's CRDs reach a fleet through its descriptor: the default is
// the Gateway API's and every embedded provider's; a provider whose CRDs
// are fetched is there when asked for; an override directory replaces a
// family's own.
func TestCRDFamiliesComeFromProviderDescriptors(t *testing.T) {
	provider.Register(&provider.Descriptor{Name: "embeds", Install: provider.Install{
		CRDManifests: fstest.MapFS{"widgets.example.com.yaml": {Data: []byte(crdYAML("widgets"))}},
	}})
	provider.Register(&provider.Descriptor{Name: "fetches", Install: provider.Install{
		CRDModule: &provider.ModuleFiles{Module: "example.com/fetches", Version: "v1.0.0", Files: []string{"crds/all.yaml"}},
	}})
	provider.Register(&provider.Descriptor{Name: "holds-none"})

	if got := CRDSet("").String(); got != "embeds,gateway-api" || DefaultCRDs() != "embeds,gateway-api" {
		t.Errorf("default CRDs %q, want embeds,gateway-api", got)
	}
	if got := Families("fetches", GatewayAPI, "fetches"); got != "fetches,gateway-api" {
		t.Errorf("Families: %q", got)
	}
	if s := DefaultCRDs().With("fetches"); !s.Has("embeds", "fetches", GatewayAPI) || s.Has(CertManager) {
		t.Errorf("With: %q", s)
	}
	if Families() != NoCRDs || NoCRDs.Names() != nil || NoCRDs.Has(GatewayAPI) {
		t.Error("NoCRDs names families")
	}
	if got := moduleCRDFile("fetches", provider.ModuleFiles{Version: "v1.0.0", Files: []string{"crds/all.yaml"}}); got != filepath.Join(CacheDir(), "fetches-crds", "v1.0.0", "all.yaml") {
		t.Errorf("module CRD file %s", got)
	}

	crds, err := CRDs(Families("embeds"))
	if err != nil || len(crds) != 1 || crds[0].Name != "widgets.example.com" {
		t.Fatalf("embedded CRDs %v, %v", crds, err)
	}
	for family, want := range map[string]string{"holds-none": "holds no CRDs", "nope": "no such family"} {
		if _, err := CRDs(Families(family)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", family, err, want)
		}
	}

	if env := CRDDirEnv("envoy-gateway"); env != "GATEFED_ENVOY_GATEWAY_CRD_DIR" {
		t.Errorf("CRDDirEnv: %s", env)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gadgets.yaml"), []byte(crdYAML("gadgets")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(CRDDirEnv("embeds"), dir)
	crds, err = CRDs(Families("embeds"))
	if err != nil || len(crds) != 1 || crds[0].Name != "gadgets.example.com" {
		t.Fatalf("CRDs from %s: %v, %v", CRDDirEnv("embeds"), crds, err)
	}
}
