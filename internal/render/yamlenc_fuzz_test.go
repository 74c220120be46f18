package render

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// builder makes a value of an unstructured object from fuzz input: shape
// picks each value's type and size, the strings and numbers its content.
type builder struct {
	shape []byte
	strs  []string
	n     int64
	x     float64
}

func (b *builder) next() byte {
	if len(b.shape) == 0 {
		return 0
	}
	c := b.shape[0]
	b.shape = b.shape[1:]
	return c
}

// str is a piece of one of the fuzzed strings.
func (b *builder) str() string {
	s := b.strs[int(b.next())%len(b.strs)]
	i := int(b.next()) % (len(s) + 1)
	j := i + int(b.next())%(len(s)-i+1)
	if b.next()%4 == 0 {
		return s // the whole string, most of the time a piece
	}
	return s[i:j]
}

func (b *builder) value(depth int) any {
	switch c := b.next(); c % 9 {
	case 0, 1:
		return b.str()
	case 2:
		return b.n + int64(c)
	case 3:
		return b.x * float64(c)
	case 4:
		return int64(c) - 128
	case 5:
		return c%2 == 0
	case 6:
		return nil
	case 7:
		if depth > 0 {
			return b.object(depth - 1)
		}
		return map[string]any{}
	default:
		if depth <= 0 {
			return []any{}
		}
		l := make([]any, int(b.next())%5)
		for i := range l {
			l[i] = b.value(depth - 1)
		}
		return l
	}
}

func (b *builder) object(depth int) map[string]any {
	m := map[string]any{}
	for n := int(b.next()) % 6; n > 0; n-- {
		m[b.str()] = b.value(depth)
	}
	return m
}

// writable reports whether MarshalYAML must write v: it refuses numbers
// JSON has no text for and strings that are not UTF-8.
func writable(v any) bool {
	switch t := v.(type) {
	case string:
		return utf8.ValidString(t)
	case float64:
		return !math.IsNaN(t) && !math.IsInf(t, 0)
	case map[string]any:
		for k, e := range t {
			if !utf8.ValidString(k) || !writable(e) {
				return false
			}
		}
	case []any:
		for _, e := range t {
			if !writable(e) {
				return false
			}
		}
	}
	return true
}

// FuzzMarshalYAML writes objects built from fuzz input (on top of the
// rendered golden objects) and reads them back with sigs.k8s.io/yaml, as an
// API server would: the object read must equal the one written, as JSON
// sees it (numbers are float64). An empty object writes as nothing.
func FuzzMarshalYAML(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "golden", "*.yaml"))
	if len(golden) == 0 {
		f.Fatal("no golden files")
	}
	odd := []string{"", " lead", "trail ", "a: b", "#c", "- x", "\"q\"", "'q'", "\\", "multi\nline", "tab\t", "\x00\x7f\u0085\u2028\ufeff",
		"日本", "true", "No", "~", "null", "0x1F", "1e3", "5s", "12e", "0o7", "<<", "*a", "&a", "!t", "%p", "@a", "`b`", "\xff\xfe", "1:20", "2001-12-14"}
	for _, file := range golden {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			f.Add(doc, []byte{byte(i), 7, 3, 1, 2, 0, 8, 4}, odd[i%len(odd)], odd[(i+7)%len(odd)], int64(i)<<40, 0.5)
		}
	}
	f.Add([]byte{}, []byte{5, 0, 1, 2, 3, 7, 2, 0, 0, 0, 8, 9, 4, 1, 1, 1}, "key", "\u2029value", int64(math.MaxInt64), 1e21)
	f.Add([]byte("{}"), []byte{0}, "", "", int64(0), 0.0)
	f.Fuzz(func(t *testing.T, doc, shape []byte, s1, s2 string, n int64, x float64) {
		obj := map[string]any{}
		if err := yaml.Unmarshal(doc, &obj); err != nil || obj == nil {
			obj = map[string]any{}
		}
		b := &builder{shape: shape, strs: append([]string{s1, s2}, odd...), n: n, x: x}
		for k, v := range b.object(4) {
			obj[k] = v
		}
		out, err := MarshalYAML(obj)
		if !writable(obj) {
			if err == nil {
				t.Fatalf("wrote an object with a value YAML cannot hold:\n%s", out)
			}
			return
		}
		if err != nil {
			t.Fatalf("MarshalYAML: %v", err)
		}
		var got map[string]any
		if err := yaml.Unmarshal(out, &got); err != nil {
			t.Fatalf("the written YAML does not parse: %v\n%s", err, out)
		}
		var want map[string]any
		j, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(j, &want); err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			if len(out) != 0 || got != nil {
				t.Fatalf("an empty object wrote %q", out)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read back differs:\n%s\ngot  %#v\nwant %#v", out, got, want)
		}
	})
}
