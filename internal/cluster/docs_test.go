package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/provider"
)

// docs/clusters.md lists the RBAC rules register creates, exactly.
func TestDocsListTheRBACRules(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "clusters.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range provider.Names() {
		block := "```yaml\n" + RulesYAML(p) + "```\n"
		if !strings.Contains(string(data), p+":\n\n"+block) {
			t.Errorf("docs/clusters.md does not list the %s rules as register creates them:\n%s", p, block)
		}
	}
}
