package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const threeDocs = `# Fleet clusters: a header the file keeps.

# us-east is the primary.
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata:
  name: us-east   # primary
spec:
  gateway: {provider: gloo}
---
# a service between the clusters
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: checkout, namespace: shop}
spec:
    port: 8080     # odd indentation, kept byte for byte
--- # eu
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: eu-west}
spec:
  gateway: {provider: envoy-gateway}
`

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSplitFindsDocumentsAndLines(t *testing.T) {
	f, err := readYAMLFile(writeTemp(t, "f.yaml", threeDocs))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Docs) != 3 {
		t.Fatalf("got %d documents, want 3", len(f.Docs))
	}
	eu := f.findCluster("eu-west")
	if eu == nil || eu.Line() != 18 {
		t.Fatalf("eu-west: got %+v, want its document at line 18", eu)
	}
	if us := f.findCluster("us-east"); us == nil || us.Line() != 4 {
		t.Fatalf("us-east: want line 4")
	}
	if f.findCluster("checkout") != nil {
		t.Fatal("a GlobalService is not a Cluster")
	}
}

func TestRemoveKeepsOtherBytes(t *testing.T) {
	f, err := readYAMLFile(writeTemp(t, "f.yaml", threeDocs))
	if err != nil {
		t.Fatal(err)
	}
	// The last document goes with the separator before it.
	got := string(f.remove(f.findCluster("eu-west")))
	want := threeDocs[:strings.Index(threeDocs, "--- # eu")]
	if got != want {
		t.Fatalf("remove eu-west:\n%s\nwant:\n%s", got, want)
	}
	// The first document goes with the separator after it; the file header stays.
	got = string(f.remove(f.findCluster("us-east")))
	want = "# Fleet clusters: a header the file keeps.\n\n" + threeDocs[strings.Index(threeDocs, "# a service"):]
	if got != want {
		t.Fatalf("remove us-east:\n%s\nwant:\n%s", got, want)
	}
}

func TestEditKeepsCommentsAndOtherDocuments(t *testing.T) {
	path := writeTemp(t, "f.yaml", threeDocs)
	f, err := readYAMLFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.findCluster("eu-west")
	e := docEdit{Name: "eu-west", Context: "eu", Region: "eu-west-1", Provider: "envoy-gateway",
		Failover: &Failover{Address: "eu.example.net", Port: 15443}, Labels: []labelOp{{Key: "env", Value: "prod"}}}
	text, err := e.render(f, doc)
	if err != nil {
		t.Fatal(err)
	}
	got := string(f.replace(doc, text))
	wantDoc := `apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: eu-west, labels: {env: prod}}
spec:
  context: eu
  region: eu-west-1
  gateway: {provider: envoy-gateway}
  failover:
    address: eu.example.net
    port: 15443
`
	want := threeDocs[:strings.Index(threeDocs, "--- # eu")] + "--- # eu\n" + wantDoc
	if got != want {
		t.Fatalf("edit:\n%s\nwant:\n%s", got, want)
	}
}

func TestAppendToEmptyAndCommentOnlyFiles(t *testing.T) {
	e := docEdit{Name: "a", Context: "ctx", Provider: "gloo"}
	newDoc := "apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: a\nspec:\n  context: ctx\n  gateway:\n    provider: gloo\n"
	for _, tc := range []struct{ name, before, after string }{
		{"missing", "", newDoc},
		{"empty", "\n", newDoc},
		{"comments only", "# clusters go here\n", "# clusters go here\n---\n" + newDoc},
		{"one document", "apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: b}\nspec: {gateway: {provider: gloo}}",
			"apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: b}\nspec: {gateway: {provider: gloo}}\n---\n" + newDoc},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if tc.name != "missing" {
				if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := readYAMLFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text, err := e.render(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(f.appendDoc(text)); got != tc.after {
				t.Fatalf("got:\n%q\nwant:\n%q", got, tc.after)
			}
		})
	}
}

func TestUnsafeSeparatorIsRefused(t *testing.T) {
	_, err := readYAMLFile(writeTemp(t, "f.yaml", "a: 1\n--- {kind: Cluster}\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v, want an error naming line 2", err)
	}
}

func TestInvalidYAMLNamesFileLine(t *testing.T) {
	_, err := readYAMLFile(writeTemp(t, "f.yaml", "a: 1\n---\nb: [\n"))
	if err == nil || !strings.Contains(err.Error(), "f.yaml: line 3") {
		t.Fatalf("got %v, want the file line of the error", err)
	}
}

func TestWriteFileAtomicKeepsMode(t *testing.T) {
	path := writeTemp(t, "f.yaml", "x: 1\n")
	if err := writeFileAtomic(path, []byte("x: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestParseFailoverAddress(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.10":          "203.0.113.10:0",
		"eu.example.net:15443":  "eu.example.net:15443",
		"[2001:db8::1]:443":     "[2001:db8::1]:443",
		"2001:db8::1":           "[2001:db8::1]:0",
		"bad_host!":             "error",
		"eu.example.net:70000":  "error",
		"eu.example.net:failov": "error",
	} {
		f, err := ParseFailoverAddress(in)
		got := "error"
		if err == nil {
			got = f.String()
		}
		if got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

func TestNormalizeServer(t *testing.T) {
	same := [][2]string{
		{"https://API.example.com", "https://api.example.com:443/"},
		{"https://127.0.0.1:6443", "https://127.0.0.1:6443"},
		{"http://h", "http://h:80"},
	}
	for _, p := range same {
		if NormalizeServer(p[0]) != NormalizeServer(p[1]) {
			t.Errorf("%s and %s should be the same server", p[0], p[1])
		}
	}
	if NormalizeServer("https://127.0.0.1:6443") == NormalizeServer("https://127.0.0.1:6444") {
		t.Error("different ports are different servers")
	}
}

func TestParseLabels(t *testing.T) {
	ops, err := parseLabels([]string{"env=prod", "tier-", "example.com/team=gw"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 || ops[0].Value != "prod" || !ops[1].Remove || ops[2].Key != "example.com/team" {
		t.Fatalf("got %+v", ops)
	}
	for _, bad := range []string{"novalue", "a=b=c", "-x=1", "k=" + strings.Repeat("v", 64)} {
		if _, err := parseLabels([]string{bad}); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}
