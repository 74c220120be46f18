package render_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/render/istio"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func init() {
	render.Register(gloo.New())
	render.Register(envoygateway.New())
	render.Register(istio.New())
}

// fleetDirs are the example fleets under testdata/fleets.
func fleetDirs(t testing.TB) []string {
	dirs, err := filepath.Glob(filepath.Join("..", "..", "testdata", "fleets", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fleets under testdata/fleets: %v", err)
	}
	return dirs
}

func renderDir(t testing.TB, dir string) (*render.Result, []byte) {
	f, err := fleet.Load([]string{dir}, nil)
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	res, err := render.Render(f, render.Options{})
	if err != nil {
		t.Fatalf("render %s: %v", dir, err)
	}
	var buf bytes.Buffer
	if err := render.WriteYAML(&buf, res); err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		buf.WriteString("# warning: " + w + "\n")
	}
	return res, buf.Bytes()
}

// TestGolden renders every example fleet and compares it with
// testdata/golden/<fleet>.yaml. Run with -update to rewrite them.
func TestGolden(t *testing.T) {
	for _, dir := range fleetDirs(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			_, got := renderDir(t, dir)
			golden := filepath.Join("..", "..", "testdata", "golden", name+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/render -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("render of %s differs from %s (run with -update after checking the change):\n%s", dir, golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

// TestDeterministic renders each fleet twice and expects identical bytes.
func TestDeterministic(t *testing.T) {
	for _, dir := range fleetDirs(t) {
		_, a := renderDir(t, dir)
		_, b := renderDir(t, dir)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renders differ", dir)
		}
	}
}

// TestStamped checks the labels and annotation every object must carry.
func TestStamped(t *testing.T) {
	for _, dir := range fleetDirs(t) {
		res, _ := renderDir(t, dir)
		for _, c := range res.Clusters {
			if len(c.Objects) == 0 {
				t.Errorf("%s: cluster %s rendered nothing", dir, c.Cluster.Name())
			}
			for _, o := range c.Objects {
				l := o.GetLabels()
				if l[render.LabelManagedBy] != "gatefed" || l[render.LabelCluster] != c.Cluster.Name() {
					t.Errorf("%s: %s %s/%s labels %v", dir, o.GetKind(), o.GetNamespace(), o.GetName(), l)
				}
				if o.GetAnnotations()[render.AnnotationSource] == "" {
					t.Errorf("%s: %s %s/%s has no %s annotation", dir, o.GetKind(), o.GetNamespace(), o.GetName(), render.AnnotationSource)
				}
			}
		}
	}
}

func lineDiff(want, got string) string {
	w, g := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl []byte
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if !bytes.Equal(wl, gl) {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n- " + string(wl) + "\n+ " + string(gl)
		}
	}
	return ""
}
