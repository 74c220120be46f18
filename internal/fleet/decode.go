package fleet

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// decoder decodes a YAML node into a struct by its json tags, strictly:
// unknown fields, wrong types and duplicate keys are errors. It records the
// line of every field path it sees, and keeps going after an error so that
// all problems are reported at once.
type decoder struct {
	lines map[string]int
	errs  []pathError
	// aliases is how many more values may be reached through aliases;
	// alias is the alias being followed, nil outside one.
	aliases *int
	alias   *yaml.Node
	tooMany bool
	// root is the type of the document, to say where a misplaced field belongs.
	root reflect.Type
}

type pathError struct {
	path string
	line int
	msg  string
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, pathError{path: path, line: n.Line, msg: fmt.Sprintf(format, args...)})
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			return "a number"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a string"
	}
	return "a YAML node"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

var durationType = reflect.TypeOf(Duration(""))

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && d.alias == nil {
		d.alias = n
		defer func() { d.alias = nil }()
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.alias != nil {
		if *d.aliases <= 0 {
			if !d.tooMany {
				d.tooMany = true
				// No field: the whole document is cut short, and
				// withoutDecoded drops what validation says of it.
				d.fail(d.alias, "", "%s: aliases reach more than %d values in the fleet: write the values out", path, MaxAliasValues)
			}
			return
		}
		*d.aliases--
	}
	d.lines[path] = n.Line
	if isNull(n) {
		return // leave the zero value
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "must be a list, not %s", kindOf(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "must be a mapping, not %s", kindOf(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := k.Value
			if seen[key] {
				d.fail(k, join(path, key), "duplicate key")
				continue
			}
			seen[key] = true
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, join(path, key))
			m.SetMapIndex(reflect.ValueOf(key), ev)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			if n.Kind == yaml.ScalarNode {
				what := "a string"
				if v.Type() == durationType {
					what = "a duration string such as \"5s\""
				}
				d.fail(n, path, "must be %s, not %s (quote it: %q)", what, kindOf(n), n.Value)
			} else {
				d.fail(n, path, "must be a string, not %s", kindOf(n))
			}
			return
		}
		v.SetString(n.Value)
	case reflect.Int32, reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.fail(n, path, "must be a whole number, not %s", kindOf(n))
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || (v.Kind() == reflect.Int32 && (i > math.MaxInt32 || i < math.MinInt32)) {
			d.fail(n, path, "number %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.fail(n, path, "must be true or false, not %s", kindOf(n))
			return
		}
		b, _ := strconv.ParseBool(n.Value)
		v.SetBool(b)
	case reflect.Interface:
		if x, ok := d.freeForm(n, path); ok {
			v.Set(reflect.ValueOf(&x).Elem())
		}
	default:
		d.fail(n, path, "cannot decode into %s", v.Type())
	}
}

// freeForm decodes a node of free-form data (a module's config) into
// map[string]any, []any, string, int64, float64 or bool.
func (d *decoder) freeForm(n *yaml.Node, path string) (any, bool) {
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		v := reflect.ValueOf(&m).Elem()
		d.decode(n, v, path)
		return m, true
	case yaml.SequenceNode:
		var s []any
		v := reflect.ValueOf(&s).Elem()
		d.decode(n, v, path)
		return s, true
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
			if err != nil {
				d.fail(n, path, "number %s is out of range", n.Value)
				return nil, false
			}
			return i, true
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				d.fail(n, path, "invalid number %s", n.Value)
				return nil, false
			}
			return f, true
		case "!!bool":
			b, _ := strconv.ParseBool(n.Value)
			return b, true
		}
		return n.Value, true
	}
	d.fail(n, path, "must be a value, not %s", kindOf(n))
	return nil, false
}

type structField struct {
	index []int
	name  string
}

func fieldsOf(t reflect.Type) []structField {
	var out []structField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") || (f.Anonymous && name == "") {
			for _, sub := range fieldsOf(f.Type) {
				out = append(out, structField{index: append([]int{i}, sub.index...), name: sub.name})
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, structField{index: []int{i}, name: name})
	}
	return out
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping, not %s", kindOf(n))
		return
	}
	fields := fieldsOf(v.Type())
	names := make([]string, len(fields))
	byName := map[string]structField{}
	for i, f := range fields {
		names[i] = f.name
		byName[f.name] = f
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		fp := join(path, key)
		if seen[key] {
			d.fail(k, fp, "duplicate key")
			continue
		}
		seen[key] = true
		f, ok := byName[key]
		if !ok {
			d.fail(k, fp, "%s", d.unknownField(key, fp, names))
			continue
		}
		d.lines[fp] = k.Line
		d.decode(val, v.FieldByIndex(f.index), fp)
		d.lines[fp] = k.Line
	}
}

// unknownField says what a key that is no field here is: where it belongs
// when it is a field elsewhere in the document (unless a field here is one
// letter away), else the fields allowed here.
func (d *decoder) unknownField(key, path string, names []string) string {
	near := Nearest(key, names)
	if d.root != nil && (near == "" || EditDistance(key, near) > 1) {
		if where := fieldPaths(d.root, key, genericPath(path)); len(where) > 0 {
			parents := make([]string, len(where))
			for i, w := range where {
				parents[i] = mappingOf(w)
			}
			return fmt.Sprintf("unknown field here: it belongs in %s (as %s)", strings.Join(parents, " or "), strings.Join(where, " or "))
		}
	}
	return fmt.Sprintf("unknown field%s (fields here: %s)", DidYouMean(key, names), strings.Join(names, ", "))
}

// maxFieldPaths is how many places fieldPaths names at most.
const maxFieldPaths = 3

// fieldPaths are the generic paths (spec.rules[].name) in documents of type
// t where a field named key is allowed, other than not, shallowest first.
func fieldPaths(t reflect.Type, key, not string) []string {
	type node struct {
		t    reflect.Type
		path string
	}
	var out []string
	queue := []node{{t, ""}}
	for depth := 0; depth < 8 && len(queue) > 0 && len(out) < maxFieldPaths; depth++ {
		var next []node
		for _, n := range queue {
			for _, f := range fieldsOf(n.t) {
				fp := join(n.path, f.name)
				if f.name == key && fp != not && len(out) < maxFieldPaths {
					out = append(out, fp)
				}
				if ft, suffix := structBehind(n.t.FieldByIndex(f.index).Type); ft != nil {
					next = append(next, node{ft, fp + suffix})
				}
			}
		}
		queue = next
	}
	return out
}

// structBehind is the struct type a field holds, through pointers and
// slices ("[]" added to the path), or nil.
func structBehind(t reflect.Type) (reflect.Type, string) {
	suffix := ""
	for {
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Slice:
			t, suffix = t.Elem(), suffix+"[]"
		case reflect.Struct:
			if t == durationType {
				return nil, ""
			}
			return t, suffix
		default:
			return nil, ""
		}
	}
}

// genericPath drops the indexes of a field path: spec.rules[0].name is
// spec.rules[].name.
func genericPath(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
			b.WriteString("[]")
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mappingOf is the path of the mapping a field is in.
func mappingOf(path string) string {
	i := strings.LastIndex(path, ".")
	if i < 0 {
		return "the document's top level"
	}
	return path[:i]
}
