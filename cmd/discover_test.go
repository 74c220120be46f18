package cmd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// discoverFleet: a (gloo) and b (envoy-gateway) run real API servers;
// checkout runs in a only, and c is placed but cannot be reached.
func discoverFleet(kubeconfig, unreachable, ns string) string {
	return fleettest.YAML(
		fleettest.Cluster("a", "gloo").Kubeconfig(kubeconfig).Region("r1").Failover("192.0.2.1", 0),
		fleettest.Cluster("b", "envoy-gateway").Kubeconfig(kubeconfig).Region("r1").Failover("192.0.2.2", 0),
		fleettest.Cluster("c", "gloo").Kubeconfig(unreachable).Region("r2").Failover("192.0.2.3", 0),
		fleettest.Service(ns, "checkout", 8080).Ordered("b", "a", "c").HealthCheck(),
		fleettest.Route(ns, "web", "shop.example.com").On("a", "b").To("checkout"),
	)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runGatefed runs gatefed with "-f DIR/fleet.yaml" added.
func runGatefed(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	code = cmd.Main(append(args, "-f", filepath.Join(dir, fleettest.FileName)), streams)
	return code, out.String(), errOut.String()
}

// render, explain with --discover against real API servers: the summary
// and the exit statuses.
func TestDiscoverFlags(t *testing.T) {
	fl := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{{Name: "a"}, {Name: "b"}}, CRDs: localfleet.NoCRDs})
	ns := fl.Namespace(t, "shop")
	if err := fl.Cluster("a").Sim().Service(context.Background(), localfleet.Service{Namespace: ns, Name: "checkout", Ready: 1}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// c's kubeconfig names port 1, where nothing listens.
	unreachable := filepath.Join(dir, "unreachable.kubeconfig")
	writeFile(t, unreachable, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: c, user: {token: none}}]
contexts: [{name: c, context: {cluster: c, user: c}}]
`)
	fleettest.Write(t, dir, discoverFleet(fl.Kubeconfig, unreachable, ns))

	// c cannot be read: an error by default, nothing rendered.
	code, stdout, stderr := runGatefed(t, dir, "render", "--discover")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "Error: --discover: cannot read cluster c: ") {
		t.Errorf("unreachable, policy error: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// skip: c is left out as unreachable, b because checkout is not there.
	code, stdout, stderr = runGatefed(t, dir, "render", "--discover", "--discover-unreachable=skip", "-o", "json", "--skips-json", filepath.Join(dir, "skips.json"))
	if code != 0 {
		t.Fatalf("skip: exit %d: %s", code, stderr)
	}
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil || list.Kind != "List" || len(list.Items) == 0 {
		t.Errorf("-o json stdout is not a v1 List of objects: %v %.200s", err, stdout)
	}
	for _, want := range []string{
		"Warning: cannot read cluster c: ",
		"its services are treated as unavailable (--discover-unreachable=skip)\n",
		fmt.Sprintf("Skipped: cluster a: GlobalService %s/checkout: b (service %s/checkout not found), c (unreachable)\n", ns, ns),
		fmt.Sprintf("Skipped: cluster b: GlobalService %s/checkout: b (service %s/checkout not found), c (unreachable)\n", ns, ns),
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("skip: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, `"gatefed.dev/skipped-clusters"`) {
		t.Errorf("skip: no object carries the skipped-clusters annotation")
	}
	var skips struct {
		Skips []struct {
			Cluster, Service string
			Skipped          []struct{ Cluster, Reason string }
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "skips.json"))
	if err := json.Unmarshal(b, &skips); err != nil || len(skips.Skips) != 2 || skips.Skips[1].Cluster != "b" ||
		len(skips.Skips[1].Skipped) != 2 || skips.Skips[1].Skipped[1].Reason != "unreachable" {
		t.Errorf("skips.json: %v %s", err, b)
	}

	// keep: c is assumed to serve; only b is left out.
	code, _, stderr = runGatefed(t, dir, "render", "--discover", "--discover-unreachable=keep")
	want := fmt.Sprintf("Skipped: cluster b: GlobalService %s/checkout: b (service %s/checkout not found)\n", ns, ns)
	if code != 0 || !strings.Contains(stderr, want) || strings.Contains(stderr, "c (unreachable)") {
		t.Errorf("keep: exit %d, stderr %q", code, stderr)
	}

	// explain: from b, checkout is served by a; with a down too, an outage.
	code, stdout, stderr = runGatefed(t, dir, "explain", "--discover", "--discover-unreachable=skip", "--from", "b", "checkout")
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("b\t%s/checkout\tordered\tyes\ta\tb: service %s/checkout not found, c: unreachable\n", ns, ns)) {
		t.Errorf("explain: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runGatefed(t, dir, "explain", "--discover", "--down", "c", "--down", "a", "--from", "b")
	if code != 1 || !strings.Contains(stdout, "OUTAGE: from b: GlobalRoute "+ns+"/web rules[0]: "+ns+"/checkout has no cluster left: 100% of its requests fail with HTTP 500") {
		t.Errorf("explain outage: exit %d\n%s%s", code, stdout, stderr)
	}

	// Flag errors.
	code, _, stderr = runGatefed(t, dir, "render", "--discover", "--discover-unreachable=maybe")
	if code != 2 || !strings.Contains(stderr, `Error: --discover-unreachable "maybe": use error, skip, keep`) {
		t.Errorf("bad policy: exit %d, %q", code, stderr)
	}
	code, _, stderr = runGatefed(t, dir, "render", "--skips-json", filepath.Join(dir, "x.json"))
	if code != 2 || !strings.Contains(stderr, "Error: --skips-json needs --discover") {
		t.Errorf("--skips-json alone: exit %d, %q", code, stderr)
	}
}
