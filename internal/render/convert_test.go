package render_test

import (
	"reflect"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
)

// TestConversionMatchesApimachinery renders the example fleets and a
// generated one, and checks every typed object converts exactly as
// runtime.DefaultUnstructuredConverter converts it, less null fields.
func TestConversionMatchesApimachinery(t *testing.T) {
	var mu sync.Mutex
	checked := map[string]int{}
	render.SetConversionCheck(func(typed any, got map[string]any) {
		want, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			t.Errorf("%T: %v", typed, err)
			return
		}
		dropNulls(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%T converts differently:\n got %#v\nwant %#v", typed, got, want)
		}
		checked[reflect.TypeOf(typed).String()]++
	})
	defer render.SetConversionCheck(nil)
	dirs := append(fleetDirs(t), writeBenchFleet(t, 6, 40))
	for _, dir := range dirs {
		if _, err := render.Render(fleettest.LoadDir(t, dir), render.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(checked) < 8 {
		t.Errorf("only %d types checked: %v", len(checked), checked)
	}
	t.Logf("checked conversions: %v", checked)
}

func dropNulls(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
				continue
			}
			dropNulls(e)
		}
	case []any:
		for _, e := range t {
			dropNulls(e)
		}
	}
}
