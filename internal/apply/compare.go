package apply

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FieldManager is the field manager of every object gatefed applies.
const FieldManager = "gatefed"

// inSync reports whether applying desired would change nothing: the live
// object already holds every desired value, and gatefed owns no field that
// desired no longer sets (applying would remove it).
func inSync(desired, live *unstructured.Unstructured) bool {
	if live == nil {
		return false
	}
	owned, ok := managedFieldsOf(live, FieldManager)
	if !ok {
		return false
	}
	for k, v := range desired.Object {
		switch k {
		case "apiVersion", "kind", "status":
			continue
		case "metadata":
			if !metadataContained(v, live.Object["metadata"]) {
				return false
			}
		default:
			if !contained(v, live.Object[k]) {
				return false
			}
		}
	}
	for _, set := range owned {
		if !fieldsWithin(set, desired.Object) {
			return false
		}
	}
	return true
}

// metadataContained compares the parts of metadata an apply sets.
func metadataContained(desired, live any) bool {
	d, _ := desired.(map[string]any)
	l, _ := live.(map[string]any)
	for _, k := range []string{"labels", "annotations", "finalizers", "ownerReferences"} {
		if dv, ok := d[k]; ok && !contained(dv, l[k]) {
			return false
		}
	}
	return true
}

// contained reports whether every value in desired is present and equal in
// live. Maps may hold more keys in live (server defaults); lists must have the
// same length and pairwise contained elements.
func contained(desired, live any) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, dv := range d {
			lv, ok := l[k]
			if !ok {
				if dv == nil {
					continue
				}
				return false
			}
			if !contained(dv, lv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return false
		}
		for i := range d {
			if !contained(d[i], l[i]) {
				return false
			}
		}
		return true
	case nil:
		return live == nil
	default:
		if df, ok := number(desired); ok {
			lf, ok := number(live)
			return ok && df == lf
		}
		return reflect.DeepEqual(desired, live)
	}
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// managedFieldsOf returns the field sets a manager owns through Apply, read
// straight from the object's map (GetManagedFields would encode and decode
// every entry).
func managedFieldsOf(obj *unstructured.Unstructured, manager string) ([]map[string]any, bool) {
	md, _ := obj.Object["metadata"].(map[string]any)
	entries, _ := md["managedFields"].([]any)
	var out []map[string]any
	for _, e := range entries {
		entry, _ := e.(map[string]any)
		if entry["manager"] != manager || entry["operation"] != string(metav1.ManagedFieldsOperationApply) ||
			(entry["subresource"] != nil && entry["subresource"] != "") || entry["fieldsV1"] == nil {
			continue
		}
		set, ok := entry["fieldsV1"].(map[string]any)
		if !ok {
			return nil, false
		}
		out = append(out, set)
	}
	return out, len(out) > 0
}

// fieldsWithin reports whether every field of a FieldsV1 set exists in obj.
// Keys are "f:<field>", "k:<json key fields>", "v:<json value>", "i:<index>"
// and "." (the node itself).
func fieldsWithin(set map[string]any, obj any) bool {
	for key, child := range set {
		if key == "." {
			continue
		}
		sub, _ := child.(map[string]any)
		var next any
		switch {
		case strings.HasPrefix(key, "f:"):
			m, ok := obj.(map[string]any)
			if !ok {
				return false
			}
			v, ok := m[key[2:]]
			if !ok {
				return false
			}
			next = v
		case strings.HasPrefix(key, "k:"):
			var want map[string]any
			if err := json.Unmarshal([]byte(key[2:]), &want); err != nil {
				return false
			}
			el, ok := findKeyed(obj, want)
			if !ok {
				return false
			}
			next = el
		case strings.HasPrefix(key, "v:"):
			var want any
			if err := json.Unmarshal([]byte(key[2:]), &want); err != nil {
				return false
			}
			if !listHas(obj, want) {
				return false
			}
			continue
		case strings.HasPrefix(key, "i:"):
			i, err := strconv.Atoi(key[2:])
			l, ok := obj.([]any)
			if err != nil || !ok || i < 0 || i >= len(l) {
				return false
			}
			next = l[i]
		default:
			return false
		}
		if len(sub) > 0 && !fieldsWithin(sub, next) {
			return false
		}
	}
	return true
}

func findKeyed(obj any, want map[string]any) (any, bool) {
	l, ok := obj.([]any)
	if !ok {
		return nil, false
	}
	for _, el := range l {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		match := true
		for k, v := range want {
			if !scalarEqual(m[k], v) {
				match = false
				break
			}
		}
		if match {
			return el, true
		}
	}
	return nil, false
}

func listHas(obj any, want any) bool {
	l, ok := obj.([]any)
	if !ok {
		return false
	}
	for _, el := range l {
		if scalarEqual(el, want) {
			return true
		}
	}
	return false
}

func scalarEqual(a, b any) bool {
	if af, ok := number(a); ok {
		bf, ok := number(b)
		return ok && af == bf
	}
	return reflect.DeepEqual(a, b)
}

// normalize prepares a desired object for applying: a copy whose Secret
// stringData is folded into data, as the API server would store it.
func normalize(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := obj.DeepCopy()
	if isSecret(out) {
		if sd, ok := out.Object["stringData"].(map[string]any); ok {
			data, _ := out.Object["data"].(map[string]any)
			if data == nil {
				data = map[string]any{}
			}
			for k, v := range sd {
				data[k] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
			}
			out.Object["data"] = data
			delete(out.Object, "stringData")
		}
	}
	return out
}

func isSecret(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "Secret" && obj.GetAPIVersion() == "v1"
}

// stripped is an object as diffs show it: without server bookkeeping and status.
func stripped(obj *unstructured.Unstructured) map[string]any {
	if obj == nil {
		return nil
	}
	out := obj.DeepCopy().Object
	delete(out, "status")
	if md, ok := out["metadata"].(map[string]any); ok {
		for _, k := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
			delete(md, k)
		}
	}
	return out
}

// maskSecrets hides Secret values in a pair of stripped objects: equal values
// become "***", changed ones "*** (before)" and "*** (after)".
func maskSecrets(before, after map[string]any) {
	for _, field := range []string{"data", "stringData"} {
		b, _ := nestedMap(before, field)
		a, _ := nestedMap(after, field)
		for k, bv := range b {
			if av, ok := a[k]; ok {
				if reflect.DeepEqual(av, bv) {
					b[k], a[k] = "***", "***"
				} else {
					b[k], a[k] = "*** (before)", "*** (after)"
				}
			} else {
				b[k] = "***"
			}
		}
		for k := range a {
			if _, ok := b[k]; !ok {
				a[k] = "***"
			}
		}
	}
}

func nestedMap(obj map[string]any, field string) (map[string]any, bool) {
	if obj == nil {
		return nil, false
	}
	m, ok := obj[field].(map[string]any)
	return m, ok
}
