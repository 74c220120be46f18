package testfleet

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Only tests import testfleet, and the gatefed binary links no test code:
// neither this package nor the standard library's testing.
func TestOnlyTestsImportIt(t *testing.T) {
	const self = "github.com/gatefed/gatefed/internal/testfleet"
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// go list without -test reads non-test files only.
	imports := goList(t, root, "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...")
	if len(imports) < 20 {
		t.Fatalf("go list saw only %d packages", len(imports))
	}
	for _, line := range imports {
		pkg, deps, _ := strings.Cut(line, " ")
		if pkg != self && strings.Contains(" "+deps+" ", " "+self+" ") {
			t.Errorf("%s imports %s in a non-test file; only tests may", pkg, self)
		}
	}
	deps := goList(t, root, "-deps", "./cmd/gatefed")
	for _, d := range deps {
		if d == "testing" || d == self {
			t.Errorf("gatefed links %s (go list -deps ./cmd/gatefed)", d)
		}
	}
	if len(deps) < 100 {
		t.Fatalf("go list -deps ./cmd/gatefed listed only %d packages", len(deps))
	}
}

func goList(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
