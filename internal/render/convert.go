package render

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// toMap converts a typed API object into the map form of unstructured
// objects: the same result as runtime.DefaultUnstructuredConverter (json
// tags, omitempty, omitzero, inlined embedded structs, json.Marshaler) but
// without null fields, with the field plan of every struct type computed
// once. Rendering large fleets spends most of its time here.
func toMap(typed any) (map[string]any, error) {
	v := reflect.ValueOf(typed)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, fmt.Errorf("convert %T: nil", typed)
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("convert %T: not a struct", typed)
	}
	out := map[string]any{}
	if err := structInto(v, out); err != nil {
		return nil, fmt.Errorf("convert %T: %w", typed, err)
	}
	return out, nil
}

type fieldPlan struct {
	index     []int
	name      string
	omitEmpty bool
	omitZero  bool
	inline    bool
	info      *typeInfo // of the field's type
}

var plans sync.Map // reflect.Type -> []fieldPlan

func planOf(t reflect.Type) []fieldPlan {
	if p, ok := plans.Load(t); ok {
		return p.([]fieldPlan)
	}
	var fields []fieldPlan
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			fields = append(fields, fieldPlan{index: f.Index, inline: true})
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields = append(fields, fieldPlan{
			index:     f.Index,
			name:      name,
			omitEmpty: hasOpt(opts, "omitempty"),
			omitZero:  hasOpt(opts, "omitzero"),
			info:      infoOf(f.Type),
		})
	}
	plans.Store(t, fields)
	return fields
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

func structInto(v reflect.Value, out map[string]any) error {
	for _, f := range planOf(v.Type()) {
		fv := v.Field(f.index[0])
		if f.inline {
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if err := structInto(fv, out); err != nil {
				return err
			}
			continue
		}
		if f.omitEmpty && isEmpty(fv) {
			continue
		}
		if f.omitZero && isZero(fv, f.info) {
			continue
		}
		val, err := convertWith(fv, f.info)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if val != nil {
			out[f.name] = val
		}
	}
	return nil
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	isZeroerType      = reflect.TypeFor[interface{ IsZero() bool }]()
)

// typeInfo caches which custom encodings a type has.
type typeInfo struct {
	marshaler, ptrMarshaler, textMarshaler, isZeroer bool

	t        reflect.Type
	elemOnce sync.Once
	elemInfo *typeInfo
}

// elem is the info of the element type of a pointer, slice, array or map.
func (ti *typeInfo) elem() *typeInfo {
	ti.elemOnce.Do(func() { ti.elemInfo = infoOf(ti.t.Elem()) })
	return ti.elemInfo
}

var typeInfos sync.Map // reflect.Type -> *typeInfo

func infoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti := &typeInfo{
		t:             t,
		marshaler:     t.Implements(marshalerType),
		ptrMarshaler:  reflect.PointerTo(t).Implements(marshalerType),
		textMarshaler: t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && t.Implements(textMarshalerType),
		isZeroer:      t.Implements(isZeroerType),
	}
	typeInfos.Store(t, ti)
	return ti
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

func isZero(v reflect.Value, ti *typeInfo) bool {
	if ti.isZeroer {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return true
		}
		return v.Interface().(interface{ IsZero() bool }).IsZero()
	}
	return v.IsZero()
}

func convertValue(v reflect.Value) (any, error) { return convertWith(v, infoOf(v.Type())) }

// convertWith converts v, whose type's info is ti.
func convertWith(v reflect.Value, ti *typeInfo) (any, error) {
	if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, nil
		}
	}
	if ti.marshaler {
		return fromJSON(v.Interface().(json.Marshaler))
	}
	if ti.ptrMarshaler && v.CanAddr() {
		return fromJSON(v.Addr().Interface().(json.Marshaler))
	}
	if ti.textMarshaler {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		return string(b), err
	}
	switch v.Kind() {
	case reflect.Pointer:
		return convertWith(v.Elem(), ti.elem())
	case reflect.Interface:
		return convertValue(v.Elem())
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(v.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return v.Float(), nil
	case reflect.Slice:
		if v.IsNil() {
			return nil, nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return base64.StdEncoding.EncodeToString(v.Bytes()), nil
		}
		fallthrough
	case reflect.Array:
		out := make([]any, v.Len())
		ei := ti.elem()
		for i := range out {
			e, err := convertWith(v.Index(i), ei)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case reflect.Map:
		if v.IsNil() {
			return nil, nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key type %s is not a string", v.Type().Key())
		}
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		ei := ti.elem()
		for it.Next() {
			e, err := convertWith(it.Value(), ei)
			if err != nil {
				return nil, err
			}
			if e != nil {
				out[it.Key().String()] = e
			}
		}
		return out, nil
	case reflect.Struct:
		out := map[string]any{}
		if err := structInto(v, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot convert a %s", v.Type())
}

// fromJSON converts a custom-marshalled value, as the apimachinery converter does.
func fromJSON(m json.Marshaler) (any, error) {
	data, err := m.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var out any
	if err := utiljson.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}
