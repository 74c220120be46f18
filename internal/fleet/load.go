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
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gatefed/gatefed/internal/provider"
)

// Load reads the fleet from files, directories (read recursively for *.yaml
// and *.yml) and "-" (stdin), decodes every document strictly, fills
// defaults and validates. Bad input returns Errors listing every problem.
func Load(paths []string, stdin io.Reader) (*Fleet, error) {
	f, _, err := LoadWith(paths, LoadOptions{Stdin: stdin})
	return f, err
}

// LoadOptions are what LoadWith reads besides the paths.
type LoadOptions struct {
	Stdin io.Reader
	// Skipped hears one line for every file a directory walk passes over
	// and every document of another API group; nil discards them.
	Skipped func(string)
}

// Counts are the documents of each kind a load decoded.
type Counts struct {
	Clusters, Services, Routes, Extensions int
}

// LoadWith is Load that also tells what it skipped, and returns the counts
// of documents it decoded even when the fleet is invalid.
func LoadWith(paths []string, opts LoadOptions) (*Fleet, Counts, error) {
	l := &loader{f: &Fleet{}, aliases: MaxAliasValues, skipped: opts.Skipped}
	if l.skipped == nil {
		l.skipped = func(string) {}
	}
	for _, p := range paths {
		if err := l.readPath(p, opts.Stdin); err != nil {
			return nil, Counts{}, err
		}
	}
	f := l.f
	counts := Counts{len(f.Clusters), len(f.Services), len(f.Routes), len(f.Extensions)}
	f.setDefaults()
	f.Index()
	errs := append(l.errs, withoutDecoded(f.validate(), l.errs)...)
	if len(errs) > 0 {
		return nil, counts, errs.sorted().withConsequences(l.lost)
	}
	f.sort()
	return f, counts, nil
}

// loader is one Load under way.
type loader struct {
	f       *Fleet
	errs    Errors
	aliases int // what is left of MaxAliasValues
	skipped func(string)
	docs    int // fleet documents read so far
	// lost are the errors that kept documents out of the fleet: YAML syntax
	// (the rest of the file), a document without apiVersion or kind.
	lost []FieldError
}

// readPath reads one -f path. A path that yields no fleet document, and no
// error to explain why, is an error itself: a fleet is never silently empty.
func (l *loader) readPath(p string, stdin io.Reader) error {
	files, skipped, err := walk(p)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		l.skipped(fmt.Sprintf("%s: skipped: a directory is read for *.yaml and *.yml files only (name the file with -f to read it)", s))
	}
	docs, errs := l.docs, len(l.errs)
	for _, file := range files {
		if err := l.readFile(file, stdin); err != nil {
			return err
		}
	}
	if l.docs == docs && len(l.errs) == errs {
		l.errs = append(l.errs, FieldError{File: p, Message: noDocuments(p, len(files))})
	}
	return nil
}

// noDocuments says why path p gave no fleet document.
func noDocuments(p string, files int) string {
	switch {
	case p == "-":
		return "no fleet documents on standard input"
	case files == 0:
		return "no fleet documents: the directory has no *.yaml or *.yml file"
	case files == 1:
		return fmt.Sprintf("no fleet documents (apiVersion %s) in the 1 file read", APIVersion)
	}
	return fmt.Sprintf("no fleet documents (apiVersion %s) in the %d files read", APIVersion, files)
}

// readFile reads and decodes one file, or stdin for "-".
func (l *loader) readFile(file string, stdin io.Reader) error {
	var data []byte
	var err error
	if file == "-" {
		if stdin == nil {
			return errors.New("-: no standard input")
		}
		data, err = readLimited(stdin)
	} else {
		data, err = readFile(file)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	if len(data) > MaxFileSize {
		l.errs = append(l.errs, FieldError{File: file, Line: bytes.Count(data[:MaxFileSize], []byte("\n")) + 1,
			Message: fmt.Sprintf("the file goes past %d MiB here, the most a fleet file may hold: split it", MaxFileSize>>20)})
		return nil
	}
	l.parseFile(file, data)
	return nil
}

// Files turns fleet paths into the files to read, in a stable order: "-" as
// is, a file as is, a directory's *.yaml and *.yml files recursively (sorted,
// skipping directories and files whose name starts with a dot).
func Files(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		found, _, err := walk(p)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	return files, nil
}

// walk lists the files one fleet path names, and the files of a directory
// that are not read (not *.yaml or *.yml; hidden ones are left unsaid).
func walk(p string) (found, skipped []string, err error) {
	if p == "-" {
		return []string{p}, nil, nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return nil, nil, fmt.Errorf("fleet %s: %w", p, errors.Unwrap(err))
	}
	if !info.IsDir() {
		return []string{p}, nil, nil
	}
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != p && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		case d.IsDir():
		case strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml"):
			found = append(found, path)
		case !strings.HasPrefix(d.Name(), "."):
			skipped = append(skipped, path)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("fleet %s: %w", p, err)
	}
	sort.Strings(found)
	sort.Strings(skipped)
	return found, skipped, nil
}

// TargetFile is the file a command that writes fleet documents writes to:
// name in the first fleet directory (or in a first path that does not exist
// yet and is not a *.yaml or *.yml file), else the first fleet file; name
// itself when there is no path.
func TargetFile(paths []string, name string) (string, error) {
	if len(paths) == 0 {
		return name, nil
	}
	p := paths[0]
	if p == "-" {
		return "", errors.New("the fleet is read from standard input (-f -): pass --file to say which file to write")
	}
	info, err := os.Stat(p)
	switch {
	case err == nil && info.IsDir():
		return filepath.Join(p, name), nil
	case err == nil:
		return p, nil
	case errors.Is(err, fs.ErrNotExist):
		if strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") {
			return p, nil
		}
		return filepath.Join(p, name), nil
	default:
		return "", fmt.Errorf("fleet %s: %w", p, err)
	}
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

// parseFile decodes the documents of one file into the fleet.
func (l *loader) parseFile(file string, data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for docIndex := 1; ; docIndex++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			e := syntaxError(file, data, err)
			l.errs, l.lost = append(l.errs, e), append(l.lost, e)
			break // the decoder cannot resync after a syntax error
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue // empty document
		}
		before := l.docs
		errs := l.parseDocument(file, docIndex, doc.Content[0])
		if l.docs == before && len(errs) > 0 {
			l.lost = append(l.lost, errs[0])
		}
		l.errs = append(l.errs, errs...)
	}
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

// document is a fleet document: it records where it was read.
type document[T any] interface {
	*T
	source() *Source
}

// addDocument appends a new document to list and returns it and its Source.
func addDocument[T any, D document[T]](list *[]D) (any, *Source) {
	d := D(new(T))
	*list = append(*list, d)
	return d, d.source()
}

// foreign reports whether apiVersion belongs to another API group than the
// fleet's (a Kustomization, a Namespace): such documents are skipped. A group
// one typo away from gatefed.dev is not foreign but a mistake.
func foreign(apiVersion string) bool {
	group, _, found := strings.Cut(apiVersion, "/")
	if !found {
		group = "" // the core group: "v1"
	}
	return group != APIGroup && Nearest(group, []string{APIGroup}) == ""
}

func orUnknown(kind string) string {
	if kind == "" {
		return "(no kind)"
	}
	return kind
}

func (l *loader) parseDocument(file string, index int, n *yaml.Node) Errors {
	f := l.f
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
	case foreign(apiVersion):
		l.skipped(fmt.Sprintf("%s:%d: skipped %s %s: not a %s document", file, n.Line, apiVersion, orUnknown(kind), APIGroup))
		return nil
	case apiVersion != APIVersion:
		return docErr(avNode.Line, "apiVersion", "unsupported %q (want %s)", apiVersion, APIVersion)
	case kindNode == nil:
		return docErr(n.Line, "kind", "required (want one of %s)", strings.Join(kinds, ", "))
	}

	adders := map[string]func() (any, *Source){
		KindCluster:         func() (any, *Source) { return addDocument(&f.Clusters) },
		KindGlobalService:   func() (any, *Source) { return addDocument(&f.Services) },
		KindGlobalRoute:     func() (any, *Source) { return addDocument(&f.Routes) },
		KindGlobalExtension: func() (any, *Source) { return addDocument(&f.Extensions) },
	}
	add, ok := adders[kind]
	if !ok {
		return docErr(kindNode.Line, "kind", "unknown kind %q%s (want one of %s)", kind, DidYouMean(kind, kinds), strings.Join(kinds, ", "))
	}
	target, src := add()
	l.docs++
	d := &decoder{lines: map[string]int{}, aliases: &l.aliases, root: reflect.TypeOf(target).Elem()}
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
