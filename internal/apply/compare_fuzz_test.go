package apply

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// decodeObject reads YAML or JSON as the apply engine holds objects: JSON
// values, with whole numbers as int64. ok is false for anything but a mapping.
func decodeObject(data []byte) (*unstructured.Unstructured, bool) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if err := utiljson.Unmarshal(j, &m); err != nil || m == nil {
		return nil, false
	}
	return &unstructured.Unstructured{Object: m}, true
}

// ownedFields is the FieldsV1 set of every field of v down to lists and
// scalars: what the server records for a manager that applied v.
func ownedFields(v any) map[string]any {
	set := map[string]any{}
	if m, ok := v.(map[string]any); ok {
		for k, e := range m {
			set["f:"+k] = ownedFields(e)
		}
	}
	return set
}

// compareSeeds are live-looking objects: a Secret, managed fields of
// gatefed and another manager, keyed list entries, odd numbers.
var compareSeeds = []string{
	`{}`,
	`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"n"},"data":{"a":"YQ=="},"stringData":{"a":"b","n":1}}`,
	`apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  labels: {a: "1"}
  managedFields:
  - manager: gatefed
    operation: Apply
    fieldsV1: {"f:data": {"f:x": {}}, "f:spec": {"f:ports": {"k:{\"port\":80}": {".": {}, "f:port": {}}, "v:\"x\"": {}, "i:0": {}}}}
  - manager: kubectl
    operation: Update
    fieldsV1: {"f:metadata": {"f:labels": {}}}
data: {x: "1"}
spec: {ports: [{port: 80}, x]}
status: {ready: true}
`,
	`{"metadata":{"managedFields":[{"manager":"gatefed","operation":"Apply","fieldsV1":"not a set"}]}}`,
	`{"metadata":{"managedFields":[{"manager":"gatefed","operation":"Apply","subresource":"status","fieldsV1":{"f:status":{}}}]},"n":1e300,"m":-0,"big":9007199254740993}`,
	`{"metadata":"x","spec":[1,2,{"a":null}]}`,
}

// FuzzCompare compares any two objects the way plan and diff do: nothing
// may panic, an object compared with itself shows no diff, and an object is
// in sync with the live object a gatefed apply of it leaves behind.
func FuzzCompare(f *testing.F) {
	var docs [][]byte
	golden, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "golden", "*.yaml"))
	for _, file := range golden {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		docs = append(docs, bytes.Split(data, []byte("\n---\n"))...)
	}
	for _, s := range compareSeeds {
		docs = append(docs, []byte(s))
	}
	for i, d := range docs {
		f.Add(d, d)
		f.Add(d, docs[(i+1)%len(docs)])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		desired, ok1 := decodeObject(a)
		live, ok2 := decodeObject(b)
		if !ok1 {
			return
		}
		if ok2 {
			inSync(desired, live)
			inSync(live, desired)
			_ = objectDiff(stripped(live), stripped(desired), isSecret(desired))
		}
		d := normalize(desired)
		_ = objectDiff(stripped(desired), nil, isSecret(desired))

		// An object against itself: no diff, and contained in itself.
		before, after := stripped(d), stripped(d)
		if !reflect.DeepEqual(before, after) {
			t.Fatal("two copies of one object differ")
		}
		if diff := objectDiff(before, after, isSecret(d)); diff != "" {
			t.Fatalf("an object against itself shows a diff:\n%s", diff)
		}
		for k, v := range d.Object {
			if !contained(v, d.Object[k]) {
				t.Fatalf("field %q is not contained in itself: %#v", k, v)
			}
		}

		// The object as the server keeps it after gatefed applied it.
		md, isMap := d.Object["metadata"].(map[string]any)
		if _, present := d.Object["metadata"]; present && !isMap {
			return // no managed fields can be recorded on it
		}
		applied := d.DeepCopy()
		if md == nil {
			applied.Object["metadata"] = map[string]any{}
		}
		entry := map[string]any{"manager": FieldManager, "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": ownedFields(d.Object)}
		applied.Object["metadata"].(map[string]any)["managedFields"] = []any{entry}
		if !inSync(d, applied) {
			t.Fatalf("not in sync with itself as applied:\n%#v", d.Object)
		}
	})
}
