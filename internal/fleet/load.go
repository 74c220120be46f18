package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gatefed/gatefed/internal/provider"
)

// Load reads the fleet from files, directories (read recursively for *.yaml
// and *.yml) and "-" (stdin), decodes every document strictly, fills
// defaults and validates. Bad input returns Errors listing every problem.
func Load(paths []string, stdin io.Reader) (*Fleet, error) {
	f := &Fleet{}
	var errs Errors
	files, err := Files(paths)
	if err != nil {
		return nil, err
	}
	aliases := MaxAliasValues
	for _, file := range files {
		var data []byte
		if file == "-" {
			if stdin == nil {
				return nil, errors.New("-: no standard input")
			}
			data, err = readLimited(stdin)
		} else {
			data, err = readFile(file)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		if len(data) > MaxFileSize {
			errs = append(errs, FieldError{File: file, Line: bytes.Count(data[:MaxFileSize], []byte("\n")) + 1,
				Message: fmt.Sprintf("the file goes past %d MiB here, the most a fleet file may hold: split it", MaxFileSize>>20)})
			continue
		}
		errs = append(errs, parseFile(f, file, data, &aliases)...)
	}
	f.setDefaults()
	f.Index()
	errs = append(errs, withoutDecoded(f.validate(), errs)...)
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	f.sort()
	return f, nil
}

// Files turns fleet paths into the files to read, in a stable order: "-" as
// is, a file as is, a directory's *.yaml and *.yml files recursively (sorted,
// skipping directories whose name starts with a dot).
func Files(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		if p == "-" {
			files = append(files, p)
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("fleet %s: %w", p, errors.Unwrap(err))
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("fleet %s: %w", p, err)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

// MaxFileSize is the most Load reads from one fleet file or standard input.
// A fleet of thousands of documents is a few megabytes; a larger file is
// refused before it is parsed, so that parsing it cannot exhaust memory.
const MaxFileSize = 16 << 20

// MaxAliasValues is how many values the documents of one load may reach
// through YAML aliases (*name). An alias saves writing a block twice; past
// this, aliases only multiply a small input into a huge fleet (a "billion
// laughs"), and the document that goes past it is an error.
const MaxAliasValues = 10000

// readLimited reads r up to one byte past MaxFileSize.
func readLimited(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, MaxFileSize+1))
}

func readFile(name string) ([]byte, error) {
	file, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return readLimited(file)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseFile decodes the documents of one file into f. aliases is what is
// left of the load's MaxAliasValues.
func parseFile(f *Fleet, file string, data []byte, aliases *int) Errors {
	var errs Errors
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for docIndex := 1; ; docIndex++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := 1, err.Error()
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = m[2]
				// The YAML parser (unlike its scanner) reports the 0-based
				// line of the construct it was parsing.
				if strings.HasPrefix(msg, "did not find expected") {
					line++
				}
			}
			errs = append(errs, FieldError{File: file, Line: line, Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
			break // the decoder cannot resync after a syntax error
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue // empty document
		}
		errs = append(errs, parseDocument(f, file, docIndex, doc.Content[0], aliases)...)
	}
	return errs
}

func scalarField(n *yaml.Node, key string) (string, *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value, n.Content[i+1]
		}
	}
	return "", nil
}

var kinds = []string{KindCluster, KindGlobalService, KindGlobalRoute, KindGlobalExtension}

func parseDocument(f *Fleet, file string, index int, n *yaml.Node, aliases *int) Errors {
	docErr := func(line int, field, format string, args ...any) Errors {
		return Errors{{File: file, Line: line, Field: field, Message: fmt.Sprintf("document %d: ", index) + fmt.Sprintf(format, args...)}}
	}
	if n.Kind != yaml.MappingNode {
		return docErr(n.Line, "", "must be a mapping with apiVersion and kind, not %s", kindOf(n))
	}
	apiVersion, avNode := scalarField(n, "apiVersion")
	kind, kindNode := scalarField(n, "kind")
	switch {
	case avNode == nil:
		return docErr(n.Line, "apiVersion", "required (want %s)", APIVersion)
	case apiVersion != APIVersion:
		return docErr(avNode.Line, "apiVersion", "unsupported %q (want %s)", apiVersion, APIVersion)
	case kindNode == nil:
		return docErr(n.Line, "kind", "required (want one of %s)", strings.Join(kinds, ", "))
	}

	var target any
	var src *Source
	switch kind {
	case KindCluster:
		c := &Cluster{}
		f.Clusters = append(f.Clusters, c)
		target, src = c, &c.Source
	case KindGlobalService:
		s := &GlobalService{}
		f.Services = append(f.Services, s)
		target, src = s, &s.Source
	case KindGlobalRoute:
		r := &GlobalRoute{}
		f.Routes = append(f.Routes, r)
		target, src = r, &r.Source
	case KindGlobalExtension:
		e := &GlobalExtension{}
		f.Extensions = append(f.Extensions, e)
		target, src = e, &e.Source
	default:
		return docErr(kindNode.Line, "kind", "unknown kind %q%s (want one of %s)", kind, DidYouMean(kind, kinds), strings.Join(kinds, ", "))
	}
	d := &decoder{lines: map[string]int{}, aliases: aliases}
	d.decode(n, reflect.ValueOf(target), "")
	*src = Source{File: file, Line: n.Line, lines: d.lines}

	ns, name := "", ""
	if v, _ := scalarField(metadataNode(n), "name"); v != "" {
		name = v
	}
	if kind != KindCluster {
		ns, _ = scalarField(metadataNode(n), "namespace")
		if ns == "" {
			ns = DefaultNamespace
		}
	}
	var errs Errors
	for _, e := range d.errs {
		errs = append(errs, FieldError{File: file, Line: e.line, Kind: kind, Namespace: ns, Name: name, Field: e.path, Message: e.msg, doc: n.Line})
	}
	return errs
}

func metadataNode(n *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "metadata" && n.Content[i+1].Kind == yaml.MappingNode {
			return n.Content[i+1]
		}
	}
	return &yaml.Node{}
}

// Health check settings the loader fills in where spec.healthCheck leaves
// them out, so that every provider renders the same explicit values.
const (
	DefaultHealthCheckInterval Duration = "5s"
	DefaultHealthCheckTimeout  Duration = "1s"
	DefaultHealthyThreshold    int32    = 1
	DefaultUnhealthyThreshold  int32    = 3
)

// SetDefaults fills the fields left out with the provider's defaults
// (provider.Defaults); an unknown provider has none.
func (g *GatewaySpec) SetDefaults() {
	d := provider.Lookup(g.Provider)
	if d == nil {
		return
	}
	def := d.Defaults
	if g.Namespace == "" {
		g.Namespace = def.Namespace
	}
	if g.Name == "" {
		g.Name = def.GatewayName
	}
	if g.ClassName == "" {
		g.ClassName = def.ClassName
	}
	if len(g.Selector) == 0 && len(def.Selector) > 0 {
		g.Selector = maps.Clone(def.Selector)
	}
}

func (f *Fleet) setDefaults() {
	for _, c := range f.Clusters {
		c.Spec.Gateway.SetDefaults()
		if c.Spec.Failover != nil && c.Spec.Failover.Port == 0 {
			c.Spec.Failover.Port = DefaultFailoverPort
		}
	}
	for _, s := range f.Services {
		if s.Metadata.Namespace == "" {
			s.Metadata.Namespace = DefaultNamespace
		}
		if hc := s.Spec.HealthCheck; hc != nil {
			hc.setDefaults()
		}
	}
	for _, r := range f.Routes {
		if r.Metadata.Namespace == "" {
			r.Metadata.Namespace = DefaultNamespace
		}
	}
	for _, e := range f.Extensions {
		if e.Metadata.Namespace == "" {
			e.Metadata.Namespace = DefaultNamespace
		}
	}
}

func (hc *HealthCheck) setDefaults() {
	if hc.Interval == "" {
		hc.Interval = DefaultHealthCheckInterval
	}
	if hc.Timeout == "" {
		hc.Timeout = DefaultHealthCheckTimeout
	}
	if hc.HealthyThreshold == 0 {
		hc.HealthyThreshold = DefaultHealthyThreshold
	}
	if hc.UnhealthyThreshold == 0 {
		hc.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
}

func (f *Fleet) sort() {
	sort.SliceStable(f.Clusters, func(i, j int) bool { return f.Clusters[i].Metadata.Name < f.Clusters[j].Metadata.Name })
	sort.SliceStable(f.Services, func(i, j int) bool { return f.Services[i].Key() < f.Services[j].Key() })
	sort.SliceStable(f.Routes, func(i, j int) bool { return f.Routes[i].Key() < f.Routes[j].Key() })
	sort.SliceStable(f.Extensions, func(i, j int) bool { return f.Extensions[i].Key() < f.Extensions[j].Key() })
}

// withoutDecoded drops validation errors about fields that already failed to
// decode, so that a field of the wrong type is reported once; a decoding
// error without a field (a document cut short) covers the whole document.
func withoutDecoded(validation, decoding Errors) Errors {
	var out Errors
	for _, v := range validation {
		dup := false
		for _, d := range decoding {
			if d.File == v.File && d.doc == v.doc && d.doc != 0 &&
				(d.Field == "" || v.Field == d.Field || strings.HasPrefix(v.Field, d.Field+".") || strings.HasPrefix(v.Field, d.Field+"[")) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}
