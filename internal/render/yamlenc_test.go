package render

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleettest"
)

// roundTrip checks that MarshalYAML's output parses back to the same object.
func roundTrip(t *testing.T, obj map[string]any) {
	t.Helper()
	out, err := MarshalYAML(obj)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatalf("parse:\n%s\n%v", out, err)
	}
	var want map[string]any
	j, _ := json.Marshal(obj)
	_ = json.Unmarshal(j, &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n%s\ngot  %#v\nwant %#v", out, got, want)
	}
}

func TestMarshalYAMLRoundTrips(t *testing.T) {
	tricky := []any{
		"", " lead", "trail ", "two  spaces", "true", "False", "yes", "NO", "on", "y", "n", "null", "~",
		"123", "0x1F", "1e3", ".5", "-1", "+1", "1:20", "2001-12-14", "*.example.com", "&anchor", "!tag",
		"a: b", "a #b", "#c", "- x", "? q", "[x]", "{x}", "|", ">", "'q'", "\"q\"", "%p", "@a", "`b`",
		"multi\nline", "tab\there", "back\\slash", "ünïcode", "日本", "https://example.com/a?b=c",
		"/healthz", "checkout-8080.shop.failover.gatefed.internal", "gateway.networking.k8s.io/v1",
		"Cluster/east", "a=b,c=d", "<<", "=", "0", "010", "0o17", ".inf", ".NaN",
		"5s", "500ms", "5xx", "0xff", "0b1", "0o7", "0s", "1e3", "1E3", "1h30m", "198.51.100.1",
	}
	obj := map[string]any{
		"apiVersion": "v1",
		"strings":    tricky,
		"nested":     map[string]any{"empty": map[string]any{}, "list": []any{}, "n": int64(-3), "f": 0.25, "big": float64(1e20), "t": true, "nil": nil},
		"items": []any{
			map[string]any{"a": int64(1), "b": []any{"x", map[string]any{"c": "d"}}},
			[]any{"p", []any{"q"}, map[string]any{}},
			map[string]any{},
			[]any{},
		},
	}
	for _, s := range tricky {
		obj["key-"+s.(string)] = s
		obj[s.(string)] = "value"
	}
	roundTrip(t, obj)
}

// TestMarshalYAMLRoundTripsRenderedObjects covers every object the example fleets render.
func TestMarshalYAMLRoundTripsRenderedObjects(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "fleets", "*"))
	if len(dirs) == 0 {
		t.Fatal("no example fleets")
	}
	for _, dir := range dirs {
		res, err := Render(fleettest.LoadDir(t, dir), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Clusters {
			for _, o := range c.Objects {
				roundTrip(t, o.Object)
			}
		}
	}
}

// A key of more than 1024 characters (a Wasm config may hold one) is written
// in YAML's explicit form, which is the only form a parser reads back.
func TestMarshalYAMLLongKeys(t *testing.T) {
	long := strings.Repeat("k", 1025)
	quoted := strings.Repeat("é#", 600) // over 1024 characters once quoted, fewer bytes per character than it looks
	obj := map[string]any{"spec": map[string]any{
		long:       "scalar",
		long + "m": map[string]any{"a": int64(1), long: []any{"x", map[string]any{long: true}}},
		long + "l": []any{"one", "two"},
		quoted:     "",
		"short":    long,
	}}
	roundTrip(t, obj)
	out, err := MarshalYAML(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "? "+long+"\n") {
		t.Errorf("a long key is not written as an explicit key:\n%.300s", out)
	}
}
