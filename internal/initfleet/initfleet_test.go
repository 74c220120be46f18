package initfleet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/providers"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/render/istio"
)

// TestMain registers the providers gatefed is built with, as the binary does.
func TestMain(m *testing.M) {
	providers.Register()
	os.Exit(m.Run())
}

// The starter validates as written whatever clusters are registered: none,
// one, several without labels or failover addresses, with mixed labels.
func TestStarterValidatesForAnyRegisteredClusters(t *testing.T) {
	cluster := func(name, provider, failover string, labels map[string]string) *fleet.Cluster {
		c := &fleet.Cluster{Metadata: fleet.ObjectMeta{Name: name, Labels: labels}, Spec: fleet.ClusterSpec{Gateway: fleet.GatewaySpec{Provider: provider}}}
		if failover != "" {
			c.Spec.Failover = &fleet.ClusterFailover{Address: failover}
		}
		return c
	}
	cases := map[string][]*fleet.Cluster{
		"none":           nil,
		"one":            {cluster("a", gloo.Name, "", nil)},
		"no failover":    {cluster("a", gloo.Name, "", nil), cluster("b", istio.Name, "", nil), cluster("c", envoygateway.Name, "", nil)},
		"one target":     {cluster("a", gloo.Name, "", nil), cluster("b", envoygateway.Name, "", nil), cluster("c", istio.Name, "203.0.113.3", nil)},
		"mixed labels":   {cluster("a", gloo.Name, "203.0.113.1", map[string]string{"env": "prod", "team": "x"}), cluster("b", gloo.Name, "203.0.113.2", map[string]string{"env": "dev"})},
		"a shared label": {cluster("a", gloo.Name, "203.0.113.1", map[string]string{"tier": "web"}), cluster("b", istio.Name, "203.0.113.2", map[string]string{"tier": "web"})},
	}
	for name, clusters := range cases {
		dir := t.TempDir()
		text := Starter(clusters)
		var docs strings.Builder
		for _, c := range clusters {
			docs.WriteString(clusterDoc(c))
		}
		docs.WriteString(text)
		if err := os.WriteFile(filepath.Join(dir, "fleet.yaml"), []byte(docs.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := fleet.Load([]string{dir}, nil)
		if err != nil {
			t.Errorf("%s: the starter does not validate:\n%v\n%s", name, err, docs.String())
			continue
		}
		if len(f.Services) != 4 || len(f.Routes) != 1 || (len(clusters) == 0 && len(f.Clusters) != 3) {
			t.Errorf("%s: %d clusters, %d services, %d routes", name, len(f.Clusters), len(f.Services), len(f.Routes))
		}
	}
}

func clusterDoc(c *fleet.Cluster) string {
	var b strings.Builder
	b.WriteString("---\napiVersion: " + fleet.APIVersion + "\nkind: Cluster\nmetadata:\n  name: " + c.Name() + "\n")
	if len(c.Metadata.Labels) > 0 {
		b.WriteString("  labels:\n")
		for k, v := range c.Metadata.Labels {
			b.WriteString("    " + k + ": " + v + "\n")
		}
	}
	b.WriteString("spec:\n  gateway: {provider: " + c.Spec.Gateway.Provider + "}\n")
	if c.Spec.Failover != nil {
		b.WriteString("  failover: {address: " + c.Spec.Failover.Address + "}\n")
	}
	return b.String()
}
