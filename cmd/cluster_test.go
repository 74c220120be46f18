package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// gatefed runs the CLI in-process and returns its exit status and output.
func gatefed(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	code := cmd.Main(args, streams)
	return code, out.String(), errOut.String()
}

const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:1"}
- name: b
  cluster: {server: "https://127.0.0.1:2"}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: b, user: u}
users:
- name: u
  user: {token: secret}
`

const oneCluster = `# the fleet
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: us-east}
spec:
  context: ctx-a   # primary
  gateway: {provider: gloo}
`

// Bad input is reported before anything is done: a clear message, exit
// status 2, nothing on stdout, and the fleet file byte for byte as it was.
func TestClusterRegisterBadInput(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	garbled := filepath.Join(dir, "garbled.kubeconfig")
	fleetDir := filepath.Join(dir, "fleet")
	fleetFile := filepath.Join(fleetDir, "clusters.yaml")
	for path, data := range map[string]string{kubeconfig: unreachableKubeconfig, garbled: "clusters: [unterminated\n", fleetFile: oneCluster} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, ".config"))
	t.Setenv("KUBECONFIG", kubeconfig)
	base := []string{"-f", fleetDir, "cluster", "register"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown context", []string{"eu-west", "--context", "ctx-aa", "--provider", "gloo"},
			`Error: context "ctx-aa" not found in kubeconfig ` + kubeconfig + ` (did you mean "ctx-a"?) (known contexts: ctx-a, ctx-b)`},
		{"missing kubeconfig", []string{"eu-west", "--context", "ctx-b", "--provider", "gloo", "--kubeconfig", filepath.Join(dir, "nope")},
			"Error: kubeconfig " + filepath.Join(dir, "nope") + ": cannot read it: no such file or directory"},
		{"unreadable kubeconfig", []string{"eu-west", "--context", "ctx-b", "--provider", "gloo", "--kubeconfig", dir},
			"Error: kubeconfig " + dir + ": cannot read it: is a directory"},
		{"garbled kubeconfig", []string{"eu-west", "--context", "ctx-b", "--provider", "gloo", "--kubeconfig", garbled},
			"Error: kubeconfig " + garbled + ": "},
		{"invalid name", []string{"EU_west", "--context", "ctx-b", "--provider", "gloo"},
			`Error: invalid cluster name "EU_west": a lowercase RFC 1123 label must consist of lower case alphanumeric characters`},
		{"duplicate server", []string{"us-east-2", "--context", "ctx-a", "--provider", "gloo"},
			`Error: API server https://127.0.0.1:1 is already registered as cluster "us-east" (` + fleetFile + `:2): one cluster, one name; pass --force to register it under a second name`},
		{"unknown provider", []string{"eu-west", "--context", "ctx-b", "--provider", "envoy"},
			`Error: unknown provider "envoy" (want gloo, envoy-gateway or istio)`},
		{"no provider", []string{"eu-west", "--context", "ctx-b"},
			`Error: --provider is required for a new cluster (want gloo, envoy-gateway or istio)`},
		{"bad label", []string{"eu-west", "--context", "ctx-b", "--provider", "gloo", "--label", "env"},
			`Error: invalid label "env": want key=value (or key- to remove it)`},
		{"bad label key", []string{"eu-west", "--context", "ctx-b", "--provider", "gloo", "--label", "-env=prod"},
			`Error: invalid label "-env=prod": key: name part must consist of alphanumeric characters`},
		{"zone without region", []string{"eu-west", "--context", "ctx-b", "--provider", "gloo", "--zone", "a"},
			`Error: a zone needs a region: pass --region`},
		{"bad failover address", []string{"eu-west", "--context", "ctx-b", "--provider", "gloo", "--failover-address", "eu.example.net:0"},
			`Error: invalid failover address "eu.example.net:0": port "0" is not in 1-65535`},
		{"short token", []string{"eu-west", "--context", "ctx-b", "--provider", "gloo", "--service-account", "--token-ttl", "1m"},
			`Error: invalid --token-ttl 1m0s: the TokenRequest API needs at least 10m0s`},
		{"no name", []string{"--context", "ctx-b"},
			`Error: gatefed cluster register takes NAME (got 0 arguments)`},
		{"unreachable cluster", []string{"eu-west", "--context", "ctx-b", "--provider", "gloo", "--timeout", "2s"},
			`Error: cannot reach cluster eu-west at https://127.0.0.1:2 (context ctx-b) within 2s`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := readBytes(t, fleetFile)
			code, stdout, stderr := gatefed(t, append(append([]string{}, base...), tc.args...)...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.HasPrefix(stderr, tc.want) {
				t.Errorf("stderr:\n%s\nwant it to start with:\n%s", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if after := readBytes(t, fleetFile); !bytes.Equal(before, after) {
				t.Errorf("the fleet file changed:\n%s", after)
			}
			if entries, _ := os.ReadDir(fleetDir); len(entries) != 1 {
				t.Errorf("files appeared in the fleet directory: %v", entries)
			}
		})
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The commands as a user types them, against two real API servers: register
// by context, with a service account, list while both answer and while one
// is stopped, show, and deregister --purge.
func TestClusterCommandsOnRealClusters(t *testing.T) {
	fl := testfleet.StartT(t, localfleet.Options{Count: 2})
	dir := t.TempDir()
	config := filepath.Join(dir, ".config")
	t.Setenv("XDG_CONFIG_HOME", config)
	t.Setenv("KUBECONFIG", filepath.Join(dir, "no-kubeconfig"))
	fleetDir := filepath.Join(dir, "fleet")
	if err := os.Mkdir(fleetDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cs, err := fl.Cluster("c2").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "envoy-gateway-system"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return gatefed(t, append([]string{"-f", fleetDir, "--kubeconfig", fl.Kubeconfig}, args...)...)
	}
	mustRun := func(args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := g(args...)
		if code != 0 {
			t.Fatalf("gatefed %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout, stderr
	}

	stdout, stderr := mustRun("cluster", "register", "east", "--context", "c1", "--provider", "gloo", "--region", "us-east-1", "--failover-address", "203.0.113.10")
	c1, c2 := fl.Cluster("c1"), fl.Cluster("c2")
	if want := "registered cluster east in " + filepath.Join(fleetDir, "clusters.yaml") + " (context c1, server " + c1.URL + ", " + localfleet.KubeVersion + ")\n"; stdout != want {
		t.Fatalf("stdout %q, want %q", stdout, want)
	}
	// c1 has every CRD but no Gloo install: only the facts read from the
	// install are missing, each named once.
	wantWarnings := "IP families not recorded: read Service gloo-system/gateway-proxy: services \"gateway-proxy\" not found\n" +
		"Gloo version not recorded: read Deployment gloo-system/gloo: deployments.apps \"gloo\" not found\n"
	if stderr != wantWarnings {
		t.Fatalf("stderr %q, want %q", stderr, wantWarnings)
	}
	stdout, stderr = mustRun("cluster", "register", "west", "--context", "c2", "--provider", "envoy-gateway", "--service-account", "--token-ttl", "1h")
	credentials := filepath.Join(config, "gatefed", "clusters", "west.kubeconfig")
	if !strings.Contains(stdout, "service account gatefed-system/gatefed-west: kubeconfig "+credentials+" (token expires ") ||
		!strings.Contains(stdout, "  applied ClusterRole gatefed:west\n") {
		t.Fatalf("stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "cluster west is not a failover target: no Service in envoy-gateway-system has a port named failover") {
		t.Fatalf("stderr:\n%s", stderr)
	}
	if st, err := os.Stat(credentials); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials %s: %v %v", credentials, st, err)
	}

	stdout, _ = mustRun("cluster", "list")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || lines[0] != "NAME\tCONTEXT\tPROVIDER\tREGION/ZONE\tFAILOVER\tREACHABLE\tVERSION\tLATENCY" ||
		!strings.HasPrefix(lines[1], "east\tc1\tgloo\tus-east-1\t203.0.113.10:15443\ttrue\t"+localfleet.KubeVersion+"\t") ||
		!strings.HasPrefix(lines[2], "west\twest\tenvoy-gateway\t-\t-\ttrue\t"+localfleet.KubeVersion+"\t") {
		t.Fatalf("list:\n%s", stdout)
	}

	if err := fl.StopCluster("c2"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := g("cluster", "list", "--timeout", "2s")
	if code != 0 || !strings.Contains(stdout, "\nwest\twest\tenvoy-gateway\t-\t-\tfalse\t-\t-\n") || !strings.HasPrefix(stderr, "cluster west: ") {
		t.Fatalf("list with c2 stopped: exit %d\n%s%s", code, stdout, stderr)
	}
	_, stdout, _ = g("cluster", "list", "-o", "json", "--timeout", "2s")
	var listed struct {
		Clusters []struct {
			Name      string `json:"name"`
			Reachable bool   `json:"reachable"`
			Server    string `json:"server"`
			Error     string `json:"error"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(stdout), &listed); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, stdout)
	}
	if len(listed.Clusters) != 2 || !listed.Clusters[0].Reachable || listed.Clusters[1].Reachable || listed.Clusters[1].Server != c2.URL || listed.Clusters[1].Error == "" {
		t.Fatalf("list -o json: %+v", listed)
	}
	stdout, _ = mustRun("cluster", "list", "--offline")
	if !strings.Contains(stdout, "\nwest\twest\tenvoy-gateway\t-\t-\t-\t-\t-\n") {
		t.Fatalf("list --offline:\n%s", stdout)
	}

	stdout, _ = mustRun("cluster", "show", "west")
	for _, want := range []string{"# " + filepath.Join(fleetDir, "clusters.yaml") + ":", "# server " + c2.URL + "\n", "kubeconfig: " + credentials, "gatefed.dev/admin-context: c2", "className: eg"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("show west: no %q in\n%s", want, stdout)
		}
	}

	// Purge needs the cluster: with it stopped, the document stays.
	code, _, stderr = g("cluster", "deregister", "west", "--purge", "--timeout", "2s")
	if code != 2 || !strings.Contains(stderr, "the Cluster document was kept") {
		t.Fatalf("purge of a stopped cluster: exit %d, %s", code, stderr)
	}
	if err := fl.StartCluster(context.Background(), "c2"); err != nil {
		t.Fatal(err)
	}
	stdout, _ = mustRun("cluster", "deregister", "west", "--purge")
	want := `deleted ClusterRoleBinding gatefed:west
deleted ClusterRole gatefed:west
deleted RoleBinding envoy-gateway-system/gatefed:west
deleted Role envoy-gateway-system/gatefed:west
deleted ServiceAccount gatefed-system/gatefed-west
deleted Namespace gatefed-system
removed ` + credentials + `
deregistered cluster west from ` + filepath.Join(fleetDir, "clusters.yaml") + "\n"
	if stdout != want {
		t.Fatalf("deregister --purge:\n%s\nwant:\n%s", stdout, want)
	}
	if _, err := os.Stat(credentials); !os.IsNotExist(err) {
		t.Fatalf("credentials still there: %v", err)
	}
	stdout, _ = mustRun("cluster", "list", "--offline")
	if strings.Contains(stdout, "west") || !strings.Contains(stdout, "east") {
		t.Fatalf("after deregister:\n%s", stdout)
	}
}
