package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/gloo"
)

// The derived CRDs (the Gateway API's in internal/localfleet/crds, each
// provider's in its package) are what hack/crds derives from their sources now. The Gloo sources ($GATEFED_GLOO_CRD_DIR, else
// ../shared/crds/gloo) are only beside the team's checkout: without them the
// test says it compared nothing for gloo.
func TestDerivedCRDsMatchSources(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = run(&out, root, sourceDirs{gloo: os.Getenv(localfleet.CRDDirEnv(gloo.Name))}, true)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if !f.optional && !strings.Contains(out.String(), f.name+": compared ") {
			t.Errorf("%s: not compared", f.name)
		}
	}
}

// A changed file, a missing one and an extra one are each reported.
func TestCompareReportsEveryDifference(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"same.yaml": "a\n", "changed.yaml": "old\n", "extra.yaml": "x\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := compare(dir, map[string][]byte{"same.yaml": []byte("a\n"), "changed.yaml": []byte("new\n"), "missing.yaml": nil})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"changed.yaml: differs from its source", "extra.yaml: not derived from any source", "missing.yaml: missing"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != filepath.Join(dir, want[i]) {
			t.Errorf("got %q, want %q", got[i], filepath.Join(dir, want[i]))
		}
	}
}

// Descriptions go at every depth; a property named "description" stays.
func TestMarshalDropsDescriptions(t *testing.T) {
	crds, err := localfleet.DecodeCRDs([]byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec:
  group: example.com
  names: {kind: Thing, plural: things}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        description: top
        type: object
        properties:
          spec:
            description: the spec
            type: object
            required: [description]
            properties:
              description: {type: string, description: a field called description}
              list:
                type: array
                items: {type: object, description: item, x-kubernetes-preserve-unknown-fields: true}
              mode: {type: string, enum: [a, b]}
`))
	if err != nil || len(crds) != 1 {
		t.Fatalf("decode: %v (%d CRDs)", err, len(crds))
	}
	text, err := marshal(crds[0], "src/things.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	if strings.Contains(s, "top") || strings.Contains(s, "the spec") || strings.Contains(s, "called description") || strings.Contains(s, "description: item") {
		t.Errorf("a description is left:\n%s", s)
	}
	for _, keep := range []string{"# Derived by hack/crds from src/things.yaml", "\n              description:\n                type: string\n",
		"- description", "x-kubernetes-preserve-unknown-fields: true", "- a\n", "name: things.example.com"} {
		if !strings.Contains(s, keep) {
			t.Errorf("missing %q in:\n%s", keep, s)
		}
	}
	if strings.Contains(s, "status:") || strings.Contains(s, "creationTimestamp") {
		t.Errorf("status or creation time written:\n%s", s)
	}
}
