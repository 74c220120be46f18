package render_test

import (
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// The CRDs of the oldest and the newest Gloo gatefed supports, as hack/crds
// derives them: Gloo 1.17.0 (not embedded in gatefed; tests only) and Gloo
// 1.22.0 (the copy embedded in package gloo, which local fleets install).
var glooSchemas = []struct {
	version, crdDir string
}{
	{"1.17.0", filepath.Join("gloo", "testdata", "crds-1.17")},
	{"1.22.0", ""},
}

// TestGlooOutputAcceptedByOldestAndNewestGloo renders the gloo clusters of
// every example fleet for the oldest and for the newest Gloo gatefed
// supports (spec.gateway.version) and applies the objects, with strict field
// validation (dry runs), to an API server serving that Gloo's CRDs: every
// object is accepted. The oldest Gloo's schema refuses what is rendered for
// the newest (shadowing.disableShadowHostSuffixAppend is new in 1.22), so
// the version decides.
func TestGlooOutputAcceptedByOldestAndNewestGloo(t *testing.T) {
	if gloo.OldestVersion != "1.17" || gloo.NewestVersion != "1.22" {
		t.Fatalf("gloo supports %s to %s; the schemas tested here are %v", gloo.OldestVersion, gloo.NewestVersion, glooSchemas)
	}
	for _, s := range glooSchemas {
		t.Run(s.version, func(t *testing.T) {
			if s.crdDir != "" {
				dir, err := filepath.Abs(s.crdDir)
				if err != nil {
					t.Fatal(err)
				}
				t.Setenv(localfleet.CRDDirEnv(gloo.Name), dir)
			}
			tf := testfleet.StartT(t, localfleet.Options{Count: 1, CRDs: localfleet.Families(gloo.Name)})
			apply, namespace := strictApplier(t, tf.Clusters[0])
			accepted := map[string]int{}
			for _, obj := range renderGlooFor(t, s.version) {
				namespace(obj.GetNamespace())
				if err := apply(obj, true); err != nil {
					t.Errorf("Gloo %s: %s %s/%s rejected: %v", s.version, obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
					continue
				}
				accepted[obj.GetKind()]++
			}
			t.Logf("Gloo %s accepted %v", s.version, accepted)
			for _, kind := range []string{"Upstream", "VirtualService", "Gateway"} {
				if accepted[kind] == 0 {
					t.Errorf("no %s accepted by Gloo %s's schema", kind, s.version)
				}
			}
			if s.version != "1.17.0" {
				return
			}
			refused := 0
			for _, obj := range renderGlooFor(t, "1.22.0") {
				if _, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "virtualHost"); !found || !strings.Contains(mustJSON(t, obj), "disableShadowHostSuffixAppend") {
					continue
				}
				err := apply(obj, true)
				if err == nil || !strings.Contains(err.Error(), "disableShadowHostSuffixAppend: field not declared in schema") {
					t.Errorf("%s %s rendered for Gloo 1.22 applied to Gloo 1.17's schema: %v, want disableShadowHostSuffixAppend not declared", obj.GetKind(), obj.GetName(), err)
				}
				refused++
			}
			if refused == 0 {
				t.Error("no example fleet renders a Gloo mirror, so the schemas' difference was not tried")
			}
			t.Logf("Gloo 1.17.0 refused the %d objects rendered for Gloo 1.22 with disableShadowHostSuffixAppend", refused)
		})
	}
}

// renderGlooFor renders every example fleet with each gloo cluster's
// spec.gateway.version set and returns the gloo clusters' objects.
func renderGlooFor(t *testing.T, version string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, dir := range fleetDirs(t) {
		f, err := fleet.Load([]string{dir}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range f.Clusters {
			if c.Spec.Gateway.Provider == gloo.Name {
				c.Spec.Gateway.Version = version
			}
		}
		res, err := render.Render(f, render.Options{})
		if err != nil {
			t.Fatalf("%s for Gloo %s: %v", dir, version, err)
		}
		for _, co := range res.Clusters {
			if co.Cluster.Spec.Gateway.Provider == gloo.Name {
				out = append(out, co.Objects...)
			}
		}
	}
	return out
}

func mustJSON(t *testing.T, o *unstructured.Unstructured) string {
	t.Helper()
	b, err := o.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
