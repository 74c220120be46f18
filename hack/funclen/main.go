// Command funclen lists the functions (and function literals) of non-test
// Go files that are longer than a limit, longest first, and exits 1 when
// there is one. Functions stay short: the limit is 120 lines.
//
// Usage: go run ./hack/funclen [-max 120] [DIR]
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type long struct {
	pos   string
	name  string
	lines int
}

func main() {
	limit := flag.Int("max", 120, "longest function allowed, in lines")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	found, err := scan(root, *limit)
	if err != nil {
		fmt.Fprintln(os.Stderr, "funclen:", err)
		os.Exit(2)
	}
	for _, f := range found {
		fmt.Printf("%4d %s %s\n", f.lines, f.pos, f.name)
	}
	if len(found) > 0 {
		os.Exit(1)
	}
}

// scan parses every non-test Go file below root (skipping testdata and
// hidden directories) and returns the functions longer than limit.
func scan(root string, limit int) ([]long, error) {
	fset := token.NewFileSet()
	var out []long
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			name, body := funcOf(n)
			if body == nil {
				return true
			}
			start := fset.Position(n.Pos())
			if lines := fset.Position(body.End()).Line - start.Line + 1; lines > limit {
				out = append(out, long{fmt.Sprintf("%s:%d", p, start.Line), name, lines})
			}
			return true
		})
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].lines > out[j].lines })
	return out, err
}

// funcOf names a function declaration or literal and returns its body.
func funcOf(n ast.Node) (string, *ast.BlockStmt) {
	switch d := n.(type) {
	case *ast.FuncDecl:
		if d.Recv != nil && len(d.Recv.List) > 0 {
			return fmt.Sprintf("(%s).%s", types(d.Recv.List[0].Type), d.Name.Name), d.Body
		}
		return d.Name.Name, d.Body
	case *ast.FuncLit:
		return "func literal", d.Body
	}
	return "", nil
}

// types prints a receiver type: T, *T or T[...].
func types(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return "*" + types(t.X)
	case *ast.Ident:
		return t.Name
	case *ast.IndexExpr:
		return types(t.X)
	case *ast.IndexListExpr:
		return types(t.X)
	}
	return "?"
}
