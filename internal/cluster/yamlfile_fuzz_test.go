package cluster

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// editorSeeds are fleet files register may find: the hand-written test
// file, the example fleets, and files with only comments, blank lines,
// separators, odd line ends or no final newline.
func editorSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{
		[]byte(threeDocs),
		nil,
		[]byte("\n"),
		[]byte("# clusters go here\n"),
		[]byte("# header\n\n# attached\n"),
		[]byte("---\n"),
		[]byte("---\n# only a comment\n---\n"),
		[]byte("a: 1"),
		[]byte("a: 1\r\n---\r\nb: 2\r\n"),
		[]byte("a: 1\n...\n"),
		[]byte("a: |\n  text\n  ---\n"),
		[]byte("apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: b}\nspec: {gateway: {provider: gloo}}"),
		[]byte("apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: a}\nspec: {gateway: {provider: gloo}}\n"),
		[]byte("--- # first\nkey: value\n---\t\n"),
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "fleets", "*", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

// registered is data after register has appended a new Cluster document
// and deregister has removed it again. The editor keeps every byte, except
// for two normalisations it makes on purpose:
//   - a file of only blank space comes back empty (register writes a new
//     document at the top of such a file, not after its blank lines);
//   - a file whose last line has no newline gets one (the new document
//     starts on a line of its own, and the newline stays).
func registered(data []byte) []byte {
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return []byte{}
	case !bytes.HasSuffix(data, []byte("\n")):
		return append(append([]byte{}, data...), '\n')
	}
	return data
}

// FuzzRegisterDeregister registers a new cluster into any fleet file the
// editor accepts, then deregisters it: the file must read back with the new
// document, and removing it must give the file back as registered() says.
func FuzzRegisterDeregister(f *testing.F) {
	for _, s := range editorSeeds(f) {
		f.Add(s, "new-cluster", "ctx", "eu-west-1", true, uint16(0))
		f.Add(s, "a", "", "", false, uint16(15443))
	}
	f.Fuzz(func(t *testing.T, data []byte, name, context, region string, gloo bool, port uint16) {
		file := &yamlFile{Path: "fleet.yaml", Data: data, Mode: 0o644, Exists: true}
		if err := file.split(); err != nil {
			return // register refuses the file as it is
		}
		if validateName(name) != nil || file.findCluster(name) != nil {
			return // register refuses the name, or edits the document in place
		}
		e := docEdit{Name: name, Context: context, Region: region, Provider: "envoy-gateway"}
		if gloo {
			e.Provider = "gloo"
		}
		if port != 0 {
			e.Failover = &Failover{Address: "failover.example.net", Port: int32(port)}
		}
		text, err := e.render(file, nil)
		if err != nil {
			if !utf8.ValidString(context) || !utf8.ValidString(region) {
				return // the YAML encoder refuses it: register fails and writes nothing
			}
			t.Fatalf("render a new document: %v", err)
		}
		withCluster := file.appendDoc(text)

		after := &yamlFile{Path: "fleet.yaml", Data: withCluster, Mode: 0o644, Exists: true}
		if err := after.split(); err != nil {
			t.Fatalf("the registered file does not read back: %v\n%q", err, withCluster)
		}
		doc := after.findCluster(name)
		if doc == nil {
			t.Fatalf("the registered file has no cluster %q:\n%q", name, withCluster)
		}
		if got := scalarAt(doc.Root(), "spec", "context"); got != context {
			t.Fatalf("context reads back as %q, want %q", got, context)
		}
		removed := after.remove(doc)
		if want := registered(data); !bytes.Equal(removed, want) {
			t.Fatalf("register then deregister changed the file:\nbefore %q\nafter  %q\nwith the cluster %q", data, removed, withCluster)
		}
	})
}
