package cmd_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/faultproxy"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// shopService is a service and a route, for fleets that register their clusters.
var shopService = fleettest.YAML(
	fleettest.Service("shop", "checkout", 8080),
	fleettest.Route("shop", "shop", "shop.example.com").To("checkout"),
)

// threeGlooClusters is three gloo clusters sharing gateway namespace ns and
// a service with a route to host, rendered into a few objects per cluster.
func threeGlooClusters(ns, host string) string {
	return fleettest.YAML(
		fleettest.Cluster("c1", "gloo").GatewayNamespace(ns),
		fleettest.Cluster("c2", "gloo").GatewayNamespace(ns),
		fleettest.Cluster("c3", "gloo").GatewayNamespace(ns),
		fleettest.Service("shop", "checkout", 8080),
		fleettest.Route("shop", "shop", host).To("checkout"),
	)
}

// gatefedRun runs gatefed in-process, off a terminal.
func gatefedRun(args ...string) (code int, stdout, stderr string) {
	ios, _, out, errOut := iostreams.Test()
	code = cmd.Main(args, ios)
	return code, out.String(), errOut.String()
}

// errorLines are the stderr lines that start with "Error: ".
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "Error: ") {
			out = append(out, l)
		}
	}
	return out
}

// Through the fault proxy, with c2 failing: apply, diff and check end c2
// with one line and exit 2 (check: a failing connectivity check, exit 1)
// while c1 and c3 complete; once c2 recovers, a rerun converges. Faults
// that pass are retried and leave nothing to report.
func TestFaultsEndToEnd(t *testing.T) {
	f, err := sharedTestFleet()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "faults-e2e"
	if err := testFleetNamespace(f, ns); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	proxy, err := faultproxy.Start(faultproxy.Options{Kubeconfig: f.Kubeconfig, Out: filepath.Join(dir, "kubeconfig"), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	c2 := proxy.Cluster("c2")
	fleetFile := filepath.Join(dir, "fleet.yaml")
	writeFleet := func(host string) {
		fleettest.Write(t, dir, threeGlooClusters(ns, host))
	}
	gatefed := func(args ...string) (int, string, string) {
		t.Helper()
		start := time.Now()
		code, out, errOut := gatefedRun(append([]string{"--kubeconfig", proxy.Kubeconfig, "-f", fleetFile}, args...)...)
		t.Logf("gatefed %s: exit %d in %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond), out, errOut)
		return code, out, errOut
	}
	inject := func(faults ...faultproxy.Fault) {
		t.Helper()
		if err := c2.Inject(faults...); err != nil {
			t.Fatal(err)
		}
	}
	oneError := func(what, stderr, want string) {
		t.Helper()
		lines := errorLines(stderr)
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "Error: c2: ") || !strings.Contains(lines[0], want) {
			t.Errorf("%s: want one error line for c2 with %q, got %q", what, want, lines)
		}
	}
	created := regexp.MustCompile(`(?m)^(c1|c3)\t[1-9][0-9]*\t0\t0\t0\t0\t`)
	writeFleet("shop.example.com")

	// c2 answers 503 to everything: apply, diff and check.
	inject(faultproxy.Fault{Action: faultproxy.Respond, Code: 503})
	code, out, errOut := gatefed("apply")
	if code != 2 || len(created.FindAllString(out, -1)) != 2 {
		t.Errorf("apply with c2 failing: exit %d, want 2 with c1 and c3 created", code)
	}
	oneError("apply", errOut, "read the kinds the API serves (discovery): the server is currently unable to handle the request")
	code, _, errOut = gatefed("diff")
	if code != 2 || !strings.Contains(errOut, "c1: 0 to create, 0 to update, 0 to delete") || !strings.Contains(errOut, "c2: failed (the error is listed below)") {
		t.Errorf("diff with c2 failing: exit %d, want 2 with c1 in sync", code)
	}
	oneError("diff", errOut, "the server is currently unable to handle the request")
	checkArgs := []string{"check", "-x", "gateway-install,sizing,failover-readiness,failover-trust,service-presence"}
	code, out, _ = gatefed(checkArgs...)
	if code != 1 || !regexp.MustCompile(`(?m)^c2\tfail\tskip\tskip$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^c1\tpass\t`).MatchString(out) ||
		!strings.Contains(out, "fail\tc2\tconnectivity\tAPI server of context \"c2\" answers with an error: ") {
		t.Errorf("check with c2 failing: exit %d, want 1 with c2's connectivity failing", code)
	}

	// Recovered: a rerun converges.
	c2.Clear()
	if code, _, _ = gatefed("apply"); code != 0 {
		t.Errorf("apply after recovery: exit %d", code)
	}
	if code, _, errOut = gatefed("diff"); code != 0 || !strings.Contains(errOut, "in sync: 3 clusters") {
		t.Errorf("diff after recovery: exit %d", code)
	}

	// Faults that pass: retried (each retry a progress line), nothing to report.
	writeFleet("www.example.com")
	inject(
		faultproxy.Fault{Action: faultproxy.Respond, Code: 503, Method: "PATCH", Times: 2},
		faultproxy.Fault{Action: faultproxy.Reset, Method: "PATCH", Forward: true, Times: 1},
		faultproxy.Fault{Action: faultproxy.Respond, Code: 429, RetryAfter: "1", Method: "GET", Times: 1},
		faultproxy.Fault{Action: faultproxy.Cut, Method: "GET", Path: "/virtualservices$", Times: 1},
	)
	code, _, errOut = gatefed("apply")
	if code != 0 || strings.Count(errOut, "c2: retrying ") != 4 || len(errorLines(errOut)) != 0 {
		t.Errorf("apply through faults that pass: exit %d, %d retry lines, want 0 and 4", code, strings.Count(errOut, "c2: retrying "))
	}
	if n := len(c2.Injected()); n != 5 {
		t.Errorf("%d faults injected, want 5: %q", n, c2.Injected())
	}
	c2.Clear()
	if code, _, _ = gatefed("diff"); code != 0 {
		t.Errorf("diff after faults that passed: exit %d", code)
	}

	// Every apply to c2 stalls: each attempt ends at --request-timeout.
	writeFleet("shop.example.com")
	inject(faultproxy.Fault{Action: faultproxy.Stall, Method: "PATCH"})
	code, _, errOut = gatefed("apply", "--request-timeout", "2s")
	if code != 2 {
		t.Errorf("apply with c2 stalling: exit %d, want 2", code)
	}
	oneError("apply (stall)", errOut, "no answer within 2s (after 4 attempts)")
	// check bounds each check by --timeout and does not retry.
	inject(faultproxy.Fault{Action: faultproxy.Stall})
	code, out, _ = gatefed(append(checkArgs, "--timeout", "3s")...)
	if code != 1 || !regexp.MustCompile(`(?m)^c2\tfail\tskip\tskip$`).MatchString(out) {
		t.Errorf("check with c2 stalling: exit %d, want 1 with c2's connectivity failing", code)
	}
	c2.Clear()
	if code, _, _ = gatefed("apply"); code != 0 {
		t.Errorf("apply after the stall: exit %d", code)
	}
	if code, _, _ = gatefed("diff"); code != 0 {
		t.Errorf("diff after the stall: exit %d", code)
	}
}

// Credentials an API server rejects: a service-account token revoked by
// deregister --purge, an expired one, and a user's own wrong token. apply,
// diff and check name the cluster and what to do, exit 2, and the other
// cluster completes; register --service-account mints a token that works.
func TestRejectedCredentials(t *testing.T) {
	f, err := sharedTestFleet()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "faults-credentials"
	if err := testFleetNamespace(f, ns); err != nil {
		t.Fatal(err)
	}
	config := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", config)
	t.Setenv("KUBECONFIG", f.Kubeconfig)
	dir := t.TempDir()
	fleetDir := filepath.Join(dir, "fleet")
	if err := os.MkdirAll(fleetDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fleetDir, "services.yaml"), []byte(shopService), 0o644); err != nil {
		t.Fatal(err)
	}
	gatefed := func(args ...string) (int, string, string) {
		t.Helper()
		code, out, errOut := gatefedRun(append([]string{"-f", fleetDir}, args...)...)
		t.Logf("gatefed %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
		return code, out, errOut
	}
	must := func(args ...string) {
		t.Helper()
		if code, _, _ := gatefed(args...); code != 0 {
			t.Fatalf("gatefed %s: exit %d", strings.Join(args, " "), code)
		}
	}
	// west acts through a service account of its own; east with the admin context.
	must("cluster", "register", "east", "--context", "c1", "--provider", "gloo", "--gateway-namespace", ns)
	must("cluster", "register", "west", "--context", "c3", "--provider", "gloo", "--gateway-namespace", ns, "--service-account", "--token-ttl", "1h")
	must("apply")
	minted := filepath.Join(config, "gatefed", "clusters", "west.kubeconfig")
	const hint = "mint a new token with: gatefed cluster register west --context c3 --service-account"
	rejected := `Error: west: the API server rejected the service-account token of context "west" in ` + minted +
		` (401 Unauthorized): it expired or was revoked (deregister --purge revokes it); ` + hint
	expectRejected := func(what string) {
		t.Helper()
		code, out, errOut := gatefed("apply")
		if code != 2 || !regexp.MustCompile(`(?m)^east\t0\t0\t0\t[1-9][0-9]*\t0\t`).MatchString(out) {
			t.Errorf("%s: apply exit %d, want 2 with east done", what, code)
		}
		if lines := errorLines(errOut); len(lines) != 1 || lines[0] != rejected {
			t.Errorf("%s: apply errors %q\nwant %q", what, lines, rejected)
		}
		code, _, errOut = gatefed("diff")
		if lines := errorLines(errOut); code != 2 || len(lines) != 1 || lines[0] != rejected {
			t.Errorf("%s: diff exit %d, errors %q", what, code, lines)
		}
		code, out, errOut = gatefed("check", "-x", "gateway-install,sizing,failover-readiness,failover-trust,service-presence")
		if lines := errorLines(errOut); code != 2 || len(lines) != 1 || lines[0] != rejected {
			t.Errorf("%s: check exit %d, errors %q", what, code, lines)
		}
		if !strings.Contains(out, "fail\twest\tconnectivity\tthe API server rejected the service-account token of context \"west\"") || !strings.Contains(out, "\t"+hint) {
			t.Errorf("%s: check's connectivity finding lacks the rejection and its hint", what)
		}
	}

	// The token of a registration that was purged, kept somewhere (CI's secret store).
	keep := func(path string) func() {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	restoreToken, restoreDoc := keep(minted), keep(filepath.Join(fleetDir, "clusters.yaml"))
	purge := func() {
		t.Helper()
		must("cluster", "deregister", "west", "--purge")
		finalizeNamespace(t, f.Cluster("c3"), "gatefed-system")
	}
	purge()
	restoreToken()
	restoreDoc()
	// An API server keeps accepting a token it accepted for a few seconds
	// (its authentication cache): wait until it is rejected.
	start := time.Now()
	for {
		cfg, err := clientcmd.BuildConfigFromFlags("", minted)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cs.Discovery().ServerVersion()
		if apierrors.IsUnauthorized(err) {
			t.Logf("the purged token was rejected %s after deregister --purge", time.Since(start).Round(100*time.Millisecond))
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("the purged token is still accepted after a minute: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	expectRejected("revoked")

	// The hint works.
	must("cluster", "register", "west", "--context", "c3", "--service-account", "--token-ttl", "1h")
	must("apply")
	must("diff")

	// An expired token of the same service account.
	kc, err := clientcmd.LoadFromFile(minted)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range kc.AuthInfos {
		ai.Token = expiredToken(t, f, "c3", "gatefed-system", "gatefed-west")
	}
	if err := clientcmd.WriteToFile(*kc, minted); err != nil {
		t.Fatal(err)
	}
	expectRejected("expired")
	must("cluster", "register", "west", "--context", "c3", "--service-account", "--token-ttl", "1h")
	must("diff")
	defer purge() // leave c3 as it was

	// A user's own context (east names no kubeconfig: --kubeconfig is used)
	// with a token the API server does not know.
	own := filepath.Join(dir, "own.kubeconfig")
	okc, err := clientcmd.LoadFromFile(f.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range okc.AuthInfos {
		ai.ClientCertificateData, ai.ClientKeyData, ai.Token = nil, nil, "not-a-token"
	}
	if err := clientcmd.WriteToFile(*okc, own); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := gatefedRun("--kubeconfig", own, "-f", fleetDir, "diff", "--cluster", "east")
	want := `Error: east: the API server rejected the credentials of context "c1" in ` + own +
		` (401 Unauthorized): they expired, were revoked or are wrong; renew them, or give gatefed a service account of its own: gatefed cluster register east --context c1 --service-account`
	if lines := errorLines(errOut); code != 2 || len(lines) != 1 || lines[0] != want {
		t.Errorf("own context: exit %d, errors %q\nwant %q", code, lines, want)
	}
}

// finalizeNamespace does what the namespace controller, which the test
// fleet does not run, does once a deleted namespace is empty: it removes
// the namespace's finalizer, so that the namespace goes and can be made again.
func finalizeNamespace(t *testing.T, c *testfleet.Cluster, name string) {
	t.Helper()
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	ns.Spec.Finalizers = nil
	if _, err := cs.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("namespace %s is still there", name)
		}
	}
}

// expiredToken is a service-account token signed with the cluster's
// service-account key, as the API server signs them, that expired an hour ago.
func expiredToken(t *testing.T, f *testfleet.Fleet, cluster, namespace, name string) string {
	t.Helper()
	c := f.Cluster(cluster)
	keyPEM, err := os.ReadFile(filepath.Join(f.Dir, "clusters", c.Name, "pki", "sa.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatal("sa.key: no PEM")
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	sa, err := cs.CoreV1().ServiceAccounts(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const issuer = "https://kubernetes.default.svc.cluster.local"
	now := time.Now()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]string{"alg": "ES256", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": issuer, "aud": []string{issuer}, "sub": "system:serviceaccount:" + namespace + ":" + name,
		"iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(),
		"kubernetes.io": map[string]any{"namespace": namespace, "serviceaccount": map[string]string{"name": name, "uid": string(sa.UID)}},
	})
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
