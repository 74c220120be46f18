package faultproxy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gatefed/gatefed/internal/localfleet"
)

// upstream is a stand-in API server that demands a client certificate and
// says who called it, or a large body on /big.
type upstream struct {
	srv  *httptest.Server
	ca   *localfleet.CertAuthority
	mu   sync.Mutex
	seen []string // "METHOD PATH CN AUTHORIZATION"
}

var bigBody = strings.Repeat("gatefed ", 4096)

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	ca, err := localfleet.NewCertAuthority("upstream")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{ca: ca}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		u.mu.Lock()
		u.seen = append(u.seen, strings.Join(strings.Fields(fmt.Sprintf("%s %s %s %s", r.Method, r.URL.Path, cn, r.Header.Get("Authorization"))), " "))
		u.mu.Unlock()
		if r.URL.Path == "/big" {
			io.WriteString(w, bigBody)
			return
		}
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "cn": cn, "body": string(body)})
	}))
	certPEM, keyPEM, err := ca.ServerCert("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	serving, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	u.srv.TLS = &tls.Config{Certificates: []tls.Certificate{serving}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	u.srv.StartTLS()
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// clientCert issues a client certificate for cn from the upstream's CA.
func (u *upstream) clientCert(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := u.ca.ClientCert(cn)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// setup starts an upstream and a proxy in front of it; the kubeconfig has a
// certificate user (context "cert") and a token user (context "token").
func setup(t *testing.T) (*upstream, *Proxy) {
	t.Helper()
	u := newUpstream(t)
	certPEM, keyPEM := u.clientCert(t, "alice")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["up"] = &clientcmdapi.Cluster{Server: u.srv.URL, CertificateAuthorityData: u.ca.CertPEM()}
	kc.AuthInfos["alice"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	kc.AuthInfos["bot"] = &clientcmdapi.AuthInfo{Token: "s3cret"}
	kc.Contexts["cert"] = &clientcmdapi.Context{Cluster: "up", AuthInfo: "alice"}
	kc.Contexts["token"] = &clientcmdapi.Context{Cluster: "up", AuthInfo: "bot"}
	kc.CurrentContext = "cert"
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := clientcmd.WriteToFile(*kc, in); err != nil {
		t.Fatal(err)
	}
	p, err := Start(Options{Kubeconfig: in, Out: filepath.Join(dir, "out"), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return u, p
}

// client is an HTTP client of the written kubeconfig's context.
func client(t *testing.T, p *Proxy, context string, timeout time.Duration) (*http.Client, string) {
	t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: p.Kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = timeout
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return hc, cfg.Host
}

func do(hc *http.Client, method, url, body string) (int, http.Header, string, error) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

// Without faults the proxy is transparent: the caller's identity, method,
// path, query and body arrive; certificate and token users alike.
func TestPassesThroughAsTheCaller(t *testing.T) {
	u, p := setup(t)
	hc, host := client(t, p, "cert", 5*time.Second)
	if !strings.HasPrefix(host, p.Cluster("up").URL) {
		t.Fatalf("the kubeconfig points at %s, not the proxy %s", host, p.Cluster("up").URL)
	}
	code, _, body, err := do(hc, "PATCH", host+"/apis/x/v1/things?fieldManager=gatefed", "spec: {}")
	if err != nil || code != 200 {
		t.Fatalf("PATCH: %d %v", code, err)
	}
	var got map[string]string
	json.Unmarshal([]byte(body), &got)
	want := map[string]string{"method": "PATCH", "path": "/apis/x/v1/things", "query": "fieldManager=gatefed", "cn": "alice", "body": "spec: {}"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("upstream saw %s=%q, want %q", k, got[k], v)
		}
	}
	hc, host = client(t, p, "token", 5*time.Second)
	if code, _, _, err := do(hc, "GET", host+"/api", ""); err != nil || code != 200 {
		t.Fatalf("token GET: %d %v", code, err)
	}
	if seen := u.requests(); seen[len(seen)-1] != "GET /api Bearer s3cret" {
		t.Errorf("token request arrived as %q", seen[len(seen)-1])
	}
	if code, _, body, err := do(hc, "GET", host+"/big", ""); err != nil || code != 200 || body != bigBody {
		t.Errorf("large body: %d %v, %d bytes", code, err, len(body))
	}
}

// Respond: the status, Retry-After and a Status body, for the matching
// requests only, as many times as asked; the API server never sees them.
func TestRespond(t *testing.T) {
	u, p := setup(t)
	c := p.Cluster("up")
	if err := c.Inject(Fault{Action: Respond, Code: 503, RetryAfter: "2", Method: "PATCH", Path: "^/apis/", Times: 2}); err != nil {
		t.Fatal(err)
	}
	hc, host := client(t, p, "cert", 5*time.Second)
	for i, want := range []int{503, 503, 200} {
		code, h, body, err := do(hc, "PATCH", host+"/apis/x", "{}")
		if err != nil || code != want {
			t.Fatalf("PATCH %d: %d %v, want %d", i+1, code, err, want)
		}
		if want == 503 {
			var st struct {
				Kind, Reason string
				Code         int
				Details      struct{ RetryAfterSeconds int }
			}
			json.Unmarshal([]byte(body), &st)
			if h.Get("Retry-After") != "2" || st.Kind != "Status" || st.Reason != "ServiceUnavailable" || st.Code != 503 || st.Details.RetryAfterSeconds != 2 {
				t.Errorf("503 answer: Retry-After %q, body %s", h.Get("Retry-After"), body)
			}
		}
	}
	if code, _, _, _ := do(hc, "GET", host+"/apis/x", ""); code != 200 {
		t.Errorf("GET got %d; the fault is for PATCH only", code)
	}
	if code, _, _, _ := do(hc, "PATCH", host+"/api/v1", "{}"); code != 200 {
		t.Errorf("PATCH /api/v1 got %d; the fault is for /apis/ only", code)
	}
	if n := len(u.requests()); n != 3 {
		t.Errorf("the API server saw %d requests, want 3: %v", n, u.requests())
	}
	if inj := c.Injected(); len(inj) != 2 || inj[0] != "respond 503 retry-after=2 PATCH /apis/x" {
		t.Errorf("injected: %q", inj)
	}
}

// Share spreads failures evenly over the matching requests.
func TestShare(t *testing.T) {
	_, p := setup(t)
	p.Cluster("up").Inject(Fault{Action: Respond, Code: 429, Share: 0.5})
	hc, host := client(t, p, "cert", 5*time.Second)
	var codes []int
	for range 6 {
		code, _, _, _ := do(hc, "GET", host+"/x", "")
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[200 429 200 429 200 429]" {
		t.Errorf("codes = %v", codes)
	}
}

// Reset: the client's read fails with ECONNRESET; with Forward the API
// server got the request first.
func TestReset(t *testing.T) {
	u, p := setup(t)
	c := p.Cluster("up")
	c.Inject(Fault{Action: Reset, Method: "DELETE", Times: 1}, Fault{Action: Reset, Method: "PATCH", Forward: true, Times: 1})
	hc, host := client(t, p, "cert", 5*time.Second)
	_, _, _, err := do(hc, "DELETE", host+"/apis/x", "")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("DELETE: %v, want a connection reset", err)
	}
	_, _, _, err = do(hc, "PATCH", host+"/apis/y", "{}")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("PATCH: %v, want a connection reset", err)
	}
	if seen := u.requests(); len(seen) != 1 || seen[0] != "PATCH /apis/y alice" {
		t.Errorf("the API server saw %q; want only the forwarded PATCH", seen)
	}
	if code, _, _, err := do(hc, "DELETE", host+"/apis/x", ""); err != nil || code != 200 {
		t.Errorf("after the fault: %d %v", code, err)
	}
}

// Stall: no answer until the client gives up; with a hold, a late answer.
func TestStall(t *testing.T) {
	_, p := setup(t)
	c := p.Cluster("up")
	c.Inject(Fault{Action: Stall, Times: 1}, Fault{Action: Stall, Hold: 300 * time.Millisecond, Times: 1})
	hc, host := client(t, p, "cert", time.Second)
	start := time.Now()
	_, _, _, err := do(hc, "GET", host+"/x", "")
	// The client's timeout reads "Client.Timeout exceeded" or "context
	// deadline exceeded", depending on where it found the request.
	var timeout net.Error
	if !errors.As(err, &timeout) || !timeout.Timeout() || time.Since(start) < time.Second {
		t.Errorf("stalled GET: %v after %s, want the client's timeout", err, time.Since(start))
	}
	start = time.Now()
	code, _, _, err := do(hc, "GET", host+"/x", "")
	if err != nil || code != 200 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("held GET: %d %v after %s, want 200 after the hold", code, err, time.Since(start))
	}
	// Close ends a stall at once.
	c.Inject(Fault{Action: Stall})
	hc, _ = client(t, p, "cert", time.Minute)
	go func() { time.Sleep(200 * time.Millisecond); p.Close() }()
	start = time.Now()
	if _, _, _, err := do(hc, "GET", host+"/x", ""); err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("stall after Close: %v after %s", err, time.Since(start))
	}
}

// Release lets a stalled request through: the client gets the server's answer.
func TestStallRelease(t *testing.T) {
	_, p := setup(t)
	c := p.Cluster("up")
	c.Inject(Fault{Action: Stall, Times: 1})
	hc, host := client(t, p, "cert", time.Minute)
	type answer struct {
		code int
		err  error
	}
	done := make(chan answer)
	go func() {
		code, _, _, err := do(hc, "GET", host+"/x", "")
		done <- answer{code, err}
	}()
	for len(c.Injected()) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case a := <-done:
		t.Fatalf("stalled GET answered before Release: %d %v", a.code, a.err)
	default:
	}
	c.Release()
	if a := <-done; a.err != nil || a.code != 200 {
		t.Errorf("released GET: %d %v, want 200", a.code, a.err)
	}
}

// Cut: the status and headers arrive, then half the body, then the end.
func TestCut(t *testing.T) {
	_, p := setup(t)
	p.Cluster("up").Inject(Fault{Action: Cut, Times: 1})
	hc, host := client(t, p, "cert", 5*time.Second)
	code, _, body, err := do(hc, "GET", host+"/big", "")
	if code != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != len(bigBody)/2 {
		t.Errorf("cut GET: %d, %v, %d of %d bytes", code, err, len(body), len(bigBody))
	}
	if code, _, body, err := do(hc, "GET", host+"/big", ""); err != nil || code != 200 || body != bigBody {
		t.Errorf("after the cut: %d %v", code, err)
	}
}

func TestParseFault(t *testing.T) {
	cluster, f, err := ParseFault("c2:respond:code=503,retry-after=1,method=patch,path=^/apis/,times=3,share=0.5")
	want := Fault{Action: Respond, Code: 503, RetryAfter: "1", Method: "PATCH", Path: "^/apis/", Times: 3, Share: 0.5}
	if err != nil || cluster != "c2" || f != want {
		t.Errorf("got %s %+v %v", cluster, f, err)
	}
	if _, f, err := ParseFault("c1:stall:hold=30s,forward"); err != nil || f != (Fault{Action: Stall, Hold: 30 * time.Second, Forward: true}) {
		t.Errorf("stall: %+v %v", f, err)
	}
	for _, bad := range []string{"c1", ":reset", "c1:explode", "c1:respond", "c1:respond:code=503,retry-after=soon", "c1:cut:share=2", "c1:reset:colour=red", "c1:reset:path=("} {
		if _, _, err := ParseFault(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
