package render_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gatefed/gatefed/internal/render"
)

// TestListWriterMatchesList checks that the streamed List is exactly what
// encoding/json writes for the same List, and is valid JSON.
func TestListWriterMatchesList(t *testing.T) {
	for _, dir := range fleetDirs(t) {
		res, _ := renderDir(t, dir)
		var streamed bytes.Buffer
		if err := render.WriteJSON(&streamed, res); err != nil {
			t.Fatal(err)
		}
		items := []any{}
		for _, c := range res.Clusters {
			for _, o := range c.Objects {
				items = append(items, o.Object)
			}
		}
		want, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := streamed.Bytes(); !bytes.Equal(got, append(want, '\n')) {
			t.Errorf("%s: streamed List differs:\n%s", dir, lineDiff(string(want)+"\n", string(got)))
		}
	}
	var empty bytes.Buffer
	if err := render.WriteJSON(&empty, &render.Result{}); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string
		Items []any
	}
	if err := json.Unmarshal(empty.Bytes(), &list); err != nil || list.Kind != "List" || list.Items == nil {
		t.Errorf("empty list %q: %v", empty.String(), err)
	}
}
