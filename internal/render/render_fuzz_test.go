package render_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
)

// FuzzRender renders any fleet that loads, with both providers: rendering
// must not panic, every rendered object must write as YAML, and a second
// render of the same fleet must give the same bytes (or the same error).
// The seeds are the example fleets, so that mutations stay close to fleets
// that validate.
func FuzzRender(f *testing.F) {
	render.Register(gloo.New())
	render.Register(envoygateway.New())
	dirs, err := filepath.Glob(filepath.Join("..", "..", "testdata", "fleets", "*"))
	if err != nil || len(dirs) == 0 {
		f.Fatalf("no example fleets: %v", err)
	}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		var docs [][]byte
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			docs = append(docs, data)
		}
		f.Add(bytes.Join(docs, []byte("\n---\n")))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := fleet.Load([]string{"-"}, bytes.NewReader(data))
		if err != nil {
			return // FuzzLoad in internal/fleet covers what does not load
		}
		first, err1 := renderYAML(t, fl)
		second, err2 := renderYAML(t, fl)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("two renders disagree: %v / %v", err1, err2)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("two renders differ:\n%s\n---- second ----\n%s", first, second)
		}
	})
}

// renderYAML renders the whole fleet as the render command's YAML stream.
// An error from the render itself (such as two sources naming one object)
// is returned; an object that cannot be written as YAML fails the test.
func renderYAML(t *testing.T, fl *fleet.Fleet) ([]byte, error) {
	res, err := render.Render(fl, render.Options{})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := render.WriteYAML(&buf, res); err != nil {
		t.Fatalf("a rendered object does not write as YAML: %v", err)
	}
	for _, w := range res.Warnings {
		buf.WriteString("# warning: " + w + "\n")
	}
	return buf.Bytes(), nil
}
