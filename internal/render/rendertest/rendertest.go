// Package rendertest holds what the providers' conformance tests share: the
// example fleets under testdata/fleets, rendered cluster by cluster, and
// accessors for decoded JSON.
//
// Only tests import it (fleettest's TestOnlyTestsImportIt enforces that).
package rendertest

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// FleetDirs are the example fleets under the repository's testdata/fleets.
func FleetDirs(t testing.TB) []string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	dirs, err := filepath.Glob(filepath.Join(root, "testdata", "fleets", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fleets under testdata/fleets: %v", err)
	}
	return dirs
}

// ForExampleClusters renders every example fleet and runs run, as the
// subtest "<fleet>/<cluster>", on each of its clusters of provider that
// skip (when set) does not leave out. It fails when none ran.
func ForExampleClusters(t *testing.T, provider string, skip func(*render.ClusterOutput) bool, run func(t *testing.T, f *fleet.Fleet, co *render.ClusterOutput)) {
	t.Helper()
	clusters := 0
	for _, dir := range FleetDirs(t) {
		f, res := renderFleet(t, dir)
		for i := range res.Clusters {
			co := &res.Clusters[i]
			if co.Cluster.Spec.Gateway.Provider != provider || (skip != nil && skip(co)) {
				continue
			}
			clusters++
			t.Run(filepath.Base(dir)+"/"+co.Cluster.Name(), func(t *testing.T) { run(t, f, co) })
		}
	}
	if clusters == 0 {
		t.Fatalf("no %s cluster in the example fleets", provider)
	}
}

// ExampleCluster renders the example fleet fleetName and returns it and
// one cluster's output.
func ExampleCluster(t testing.TB, fleetName, cluster string) (*fleet.Fleet, *render.ClusterOutput) {
	t.Helper()
	for _, dir := range FleetDirs(t) {
		if filepath.Base(dir) != fleetName {
			continue
		}
		f, res := renderFleet(t, dir)
		for i := range res.Clusters {
			if res.Clusters[i].Cluster.Name() == cluster {
				return f, &res.Clusters[i]
			}
		}
	}
	t.Fatalf("no cluster %s in example fleet %s", cluster, fleetName)
	return nil, nil
}

func renderFleet(t testing.TB, dir string) (*fleet.Fleet, *render.Result) {
	t.Helper()
	f, err := fleet.Load([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Render(f, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f, res
}

// Get walks a decoded JSON value by keys and list indexes.
func Get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// List is the list at path, or nil.
func List(v any, path ...any) []any {
	l, _ := Get(v, path...).([]any)
	return l
}

// Str is the string at path, or "".
func Str(v any, path ...any) string {
	s, _ := Get(v, path...).(string)
	return s
}

// Num is the number at path, or 0.
func Num(v any, path ...any) float64 {
	n, _ := Get(v, path...).(float64)
	return n
}

// EnvoyDuration reads a protobuf JSON duration ("5s", "0.500s").
func EnvoyDuration(v any) time.Duration {
	d, _ := time.ParseDuration(fmt.Sprint(v))
	return d
}
