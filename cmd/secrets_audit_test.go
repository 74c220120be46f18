package cmd_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/localfleet"
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
		if len(needle) > 0 && bytes.Contains(data, needle) && !slices.Contains(except, name) {
			out = append(out, name)
		}
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		out = append(out, `a "PRIVATE KEY" marker`)
	}
	return out
}

// auditEnv runs gatefed as a process of its own, with config, cache, state
// and temp directories of its own under dir, so that every file it writes
// is there to be read.
type auditEnv struct {
	t   *testing.T
	dir string
	env []string
}

func newAuditEnv(t *testing.T) *auditEnv {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"XDG_CONFIG_HOME="+filepath.Join(dir, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(dir, ".cache"),
		"XDG_STATE_HOME="+filepath.Join(dir, ".state"),
		"KUBECONFIG="+filepath.Join(dir, "no-kubeconfig"),
		"TMPDIR="+filepath.Join(dir, "tmp"),
		"NO_COLOR=",
	)
	return &auditEnv{t: t, dir: dir, env: env}
}

// write writes a file under dir and returns its path.
func (e *auditEnv) write(name, content string) string {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// command is gatefed with args through kubeconfig, bounded so that a hang
// fails the test instead of stalling it.
func (e *auditEnv) command(kubeconfig string, args ...string) (*exec.Cmd, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // a guard against a hang, not a time limit
	c := exec.CommandContext(ctx, "gatefed", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	c.Env = e.env
	return c, cancel
}

// run runs gatefed off a terminal and returns its exit status and output.
func (e *auditEnv) run(kubeconfig string, args ...string) (int, string, string) {
	e.t.Helper()
	c, cancel := e.command(kubeconfig, args...)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	return exitCode(e.t, c.Run()), stdout.String(), stderr.String()
}

// runTerminal runs gatefed with stdin, stdout and stderr on one pseudo
// terminal, as in a user's shell (live progress, colour), and returns its
// exit status and what the terminal showed.
func (e *auditEnv) runTerminal(kubeconfig string, args ...string) (int, string) {
	e.t.Helper()
	master, slave := openPTY(e.t)
	defer master.Close()
	c, cancel := e.command(kubeconfig, args...)
	defer cancel()
	c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
	err := c.Start()
	slave.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	var shown bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&shown, master) // ends with EIO once gatefed has exited
		close(copied)
	}()
	code := exitCode(e.t, c.Wait())
	<-copied
	return code, strings.ReplaceAll(shown.String(), "\r\n", "\n")
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	default:
		t.Fatalf("gatefed: %v", err)
		return -1
	}
}

// openPTY opens a pseudo terminal of 40 rows and 120 columns.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ioctl := func(f *os.File, req uintptr, arg unsafe.Pointer) {
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); errno != 0 {
			t.Fatalf("ioctl %#x on %s: %v", req, f.Name(), errno)
		}
	}
	var unlock int32
	ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	var n uint32
	ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n))
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	size := struct{ rows, cols, x, y uint16 }{40, 120, 0, 0}
	ioctl(slave, syscall.TIOCSWINSZ, unsafe.Pointer(&size))
	return master, slave
}

// Every command in every output mode, run as a user runs it, against
// clusters of the test's own that hold the Secrets gatefed refers to (the
// failover pair with real key material, a route's TLS Secret): no key
// material and no token appears on stdout, on stderr, on a terminal or in
// any file gatefed writes. The service-account kubeconfig register writes
// holds its token, and is 0600 in a 0700 directory. The clusters are the
// test's own: register --service-account and deregister --purge work on
// namespace gatefed-system, which other tests' service accounts share in
// the shared fleet.
func TestSecretsStayOut(t *testing.T) {
	f := testfleet.StartT(t, localfleet.Options{Count: 2})
	e := newAuditEnv(t)
	ctx := context.Background()
	const gw, app = "audit-gw", "audit-shop"
	ca, err := localfleet.NewCertAuthority("audit-failover")
	if err != nil {
		t.Fatal(err)
	}
	secrets := needles{}
	var created []*corev1.Secret
	for _, c := range f.Clusters {
		sim := c.Sim()
		for _, ns := range []string{gw, app} {
			if err := sim.EnsureNamespace(ctx, ns); err != nil {
				t.Fatal(err)
			}
		}
		pair, err := testfleet.FailoverSecrets(ca, c.Name, gw, "*.failover.gatefed.internal")
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
		for _, s := range append(pair, testfleet.TLSSecret(ca, gw, "shop-tls", cert, key)) {
			if _, err := cs.CoreV1().Secrets(gw).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			created = append(created, s)
			for k, v := range s.Data {
				if k != "ca.crt" {
					secrets.addPEM(fmt.Sprintf("%s Secret %s key %s", c.Name, s.Name, k), v)
				}
			}
		}
	}
	admin, err := clientcmd.LoadFromFile(f.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, ai := range admin.AuthInfos {
		secrets.addPEM("admin kubeconfig user "+name+" client key", ai.ClientKeyData)
	}
	// The clusters' own private keys (CAs, service-account signing key),
	// which gatefed never reads: they must not turn up either.
	err = filepath.WalkDir(filepath.Join(f.Dir, "clusters"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".key") {
			rel, _ := filepath.Rel(f.Dir, path)
			secrets.addPEM("fleet key "+rel, readBytes(t, path))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
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
	e.write("fleet/services.yaml", fmt.Sprintf(`apiVersion: gatefed.dev/v1alpha1
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
`, app))
	if err := f.Cluster("c1").Sim().Service(ctx, localfleet.Service{Namespace: app, Name: "checkout", Port: 8080, Ready: 2}); err != nil {
		t.Fatal(err)
	}

	type run struct {
		args []string
		// codes are the exit statuses that are right.
		codes []int
		// terminal runs it on a pseudo terminal.
		terminal bool
	}
	ok, found, ranOrFound, ranOrStopped := []int{0}, []int{1}, []int{0, 1}, []int{0, 2}
	g := func(codes []int, args ...string) run { return run{args: args, codes: codes} }
	onTerminal := func(codes []int, args ...string) run { return run{args: args, codes: codes, terminal: true} }
	// What each run printed, by its arguments, and everything every run showed.
	terminalShown, printed := map[string]string{}, map[string]string{}
	var shownAll []struct{ line, text string }
	audit := func(r run) {
		t.Helper()
		line := "gatefed " + strings.Join(r.args, " ")
		args := append([]string{"-f", fleetDir}, r.args...)
		var code int
		var outputs []struct{ name, text string }
		if r.terminal {
			line += " (on a terminal)"
			var shown string
			code, shown = e.runTerminal(f.Kubeconfig, args...)
			outputs = append(outputs, struct{ name, text string }{"the terminal", shown})
			terminalShown[strings.Join(r.args, " ")] = shown
		} else {
			var stdout, stderr string
			code, stdout, stderr = e.run(f.Kubeconfig, args...)
			printed[strings.Join(r.args, " ")] = stdout
			outputs = append(outputs, struct{ name, text string }{"stdout", stdout}, struct{ name, text string }{"stderr", stderr})
		}
		if !slices.Contains(r.codes, code) {
			t.Errorf("%s: exit %d, want one of %v\n%v", line, code, r.codes, outputs)
		}
		var sizes []string
		for _, out := range outputs {
			shownAll = append(shownAll, struct{ line, text string }{line + " " + out.name, out.text})
			if leaks := secrets.find([]byte(out.text)); len(leaks) > 0 {
				t.Errorf("%s: %s holds %s", line, out.name, strings.Join(leaks, ", "))
			}
			sizes = append(sizes, fmt.Sprintf("%d bytes on %s", len(out.text), out.name))
		}
		t.Logf("%s: exit %d, %s", line, code, strings.Join(sizes, ", "))
	}

	// Registration: east with the admin's own context, west with a service
	// account of its own.
	audit(g(ok, "cluster", "register", "audit-east", "--context", "c1", "--provider", "gloo", "--region", "r1",
		"--gateway-namespace", gw, "--failover-address", "127.0.0.1:1"))
	audit(g(ok, "cluster", "register", "audit-west", "--context", "c2", "--provider", "envoy-gateway", "--region", "r2",
		"--gateway-namespace", gw, "--failover-address", "127.0.0.1:2", "--service-account", "--token-ttl", "1h", "--dry-run"))
	audit(g(ok, "cluster", "register", "audit-west", "--context", "c2", "--provider", "envoy-gateway", "--region", "r2",
		"--gateway-namespace", gw, "--failover-address", "127.0.0.1:2", "--service-account", "--token-ttl", "1h"))
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
		g(ok, "version"),
		g(ok, "validate"),
		g(ok, "validate", "-o", "json"),
		onTerminal(ok, "validate"),
		// A fleet with services is not one init starts: refused, naming the file.
		g([]int{2}, "init", "--file", "-"),
		g(ok, "render"),
		g(ok, "render", "-o", "json"),
		onTerminal(ok, "render"),
		g(ok, "render", "--out-dir", filepath.Join(out, "plain")),
		g(ok, "render", "--out-dir", filepath.Join(out, "argocd"), "--gitops", "argocd", "--gitops-repo", "https://git.example.com/gw.git", "--gitops-path-prefix", "manifests"),
		g(ok, "render", "--out-dir", filepath.Join(out, "flux"), "--gitops", "flux", "--gitops-path-prefix", "manifests"),
		g(ok, "render", "--discover", "--skips-json", filepath.Join(out, "skips.json")),
		g(ok, "render", "--discover", "-o", "json"),
		g(ok, "cluster", "list"),
		g(ok, "cluster", "list", "-o", "json"),
		g(ok, "cluster", "list", "-o", "yaml"),
		g(ok, "cluster", "list", "--offline"),
		onTerminal(ok, "cluster", "list"),
		g(ok, "cluster", "show", "audit-east"),
		g(ok, "cluster", "show", "audit-west"),
		g(ok, "cluster", "show", "audit-west", "-o", "json"),
		g(found, "diff"),
		g(found, "diff", "-o", "json"),
		g(found, "diff", "--discover"),
		onTerminal(found, "diff"),
		g(found, "apply", "--dry-run"),
		g(found, "apply", "--dry-run", "-o", "json"),
		g(ok, "apply", "--cluster", "audit-east"),
		g(ok, "apply", "--discover"),
		onTerminal(ok, "apply", "--yes"),
		g(ok, "apply", "-o", "json"),
		g(ok, "apply", "--waves", "--dry-run"),
		g(ok, "apply", "--waves", "--dry-run", "-o", "json"),
		g(ok, "apply", "--waves", "--gates", "none", "--yes"),
		g(ok, "apply", "--waves", "--gates", "none", "-o", "json"),
		// The check gate's findings are printed; whether it passes here is not the point.
		g(ranOrStopped, "apply", "--waves", "--timeout", "5s"),
		g(ranOrStopped, "apply", "--waves", "--timeout", "5s", "-o", "json"),
		g(ok, "render", "--out-dir", filepath.Join(out, "argocd-waves"), "--gitops", "argocd", "--gitops-repo", "https://git.example.com/gw.git", "--gitops-path-prefix", "manifests", "--waves"),
		g(ok, "diff"),
		g(ranOrFound, "check", "--timeout", "3s"),
		g(ranOrFound, "check", "--timeout", "3s", "--no-color"),
		g(ranOrFound, "check", "--timeout", "3s", "-o", "json"),
		g(ranOrFound, "check", "--timeout", "3s", "--strict", "-o", "json"),
		onTerminal(ranOrFound, "check", "--timeout", "3s"),
		g(ranOrFound, "check", "--timeout", "3s", "--cert-warn-days", "400", "-o", "json"),
		g(ranOrFound, "check", "--timeout", "3s", "--failover-probe=false"),
		g(ranOrFound, "explain"),
		g(ranOrFound, "explain", "-o", "json", "--down", "audit-east"),
		g(ranOrFound, "explain", "--discover"),
		g(ranOrFound, "explain", "--missing", "checkout@audit-east"),
		onTerminal(ranOrFound, "explain"),
	} {
		audit(r)
	}
	// failover-certs issue: the CA's key (in files of the user's own, outside
	// the audited directory) and the keys it issues never show.
	caCert, caKey := auditCA(t, secrets)
	audit(g(ok, "failover-certs", "issue", "--ca-cert", caCert, "--ca-key", caKey, "--dry-run"))
	audit(g(ok, "failover-certs", "issue", "--ca-cert", caCert, "--ca-key", caKey, "--cluster", "audit-east"))
	audit(g(ok, "failover-certs", "issue", "--ca-cert", caCert, "--ca-key", caKey, "--cluster", "audit-east", "-o", "json"))
	issuedNeedles(t, f.Cluster("c1").Sim().Kube, gw, secrets)
	for _, shown := range shownAll {
		if leaks := secrets.find([]byte(shown.text)); len(leaks) > 0 {
			t.Errorf("%s holds %s", shown.line, strings.Join(leaks, ", "))
		}
	}
	for _, r := range []run{
		g(ranOrFound, "check", "--timeout", "3s", "-o", "json"),
		onTerminal(ranOrFound, "check", "--timeout", "3s", "--cert-warn-days", "1"),
		g(ok, "cluster", "deregister", "audit-west", "--purge"),
		g(ok, "cluster", "deregister", "audit-east"),
	} {
		audit(r)
	}
	// The terminal runs were on a terminal: apply drew its live lines.
	if shown := terminalShown["apply --yes"]; !strings.Contains(shown, "\x1b[") {
		t.Errorf("apply on a terminal drew no live progress:\n%q", shown)
	}
	// check reached the Secrets: the failover pair (their metadata) and the
	// route's TLS Secret (read whole), the service account's through audit-west.
	var report struct {
		Clusters []struct {
			Name   string
			Checks []struct {
				Findings []struct{ Message, Object string }
			}
		}
	}
	if err := json.Unmarshal([]byte(printed["check --timeout 3s -o json"]), &report); err != nil {
		t.Fatalf("check -o json: %v", err)
	}
	for _, c := range report.Clusters {
		var secretsRead []string
		for _, ch := range c.Checks {
			for _, fd := range ch.Findings {
				if strings.HasPrefix(fd.Object, "Secret ") {
					secretsRead = append(secretsRead, fd.Object)
					t.Logf("check of %s: %s", c.Name, fd.Message)
				}
			}
		}
		for _, want := range []string{"Secret audit-gw/failover-upstream", "Secret audit-gw/failover-downstream", "Secret audit-gw/shop-tls"} {
			if !slices.Contains(secretsRead, want) {
				t.Errorf("check of %s did not look at %s", c.Name, want)
			}
		}
	}
	if _, err := os.Stat(credentials); !os.IsNotExist(err) {
		t.Errorf("deregister --purge left %s: %v", credentials, err)
	}

	// Every file gatefed wrote: fleet, outputs, config, cache, state, temp.
	// The service-account kubeconfig (gone with deregister --purge) held its
	// own token and nothing else.
	files := 0
	err = filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		if leaks := secrets.find(readBytes(t, path)); len(leaks) > 0 {
			t.Errorf("%s holds %s", path, strings.Join(leaks, ", "))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d needles looked for in %d files", len(secrets), files)
}

// auditCA writes a failover CA's certificate and key to files of the
// test's own and adds the key to the needles.
func auditCA(t *testing.T, secrets needles) (certFile, keyFile string) {
	t.Helper()
	ca, keyPEM, err := failovertls.NewAuthorityPEM("audit-failover-ca", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if err := os.WriteFile(certFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	secrets.addPEM("failover CA key file", keyPEM)
	return certFile, keyFile
}

// issuedNeedles adds the keys of the failover Secrets failover-certs issue
// wrote in namespace ns.
func issuedNeedles(t *testing.T, kc kubernetes.Interface, ns string, secrets needles) {
	t.Helper()
	for _, name := range []string{"failover-upstream", "failover-downstream"} {
		s, err := kc.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Labels["gatefed.dev/issued-by"] != "failover-certs" {
			t.Fatalf("Secret %s/%s was not issued by failover-certs: labels %v", ns, name, s.Labels)
		}
		secrets.addPEM("issued Secret "+name+" tls.key", s.Data["tls.key"])
	}
}

// gatefed verifies every API server's certificate: it never skips the
// verification unless the kubeconfig itself says so. A cluster whose
// kubeconfig names the wrong CA fails with the x509 error, not retried, and
// exit status 2; the other commands report it as unreachable.
func TestTLSVerification(t *testing.T) {
	f, err := sharedTestFleet()
	if err != nil {
		t.Fatal(err)
	}
	const gw, app = "tlsv-gw", "tlsv-shop"
	for _, ns := range []string{gw, app} {
		if err := testFleetNamespace(f, ns); err != nil {
			t.Fatal(err)
		}
	}
	e := newAuditEnv(t)
	wrong, err := localfleet.NewCertAuthority("not-the-cluster-ca")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(f.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters["c1"].CertificateAuthorityData = wrong.CertPEM()
	cfg.Clusters["c1"].CertificateAuthority = ""
	kubeconfig := filepath.Join(e.dir, "wrong-ca.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	fleetFile := e.write("fleet.yaml", fmt.Sprintf(`apiVersion: gatefed.dev/v1alpha1
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
`, gw, app))
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
		"internal/failovertls/probe.go: InsecureSkipVerify: true, // verified below, as the source's gateway verifies":                    "the mutual-TLS probe of a failover path, never an API server: VerifyConnection checks the chain against the source's ca.crt and the name the source's gateway checks",
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

// The demo, each of its commands, and gatefed on the demo's fleet: no key
// the demo made (its clusters', the failover Secrets', the admin client
// key) appears on stdout or stderr, and demo down leaves none on disk.
func TestDemoSecretsStayOut(t *testing.T) {
	e := newAuditEnv(t)
	// The binaries the demo runs, from the cache the tests use.
	e.env = append(e.env, localfleet.EnvKubeBinDir+"="+localfleet.KubeBinDir(), localfleet.EnvEtcdBin+"="+localfleet.EtcdBin())
	state := filepath.Join(e.dir, "demo")
	kubeconfig := filepath.Join(state, "kubeconfig")
	t.Cleanup(func() {
		if _, err := os.Stat(state); err == nil {
			e.run(kubeconfig, "demo", "down", "--state-dir", state)
		}
	})
	type output struct{ line, stdout, stderr string }
	var outputs []output
	run := func(codes []int, args ...string) {
		t.Helper()
		code, stdout, stderr := e.run(kubeconfig, args...)
		line := "gatefed " + strings.Join(args, " ")
		t.Logf("%s: exit %d, %d bytes on stdout, %d on stderr", line, code, len(stdout), len(stderr))
		if !slices.Contains(codes, code) {
			t.Fatalf("%s: exit %d, want one of %v\n%s%s", line, code, codes, stdout, stderr)
		}
		outputs = append(outputs, output{line, stdout, stderr})
	}
	ok, ranOrFound := []int{0}, []int{0, 1}
	run(ok, "demo", "up", "--state-dir", state, "--clusters", "2", "--no-build")

	secrets := needles{}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, ai := range cfg.AuthInfos {
		secrets.addPEM("demo kubeconfig user "+name+" client key", ai.ClientKeyData)
	}
	var contexts []string
	for name := range cfg.Contexts {
		contexts = append(contexts, name)
		rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, name, nil, nil).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			t.Fatal(err)
		}
		list, err := cs.CoreV1().Secrets("").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list.Items {
			for k, v := range s.Data {
				if k != "ca.crt" {
					secrets.addPEM(fmt.Sprintf("%s Secret %s/%s key %s", name, s.Namespace, s.Name, k), v)
				}
			}
		}
	}
	slices.Sort(contexts)
	keyFiles := 0
	err = filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if data := readBytes(t, path); bytes.Contains(data, []byte("PRIVATE KEY")) {
			rel, _ := filepath.Rel(state, path)
			secrets.addPEM("demo key file "+rel, data)
			keyFiles++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(contexts) != 2 || keyFiles == 0 || len(secrets.find(readBytes(t, kubeconfig))) == 0 {
		t.Fatalf("the audit has nothing to look for: contexts %v, %d key files", contexts, keyFiles)
	}

	fleetDir := filepath.Join(state, "fleet")
	run(ok, "demo", "status", "--state-dir", state)
	run(ok, "validate", "-f", fleetDir)
	run(ok, "render", "-f", fleetDir, "-o", "json")
	run(ok, "apply", "-f", fleetDir)
	run(ok, "demo", "reconcile", "--state-dir", state)
	run(ranOrFound, "check", "-f", fleetDir, "--timeout", "5s", "-o", "json")
	run(ranOrFound, "explain", "-f", fleetDir)
	run(ok, "demo", "stop-cluster", contexts[0], "--state-dir", state)
	run(ok, "demo", "status", "--state-dir", state)
	run(ok, "demo", "start-cluster", contexts[0], "--state-dir", state)
	run(ok, "demo", "down", "--state-dir", state)

	for _, o := range outputs {
		for _, out := range []struct{ name, text string }{{"stdout", o.stdout}, {"stderr", o.stderr}} {
			if leaks := secrets.find([]byte(out.text)); len(leaks) > 0 {
				t.Errorf("%s: %s holds %s", o.line, out.name, strings.Join(leaks, ", "))
			}
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("demo down left %s: %v", state, err)
	}
	files := 0
	err = filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		if leaks := secrets.find(readBytes(t, path)); len(leaks) > 0 {
			t.Errorf("%s holds %s", path, strings.Join(leaks, ", "))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d needles from %d contexts and %d key files looked for in %d outputs and %d files left", len(secrets), len(contexts), keyFiles, len(outputs), files)
}
