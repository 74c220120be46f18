package fleet

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// trickySeeds are fleet inputs that reach corners of the decoder: aliases,
// merge keys, tags, odd scalars, several documents, broken YAML.
var trickySeeds = []string{
	"",
	"---\n---\n",
	"- a\n- b\n",
	"just a string",
	"apiVersion: gatefed.dev/v1alpha1\n",
	"apiVersion: gatefed.dev/v1alpha1\nkind: Nope\n",
	"apiVersion: [x]\nkind: {y: z}\n",
	"apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: &m {name: a}\nspec: {gateway: {provider: gloo}, failover: {address: 192.0.2.1, port: 0x10}}\n---\napiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: *m\n",
	"apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\n<<: {metadata: {name: a}}\nspec: {gateway: {provider: gloo}}\n",
	"apiVersion: gatefed.dev/v1alpha1\nkind: GlobalService\nmetadata: {name: s}\nspec: {port: 99999999999, healthCheck: {interval: 5}}\n",
	"apiVersion: gatefed.dev/v1alpha1\nkind: GlobalService\nmetadata: {name: s}\nspec: {port: !!str 80, clusters: {names: [*undefined]}}\n",
	"apiVersion: gatefed.dev/v1alpha1\nkind: GlobalRoute\nmetadata: {name: r}\nspec:\n  hosts: [\"*.example.com\", \"*\"]\n  rules:\n  - match: {pathRegex: \"(\", headers: [{name: \"\", value: ~}]}\n    backends: [{service: a/b/c, weight: -1}]\n",
	"apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: a, name: b}\nspec: {gateway: {provider: glo}}\n",
	"a: [\n",
	"\t\x00\xff\xfe",
	"key: \"unterminated\n",
	"%YAML 1.1\n---\na: b\n",
	"? complex\n: key\n",
}

// fleetSeeds adds every example fleet file, each example fleet as one
// stream of documents, and the tricky inputs.
func fleetSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "fleets", "*", "*.yaml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no example fleets: %v", err)
	}
	byDir := map[string][][]byte{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		byDir[filepath.Dir(file)] = append(byDir[filepath.Dir(file)], data)
	}
	for _, docs := range byDir {
		if len(docs) > 1 {
			f.Add(bytes.Join(docs, []byte("\n---\n")))
		}
	}
	for _, s := range trickySeeds {
		f.Add([]byte(s))
	}
}

// yamlLines counts the lines of data as YAML does: in UTF-16 when the
// data starts with its byte order mark, and a line ends at "\r\n", "\r",
// "\n", or one of the Unicode breaks NEL, LS and PS.
func yamlLines(data []byte) int {
	text := string(data)
	if len(data) >= 2 && (data[0] == 0xfe && data[1] == 0xff || data[0] == 0xff && data[1] == 0xfe) {
		units := make([]uint16, 0, len(data)/2)
		for i := 2; i+1 < len(data); i += 2 {
			if data[0] == 0xfe {
				units = append(units, uint16(data[i])<<8|uint16(data[i+1]))
			} else {
				units = append(units, uint16(data[i+1])<<8|uint16(data[i]))
			}
		}
		text = string(utf16.Decode(units))
	}
	s := strings.ReplaceAll(text, "\r\n", "\n")
	n := 1
	for _, r := range s {
		switch r {
		case '\r', '\n', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}

// checkPositions fails unless every error names file and a line of data
// (or the line just past its end, where the parser ran out of input); only
// the error of an input with no fleet document names no line.
func checkPositions(t *testing.T, errs Errors, file string, data []byte) {
	t.Helper()
	lines := yamlLines(data)
	for _, e := range errs {
		if e.Line == 0 && len(errs) == 1 && e.File == file && strings.HasPrefix(e.Message, "no fleet documents") {
			continue
		}
		if e.File != file || e.Line < 1 || e.Line > lines+1 {
			t.Fatalf("error without a position in %s (%d lines): %q at %s:%d", file, lines, e.Message, e.File, e.Line)
		}
		if !strings.HasPrefix(e.Error(), file+":") {
			t.Fatalf("error text does not start with the file: %q", e.Error())
		}
	}
}

// FuzzParse feeds the positional decoder any bytes: it must not panic, and
// every problem it reports carries the file and a line of the input.
func FuzzParse(f *testing.F) {
	fleetSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		l := &loader{f: &Fleet{}, aliases: MaxAliasValues, skipped: func(string) {}}
		l.parseFile("fleet.yaml", data)
		errs, fl := l.errs, l.f
		checkPositions(t, errs, "fleet.yaml", data)
		lines := yamlLines(data)
		for _, c := range fl.Clusters {
			if c.Source.File != "fleet.yaml" || c.Source.Line < 1 || c.Source.Line > lines {
				t.Fatalf("Cluster source %s:%d", c.Source.File, c.Source.Line)
			}
		}
	})
}

// FuzzLoad runs the whole of loading (decode, defaults, index, validation)
// on any bytes read from standard input: it must not panic; a fleet that
// does not load is reported as Errors, each with the file and a line; and
// loading the same bytes twice gives the same answer.
func FuzzLoad(f *testing.F) {
	fleetSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Load([]string{"-"}, bytes.NewReader(data))
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("not a list of fleet errors: %T %v", err, err)
			}
			checkPositions(t, errs, "-", data)
			_, again := Load([]string{"-"}, bytes.NewReader(data))
			if again == nil || again.Error() != err.Error() {
				t.Fatalf("a second load disagrees:\n%v\n---\n%v", err, again)
			}
			return
		}
		// A valid fleet is fully indexed and defaulted.
		for _, c := range fl.Clusters {
			if fl.Cluster(c.Metadata.Name) != c || c.Spec.Gateway.Namespace == "" || c.Spec.Gateway.Name == "" {
				t.Fatalf("cluster %q not indexed or defaulted: %+v", c.Metadata.Name, c.Spec.Gateway)
			}
		}
		for _, s := range fl.Services {
			if fl.Service(s.Key()) != s {
				t.Fatalf("service %s not indexed", s.Key())
			}
		}
	})
}
