package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gatefed/gatefed/internal/fleet"
)

// yamlFile is a multi-document YAML file split into documents by byte range,
// so that one document can be replaced or removed while every other byte of
// the file stays as it was.
type yamlFile struct {
	Path   string
	Data   []byte
	Mode   fs.FileMode
	Exists bool
	Docs   []*yamlDoc
}

// yamlDoc is one document: Data[Start:End] excludes its "---" separator line.
type yamlDoc struct {
	Start, End int
	// SepStart is where the separator line before the document starts, or -1
	// for the first document.
	SepStart int
	// Node is the parsed document; nil when it holds only comments or nothing.
	Node *yaml.Node
	// lineOffset is the number of file lines before Start.
	lineOffset int
}

// Line is the file line of the document's first key.
func (d *yamlDoc) Line() int {
	if d.Node == nil || len(d.Node.Content) == 0 {
		return d.lineOffset + 1
	}
	return d.lineOffset + d.Node.Content[0].Line
}

// Root is the document's top-level mapping, or nil.
func (d *yamlDoc) Root() *yaml.Node {
	if d.Node == nil || len(d.Node.Content) == 0 || d.Node.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	return d.Node.Content[0]
}

// clusterName returns the name of a Cluster document, and whether it is one.
func (d *yamlDoc) clusterName() (string, bool) {
	root := d.Root()
	if root == nil || scalarAt(root, "kind") != fleet.KindCluster || scalarAt(root, "apiVersion") != fleet.APIVersion {
		return "", false
	}
	return scalarAt(root, "metadata", "name"), true
}

// readYAMLFile reads and splits a file; a missing file is an empty one.
func readYAMLFile(path string) (*yamlFile, error) {
	f := &yamlFile{Path: path, Mode: 0o644}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if st, err := os.Stat(path); err == nil {
		f.Mode = st.Mode().Perm()
	}
	f.Data, f.Exists = data, true
	if err := f.split(); err != nil {
		return nil, err
	}
	return f, nil
}

// isSeparator reports whether a line is a "---" document separator.
func isSeparator(line []byte) bool {
	line = bytes.TrimRight(line, "\r\n")
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t'
}

func (f *yamlFile) split() error {
	f.Docs = nil
	start, sep := 0, -1
	for pos := 0; pos < len(f.Data); {
		end := bytes.IndexByte(f.Data[pos:], '\n')
		next := len(f.Data)
		if end >= 0 {
			next = pos + end + 1
		}
		line := f.Data[pos:next]
		if isSeparator(line) {
			rest := strings.TrimSpace(string(bytes.TrimRight(line, "\r\n")[3:]))
			if rest != "" && !strings.HasPrefix(rest, "#") {
				return fmt.Errorf("%s: line %d: a document starting on its separator line (%q) cannot be edited safely; move it to its own line",
					f.Path, bytes.Count(f.Data[:pos], []byte("\n"))+1, strings.TrimSpace(string(line)))
			}
			f.Docs = append(f.Docs, &yamlDoc{Start: start, End: pos, SepStart: sep})
			start, sep = next, pos
		}
		pos = next
	}
	f.Docs = append(f.Docs, &yamlDoc{Start: start, End: len(f.Data), SepStart: sep})
	for _, d := range f.Docs {
		d.lineOffset = bytes.Count(f.Data[:d.Start], []byte("\n"))
		var n yaml.Node
		if err := yaml.Unmarshal(f.Data[d.Start:d.End], &n); err != nil {
			return fmt.Errorf("%s: %s", f.Path, shiftYAMLError(err, d.lineOffset))
		}
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			d.Node = &n
		}
	}
	return nil
}

// shiftYAMLError reports a document's parse error with the file's line number.
func shiftYAMLError(err error, offset int) string {
	msg := err.Error()
	var line int
	var rest string
	if n, _ := fmt.Sscanf(msg, "yaml: line %d:", &line); n == 1 {
		if i := strings.Index(msg, ": "); i >= 0 {
			if j := strings.Index(msg[i+2:], ": "); j >= 0 {
				rest = msg[i+2+j+2:]
			}
		}
		return fmt.Sprintf("line %d: invalid YAML: %s", line+offset, rest)
	}
	return "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
}

// findCluster returns the Cluster document named name, or nil.
func (f *yamlFile) findCluster(name string) *yamlDoc {
	for _, d := range f.Docs {
		if n, ok := d.clusterName(); ok && n == name {
			return d
		}
	}
	return nil
}

// replace returns the file's bytes with doc's range replaced by text.
func (f *yamlFile) replace(doc *yamlDoc, text []byte) []byte {
	out := make([]byte, 0, len(f.Data)+len(text))
	out = append(out, f.Data[:doc.Start]...)
	out = append(out, text...)
	return append(out, f.Data[doc.End:]...)
}

// appendDoc returns the file's bytes with a new document at the end. The
// document follows a separator even in a file of only comments: comments
// right above a document belong to it, and remove would take them along.
func (f *yamlFile) appendDoc(text []byte) []byte {
	if len(bytes.TrimSpace(f.Data)) == 0 {
		return text
	}
	out := append([]byte{}, f.Data...)
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	out = append(out, "---\n"...)
	return append(out, text...)
}

// remove returns the file's bytes without doc and one separator next to it.
// A file header (leading comment lines followed by a blank line) is kept.
func (f *yamlFile) remove(doc *yamlDoc) []byte {
	header := fileHeader(f.Data[doc.Start:doc.End])
	var cutStart, cutEnd int
	switch {
	case doc.SepStart >= 0:
		cutStart, cutEnd = doc.SepStart, doc.End
		header = nil // a header belongs to the first document only
	default:
		cutStart, cutEnd = doc.Start, doc.End
		for i, d := range f.Docs {
			if d == doc && i+1 < len(f.Docs) {
				cutEnd = f.Docs[i+1].Start // also drop the next separator
			}
		}
	}
	out := make([]byte, 0, len(f.Data))
	out = append(out, f.Data[:cutStart]...)
	out = append(out, header...)
	return append(out, f.Data[cutEnd:]...)
}

// fileHeader returns the leading comment block of a document up to and
// including its last blank line, when the block is followed by content.
func fileHeader(doc []byte) []byte {
	lastBlank := -1
	for pos := 0; pos < len(doc); {
		next := len(doc)
		if i := bytes.IndexByte(doc[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		line := strings.TrimSpace(string(doc[pos:next]))
		switch {
		case line == "":
			lastBlank = next
		case strings.HasPrefix(line, "#"):
		default:
			if lastBlank < 0 {
				return nil
			}
			return doc[:lastBlank]
		}
		pos = next
	}
	return nil
}

// encodeDoc renders a document node with the indentation its text used.
func encodeDoc(n *yaml.Node, indent int) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(indent)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// detectIndent returns the indentation of the first nested key in text (2 when unknown).
func detectIndent(text []byte) int {
	for _, line := range strings.Split(string(text), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if n := len(line) - len(trimmed); n > 0 && trimmed != "" && !strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, "- ") {
			if n >= 2 && n <= 8 {
				return n
			}
			return 2
		}
	}
	return 2
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers see the old or the new file, never half.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after a successful rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(name, path)
}

// --- node helpers ---

// lookup returns the value node at a path of mapping keys, or nil.
func lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// scalarAt returns the scalar at a path, or "".
func scalarAt(n *yaml.Node, path ...string) string {
	v := lookup(n, path...)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return ""
	}
	return v.Value
}

// stringMapAt returns the string map at a path.
func stringMapAt(n *yaml.Node, path ...string) map[string]string {
	v := lookup(n, path...)
	if v == nil || v.Kind != yaml.MappingNode {
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		out[v.Content[i].Value] = v.Content[i+1].Value
	}
	return out
}

// ensureMap returns the mapping under key in m, creating it (in m's style)
// when missing or not a mapping.
func ensureMap(m *yaml.Node, key string) *yaml.Node {
	if v := lookup(m, key); v != nil && v.Kind == yaml.MappingNode {
		return v
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: m.Style & yaml.FlowStyle}
	setNode(m, key, v)
	return v
}

// setNode sets key to value in m, keeping the key's position and comments.
func setNode(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			old := m.Content[i+1]
			value.LineComment, value.FootComment = old.LineComment, old.FootComment
			if value.HeadComment == "" {
				value.HeadComment = old.HeadComment
			}
			m.Content[i+1] = value
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, value)
}

// setScalar sets key to a scalar, keeping an existing scalar's style and comments.
func setScalar(m *yaml.Node, key, value, tag string) {
	if v := lookup(m, key); v != nil && v.Kind == yaml.ScalarNode {
		if v.Value == value && v.Tag == tag {
			return
		}
		v.Value, v.Tag = value, tag
		if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			v.Style = 0
		}
		return
	}
	setNode(m, key, &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value})
}

// setString sets key to value, or deletes it when value is "".
func setString(m *yaml.Node, key, value string) {
	if value == "" {
		deleteKey(m, key)
		return
	}
	setScalar(m, key, value, "!!str")
}

// deleteKey removes key from m.
func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// deleteIfEmpty removes key from m when its value is an empty mapping.
func deleteIfEmpty(m *yaml.Node, key string) {
	if v := lookup(m, key); v != nil && v.Kind == yaml.MappingNode && len(v.Content) == 0 {
		deleteKey(m, key)
	}
}

// placeKey moves key, just appended to m, before the first key that comes
// after it in order, so that a new key lands where a reader expects it.
func placeKey(m *yaml.Node, key string, order []string) {
	rank := func(k string) int {
		for i, o := range order {
			if o == k {
				return i
			}
		}
		return len(order)
	}
	idx := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			idx = i
		}
	}
	if idx < 0 {
		return
	}
	want := rank(key)
	for i := 0; i < idx; i += 2 {
		if rank(m.Content[i].Value) > want {
			pair := []*yaml.Node{m.Content[idx], m.Content[idx+1]}
			rest := append([]*yaml.Node{}, m.Content[i:idx]...)
			m.Content = append(append(append(m.Content[:i], pair...), rest...), m.Content[idx+2:]...)
			return
		}
	}
}
