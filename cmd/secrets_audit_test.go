package cmd_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gatefed/gatefed/internal/testfleet"
)

// needles are the secrets an audit looks for, by a name that says what each
// is (the name, never the secret, goes into a failure).
type needles map[string][]byte

// addPEM adds a PEM document in the forms it could leak in: whole, base64
// as in a Secret's data, each full line of each block's body, the DER
// bytes and their hex.
func (n needles) addPEM(name string, data []byte) {
	n[name] = data
	n[name+" (base64)"] = []byte(base64.StdEncoding.EncodeToString(data))
	rest := data
	for i := 0; ; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n[fmt.Sprintf("%s block %d (DER)", name, i)] = block.Bytes
		n[fmt.Sprintf("%s block %d (hex)", name, i)] = []byte(hex.EncodeToString(block.Bytes))
		body := base64.StdEncoding.EncodeToString(block.Bytes)
		for j := 0; j+64 <= len(body); j += 64 {
			n[fmt.Sprintf("%s block %d line %d", name, i, j/64+1)] = []byte(body[j : j+64])
		}
	}
}

// addToken adds a bearer token, whole and its signature.
func (n needles) addToken(name, token string) {
	n[name] = []byte(token)
	if parts := strings.Split(token, "."); len(parts) == 3 && len(parts[2]) >= 16 {
		n[name+" (signature)"] = []byte(parts[2])
	}
}

// find names the needles in data.
func (n needles) find(data []byte, except ...string) []string {
	var out []string
	for name, needle := range n {
		if len(needle) > 0 && bytes.Contains(data, needle) && !contains(except, name) {
			out = append(out, name)
		}
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		out = append(out, `a "PRIVATE KEY" marker`)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Every command, run as a user runs it, against clusters that hold the
// Secrets gatefed refers to (the failover pair with real key material, a
// TLS Secret for a route): no key material and no token appears on stdout,
// on stderr or in any file gatefed writes. The service-account kubeconfig
// register writes holds its token, and is 0600 in a 0700 directory.
func TestSecretsStayOut(t *testing.T) {
	e := newFaultEnv(t, "audit")
	ctx := context.Background()
	e.env = append(e.env, "TMPDIR="+filepath.Join(e.dir, "tmp"))
	if err := os.Mkdir(filepath.Join(e.dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	ca, err := testfleet.NewCertAuthority("audit-failover")
	if err != nil {
		t.Fatal(err)
	}
	secrets := needles{}
	var created []*corev1.Secret
	for _, name := range []string{"c1", "c2"} {
		c := e.f.Cluster(name)
		pair, err := ca.FailoverSecrets(name, e.ff.gw, "*.failover.gatefed.internal")
		if err != nil {
			t.Fatal(err)
		}
		cert, key, err := ca.ServerCert("shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range append(pair, ca.TLSSecret(e.ff.gw, "shop-tls", cert, key)) {
			if _, err := cs.CoreV1().Secrets(e.ff.gw).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			created = append(created, s)
			for k, v := range s.Data {
				if k != "ca.crt" {
					secrets.addPEM(fmt.Sprintf("%s Secret %s key %s", name, s.Name, k), v)
				}
			}
		}
	}
	admin, err := clientcmd.LoadFromFile(e.f.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, ai := range admin.AuthInfos {
		secrets.addPEM("admin kubeconfig user "+name+" client key", ai.ClientKeyData)
	}

	// The audit finds what it looks for: a Secret as an API server shows it.
	shown, err := json.Marshal(created[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets.find(shown)) == 0 {
		t.Fatal("the audit does not find a Secret's key material in the Secret")
	}

	fleetDir := filepath.Join(e.dir, "fleet")
	if err := os.Mkdir(fleetDir, 0o755); err != nil {
		t.Fatal(err)
	}
	services := fmt.Sprintf(`apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: checkout, namespace: %[1]s}
spec:
  port: 8080
  healthCheck: {path: /healthz}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalRoute
metadata: {name: shop, namespace: %[1]s}
spec:
  hosts: [shop.example.com]
  tls: {secretName: shop-tls, httpsRedirect: true}
  rules:
  - backends: [{service: checkout}]
`, e.ff.a)
	if err := os.WriteFile(filepath.Join(fleetDir, "services.yaml"), []byte(services), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.f.Cluster("c1").Sim().Service(ctx, testfleet.Service{Namespace: e.ff.a, Name: "checkout", Port: 8080, Ready: 2}); err != nil {
		t.Fatal(err)
	}

	type run struct {
		args []string
		// codes are the exit statuses that are right.
		codes []int
	}
	g := func(codes []int, args ...string) run {
		return run{args: append([]string{"-f", fleetDir}, args...), codes: codes}
	}
	ok, found, ranOrFound := []int{0}, []int{1}, []int{0, 1}
	audit := func(r run) {
		t.Helper()
		code, stdout, stderr := e.run(e.f.Kubeconfig, r.args...)
		line := "gatefed " + strings.Join(r.args[2:], " ")
		if !intIn(r.codes, code) {
			t.Errorf("%s: exit %d, want one of %v\nstdout:\n%s\nstderr:\n%s", line, code, r.codes, stdout, stderr)
		}
		for _, out := range []struct{ name, text string }{{"stdout", stdout}, {"stderr", stderr}} {
			if leaks := secrets.find([]byte(out.text)); len(leaks) > 0 {
				t.Errorf("%s: %s holds %s", line, out.name, strings.Join(leaks, ", "))
			}
		}
		t.Logf("%s: exit %d, %d bytes on stdout, %d on stderr", line, code, len(stdout), len(stderr))
	}

	// Registration: east with the admin's own context, west with a service
	// account of its own.
	audit(g(ok, "cluster", "register", "audit-east", "--context", "c1", "--provider", "gloo", "--region", "r1",
		"--gateway-namespace", e.ff.gw, "--failover-address", "127.0.0.1:1"))
	audit(g(ok, "cluster", "register", "audit-west", "--context", "c2", "--provider", "envoy-gateway", "--region", "r2",
		"--gateway-namespace", e.ff.gw, "--failover-address", "127.0.0.1:2", "--service-account", "--token-ttl", "1h"))
	clustersDir := filepath.Join(e.dir, ".config", "gatefed", "clusters")
	credentials := filepath.Join(clustersDir, "audit-west.kubeconfig")
	for path, want := range map[string]fs.FileMode{credentials: 0o600, clustersDir: 0o700 | fs.ModeDir} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode(), want)
		}
	}
	sa, err := clientcmd.LoadFromFile(credentials)
	if err != nil {
		t.Fatal(err)
	}
	for name, ai := range sa.AuthInfos {
		if ai.Token == "" {
			t.Fatalf("%s: user %s has no token", credentials, name)
		}
		secrets.addToken("service-account token of "+name, ai.Token)
	}
	if data := readBytes(t, credentials); len(secrets.find(data)) == 0 {
		t.Fatal("the audit does not find the token in the kubeconfig that holds it")
	}
	for name, c := range sa.Clusters {
		if c.InsecureSkipTLSVerify {
			t.Errorf("%s: cluster %s skips TLS verification; the admin kubeconfig does not", credentials, name)
		}
	}

	out := filepath.Join(e.dir, "out")
	for _, r := range []run{
		g(ok, "validate"),
		g(ok, "render"),
		g(ok, "render", "-o", "json"),
		g(ok, "render", "--out-dir", filepath.Join(out, "plain")),
		g(ok, "render", "--out-dir", filepath.Join(out, "argocd"), "--gitops", "argocd", "--gitops-repo", "https://git.example.com/gw.git", "--gitops-path-prefix", "manifests"),
		g(ok, "render", "--out-dir", filepath.Join(out, "flux"), "--gitops", "flux", "--gitops-path-prefix", "manifests"),
		g(ok, "render", "--discover", "--skips-json", filepath.Join(out, "skips.json")),
		g(ok, "cluster", "list"),
		g(ok, "cluster", "list", "-o", "json"),
		g(ok, "cluster", "show", "audit-east"),
		g(ok, "cluster", "show", "audit-west"),
		g(found, "diff"),
		g(found, "diff", "-o", "json"),
		g(found, "apply", "--dry-run"),
		g(ok, "apply"),
		g(ok, "apply", "-o", "json"),
		g(ok, "diff"),
		g(ranOrFound, "check", "--timeout", "3s"),
		g(ranOrFound, "check", "--timeout", "3s", "--no-color"),
		g(ranOrFound, "check", "--timeout", "3s", "-o", "json"),
		g(ranOrFound, "explain"),
		g(ranOrFound, "explain", "-o", "json", "--down", "audit-east"),
		g(ranOrFound, "explain", "--discover"),
	} {
		audit(r)
	}

	// Every file gatefed wrote: fleet, outputs, config, cache, state, temp.
	// The service-account kubeconfig holds its own token and nothing else.
	err = filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var except []string
		if path == credentials {
			for name := range secrets {
				if strings.HasPrefix(name, "service-account token of ") {
					except = append(except, name)
				}
			}
		}
		if leaks := secrets.find(data, except...); len(leaks) > 0 {
			t.Errorf("%s holds %s", path, strings.Join(leaks, ", "))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func intIn(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// gatefed verifies every API server's certificate: it never skips the
// verification unless the kubeconfig itself says so. A cluster whose
// kubeconfig names the wrong CA fails with the x509 error, not retried, and
// exit status 2; the other commands report it as unreachable.
func TestTLSVerification(t *testing.T) {
	e := newFaultEnv(t, "tlsv")
	wrong, err := testfleet.NewCertAuthority("not-the-cluster-ca")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(e.f.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters["c1"].CertificateAuthorityData = wrong.CertPEM()
	cfg.Clusters["c1"].CertificateAuthority = ""
	kubeconfig := filepath.Join(e.dir, "wrong-ca.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	fleetFile := e.write("fleet", fmt.Sprintf(`apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: c1}
spec: {gateway: {provider: gloo, namespace: %[1]s}}
---
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: c3}
spec: {gateway: {provider: gloo, namespace: %[1]s}}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: checkout, namespace: %[2]s}
spec: {port: 8080}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalRoute
metadata: {name: shop, namespace: %[2]s}
spec:
  hosts: [shop.example.com]
  rules: [{backends: [{service: checkout}]}]
`, e.ff.gw, e.ff.a))
	const x509 = "x509: certificate signed by unknown authority"
	for _, tc := range []struct {
		args []string
		code int
		// want is in the output, with x509.
		want string
	}{
		{[]string{"diff"}, 2, "Error: c1: "},
		{[]string{"apply"}, 2, "Error: c1: "},
		{[]string{"render", "--discover"}, 2, "c1"},
		{[]string{"check", "-x", "failover-readiness"}, 1, "c1"},
		{[]string{"cluster", "list"}, 0, "c1"},
		{[]string{"cluster", "register", "tls-wrong", "--context", "c1", "--provider", "gloo", "--file", filepath.Join(e.dir, "registered.yaml")}, 2, "Error: "},
	} {
		fleet := fleetFile
		if tc.args[0] == "cluster" && tc.args[1] == "register" {
			fleet = filepath.Join(e.dir, "registered.yaml") // c1 is not in it yet
		}
		code, stdout, stderr := e.run(kubeconfig, append([]string{"-f", fleet}, tc.args...)...)
		line := "gatefed " + strings.Join(tc.args, " ")
		t.Logf("%s: exit %d\n%s", line, code, stderr)
		if code != tc.code || !strings.Contains(stdout+stderr, x509) || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%s with c1's CA wrong: exit %d, want %d and %q with %q", line, code, tc.code, tc.want, x509)
		}
		if strings.Contains(stderr, "retrying") {
			t.Errorf("%s retried a certificate the client refuses", line)
		}
	}
	// c3, whose CA is right, was applied meanwhile.
	if code, _, stderr := e.run(kubeconfig, "-f", fleetFile, "diff", "--cluster", "c3"); code != 0 {
		t.Errorf("diff of c3: exit %d\n%s", code, stderr)
	}

	// Verification is skipped only where the kubeconfig says so.
	cfg.Clusters["c1"].InsecureSkipTLSVerify = true
	cfg.Clusters["c1"].CertificateAuthorityData = nil
	insecure := filepath.Join(e.dir, "insecure.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, insecure); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := e.run(insecure, "-f", fleetFile, "apply", "--cluster", "c1"); code != 0 {
		t.Errorf("apply with insecure-skip-tls-verify in the kubeconfig: exit %d\n%s%s", code, stdout, stderr)
	}
}

// Where gatefed's own code (tests aside) names TLS verification at all, and
// why each is right; a new place fails this test until it is looked at and
// listed here.
func TestNoTLSVerificationSkipped(t *testing.T) {
	allowed := map[string]string{
		"internal/check/failover.go: InsecureSkipVerify: true, // reachability only: the failover CA is not available here":               "the failover probe of check: a TLS handshake with a failover listener, never an API server; it sends nothing",
		"internal/cluster/serviceaccount.go: InsecureSkipTLSVerify:    entry.InsecureSkipTLSVerify,":                                      "the service-account kubeconfig keeps what the source kubeconfig says",
		"internal/faultproxy/faultproxy.go: kc.InsecureSkipTLSVerify = false":                                                             "the fault proxy of the tests: its kubeconfig verifies the proxy",
		"internal/faultproxy/faultproxy.go: base := &tls.Config{ServerName: up.Hostname(), InsecureSkipVerify: kc.InsecureSkipTLSVerify}": "the fault proxy keeps what the proxied kubeconfig says",
	}
	root := ".."
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.Contains(line, "Insecure") {
				continue
			}
			key := filepath.ToSlash(rel) + ": " + strings.TrimSpace(line)
			seen[key] = true
			if _, ok := allowed[key]; !ok {
				t.Errorf("%s: a new place that names TLS verification; gatefed must verify every API server unless the kubeconfig says otherwise", key)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range allowed {
		if !seen[key] {
			t.Errorf("listed but gone (update the list): %s", key)
		}
	}
}
