// Package fleettest builds fleets for tests: Cluster, GlobalService and
// GlobalRoute documents as YAML, loaded through fleet.Load from a file so
// that every object carries its FILE:LINE, and typed objects with the
// loader's defaults for tests that build a *fleet.Fleet directly.
//
// Only tests import it (a test in this package enforces that).
package fleettest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
)

// FileName is the name of the file Write and Load write the fleet to.
const FileName = "fleet.yaml"

// Doc is one YAML document of a fleet.
type Doc interface{ YAML() string }

// Raw is a document written out by hand.
type Raw string

// YAML returns the document's text.
func (r Raw) YAML() string { return strings.Trim(string(r), "\n") + "\n" }

// YAML joins documents into one fleet text, separated by "---".
func YAML(docs ...Doc) string {
	parts := make([]string, len(docs))
	for i, d := range docs {
		parts[i] = d.YAML()
	}
	return strings.Join(parts, "---\n")
}

// Write writes the fleet text to dir/fleet.yaml (0600) and returns its path.
func Write(t testing.TB, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Dir writes the fleet text to a new temporary directory and returns it.
func Dir(t testing.TB, text string) string {
	t.Helper()
	dir := t.TempDir()
	Write(t, dir, text)
	return dir
}

// Load writes the fleet text to a temporary fleet.yaml and loads it, so that
// objects and errors carry that file's name and lines. It fails the test
// when the fleet does not load.
func Load(t testing.TB, text string) *fleet.Fleet {
	t.Helper()
	return LoadDir(t, Dir(t, text))
}

// LoadDir loads every fleet file of dir (or one file), failing the test on error.
func LoadDir(t testing.TB, path string) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Load([]string{path}, nil)
	if err != nil {
		t.Fatalf("load fleet %s: %v", path, err)
	}
	return f
}

// LoadError loads the fleet text as Load does and returns the loader's
// error, failing the test when there is none.
func LoadError(t testing.TB, text string) error {
	t.Helper()
	_, err := fleet.Load([]string{Dir(t, text)}, nil)
	if err == nil {
		t.Fatalf("the fleet loaded, want an error:\n%s", text)
	}
	return err
}
