package envoygateway

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
	"github.com/gatefed/gatefed/internal/render"
)

// input builds a cluster's render input with render.Input, as render.Render does.
func input(t testing.TB, f *fleet.Fleet, cluster string) *render.ClusterInput {
	t.Helper()
	c := f.Cluster(cluster)
	if c == nil {
		t.Fatalf("no cluster %s", cluster)
	}
	return render.Input(f, c, nil)
}

func renderCluster(t testing.TB, f *fleet.Fleet, cluster string) ([]*unstructured.Unstructured, []string) {
	t.Helper()
	return renderInput(t, input(t, f, cluster))
}

func renderInput(t testing.TB, in *render.ClusterInput) ([]*unstructured.Unstructured, []string) {
	t.Helper()
	objs, warnings, err := New().Render(in)
	if err != nil {
		t.Fatalf("render %s: %v", in.Cluster.Name(), err)
	}
	return objs, warnings
}

func find(t testing.TB, objs []*unstructured.Unstructured, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s/%s among:\n%s", kind, ns, name, listObjects(objs))
	return nil
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func listObjects(objs []*unstructured.Unstructured) string {
	var b strings.Builder
	for _, o := range objs {
		b.WriteString("  " + o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName() + "\n")
	}
	return b.String()
}

// assertField compares a field of obj with want, written as YAML.
func assertField(t testing.TB, obj *unstructured.Unstructured, want string, path ...string) {
	t.Helper()
	got, found := fieldAt(obj.Object, path...)
	if !found {
		t.Fatalf("%s %s: no field %s", obj.GetKind(), obj.GetName(), strings.Join(path, "."))
	}
	gotJSON := normalize(t, got)
	var wantV any
	if err := yaml.Unmarshal([]byte(want), &wantV); err != nil {
		t.Fatalf("bad expectation: %v", err)
	}
	wantJSON := normalize(t, wantV)
	if !reflect.DeepEqual(gotJSON, wantJSON) {
		gy, _ := yaml.Marshal(gotJSON)
		wy, _ := yaml.Marshal(wantJSON)
		t.Errorf("%s %s/%s .%s:\n--- got\n%s--- want\n%s", obj.GetKind(), obj.GetNamespace(), obj.GetName(), strings.Join(path, "."), gy, wy)
	}
}

func assertNoField(t testing.TB, obj *unstructured.Unstructured, path ...string) {
	t.Helper()
	if v, found := fieldAt(obj.Object, path...); found {
		t.Errorf("%s %s: field %s is set to %v, want unset", obj.GetKind(), obj.GetName(), strings.Join(path, "."), v)
	}
}

// fieldAt follows a path of map keys and list indices.
func fieldAt(v any, path ...string) (any, bool) {
	for _, p := range path {
		switch t := v.(type) {
		case map[string]any:
			e, ok := t[p]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func normalize(t testing.TB, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func annotation(obj *unstructured.Unstructured, key string) string { return obj.GetAnnotations()[key] }

func assertWarning(t testing.TB, warnings []string, substrings ...string) {
	t.Helper()
	for _, w := range warnings {
		all := true
		for _, s := range substrings {
			if !strings.Contains(w, s) {
				all = false
				break
			}
		}
		if all {
			return
		}
	}
	t.Errorf("no warning containing %q among %q", substrings, warnings)
}

type (
	planTier = plan.Tier
	planSkip = plan.Skip
)

func unstructuredSlice(obj *unstructured.Unstructured, path ...string) ([]any, bool) {
	v, ok := fieldAt(obj.Object, path...)
	s, isSlice := v.([]any)
	return s, ok && isSlice
}
