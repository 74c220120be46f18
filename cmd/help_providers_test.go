package cmd_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// Every help text that speaks of providers, and the docs, name each provider
// the fleet accepts: the registered ones, not a copy of the list.
func TestHelpNamesEveryProvider(t *testing.T) {
	providers := provider.Names()
	if len(providers) == 0 {
		t.Fatal("no provider registered")
	}
	streams, _, _, _ := iostreams.Test()
	root := cmd.NewRootCmd(streams)
	for _, path := range [][]string{{}, {"render"}, {"check"}, {"apply"}, {"cluster", "register"}, {"demo"}, {"init"}} {
		c, _, err := root.Find(path)
		if err != nil || (len(path) > 0 && c.Name() != path[len(path)-1]) {
			t.Errorf("no command %q: %v", strings.Join(path, " "), err)
			continue
		}
		text := c.Use + "\n" + c.Long
		for _, p := range providers {
			if !regexp.MustCompile(`(^|[^-\w])` + regexp.QuoteMeta(p) + `([^-\w]|$)`).MatchString(text) {
				t.Errorf("gatefed %s --help does not name provider %s", strings.Join(path, " "), p)
			}
		}
	}
	for _, doc := range []string{"README.md", "docs/policy.md", "docs/gitops.md", "docs/explain.md", "docs/apply.md"} {
		data, err := os.ReadFile("../" + doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range providers {
			if !strings.Contains(string(data), "`"+p+"`") {
				t.Errorf("%s does not name provider `%s`", doc, p)
			}
		}
	}
}

// apply --help and docs/apply.md list the apply phases render.KindRank gives.
func TestApplyPhasesAreListed(t *testing.T) {
	var want []string
	for i, kinds := range render.ApplyPhases() {
		want = append(want, fmt.Sprintf("%d. %s", i+1, strings.Join(kinds, ", ")))
	}
	streams, _, _, _ := iostreams.Test()
	c, _, err := cmd.NewRootCmd(streams).Find([]string{"apply"})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range want {
		if !strings.Contains(c.Long, "  "+line+"\n") {
			t.Errorf("apply --help lacks phase %q", line)
		}
	}
	data, err := os.ReadFile("../docs/apply.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(data), "<!-- phases: generated from render.KindRank; cmd tests check this list -->\n")
	listed, _, found := strings.Cut(rest, "<!-- end phases -->")
	if !found || strings.TrimSpace(listed) != strings.Join(want, "\n") {
		t.Errorf("docs/apply.md phases:\n%s\nwant:\n%s", listed, strings.Join(want, "\n"))
	}
}
