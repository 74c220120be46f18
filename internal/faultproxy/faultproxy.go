// Package faultproxy puts an HTTPS proxy in front of each API server of a
// kubeconfig and makes chosen requests fail: an error status (with
// Retry-After), a reset connection, an answer that never comes, or one cut
// off halfway through its body. Everything else passes through unchanged.
//
// Each proxy terminates TLS with a certificate of its own CA and sends the
// request on to the API server as the client it came from: a bearer token
// travels in its header, and a client certificate the proxy recognises (one
// of the kubeconfig's users) is presented again upstream with that user's
// key. Start writes a copy of the kubeconfig whose clusters point at the
// proxies and trust their CA, so any client of that kubeconfig (gatefed,
// kubectl) goes through them.
//
// The proxies speak HTTP/1.1 to clients, so that a reset or a cut ends a TCP
// connection (as a load balancer or a restarting API server does) rather than
// one HTTP/2 stream. Upstream they speak whatever the API server offers.
//
// Tests start a proxy in-process; hack/faultproxy runs one from the command line.
package faultproxy

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gatefed/gatefed/internal/localfleet"
)

// Action is what a fault does to a request.
type Action string

// Actions.
const (
	// Respond answers Code with a Kubernetes Status body (and a Retry-After
	// header when RetryAfter is set). The request does not reach the API server.
	Respond Action = "respond"
	// Reset resets the client's TCP connection instead of answering.
	Reset Action = "reset"
	// Stall sends no answer for Hold (0: until the client gives up) or until
	// Release; a client still waiting then gets the API server's answer.
	Stall Action = "stall"
	// Cut sends the API server's status, headers and the first half of its
	// body, then closes the connection.
	Cut Action = "cut"
)

// Fault makes some of a cluster's requests fail.
type Fault struct {
	Action Action
	// Code is the status Respond answers (500, 503, 429, ...).
	Code int
	// RetryAfter is the Retry-After header of Respond, in seconds; "" sends none.
	RetryAfter string
	// Hold is how long Stall holds the answer back (0: until the client
	// gives up); Release ends every hold at once.
	Hold time.Duration
	// Forward sends the request to the API server before a Reset or Stall:
	// the server acts on it, and only its answer is lost (or late).
	Forward bool

	// Method limits the fault to requests with this method ("" any).
	Method string
	// Path limits the fault to requests whose URL path matches this regular
	// expression ("" any).
	Path string
	// Share is the part of the matching requests that fail, spread evenly
	// (0.5: every second one; 0 or 1: all of them).
	Share float64
	// Times is how many requests fail at most (0: no limit). Times 3 with
	// Share 0 fails the first three matching requests.
	Times int
}

func (f Fault) validate() error {
	switch f.Action {
	case Respond:
		if f.Code < 100 || f.Code > 599 {
			return fmt.Errorf("respond needs a status code, not %d", f.Code)
		}
		if f.RetryAfter != "" {
			if _, err := strconv.Atoi(f.RetryAfter); err != nil {
				if _, err := http.ParseTime(f.RetryAfter); err != nil {
					return fmt.Errorf("retry-after %q is neither seconds nor an HTTP date", f.RetryAfter)
				}
			}
		}
	case Reset, Stall, Cut:
	default:
		return fmt.Errorf("unknown action %q (respond, reset, stall, cut)", f.Action)
	}
	if f.Share < 0 || f.Share > 1 {
		return fmt.Errorf("share %v is not between 0 and 1", f.Share)
	}
	if f.Times < 0 {
		return fmt.Errorf("times %d is negative", f.Times)
	}
	if f.Path != "" {
		if _, err := regexp.Compile(f.Path); err != nil {
			return fmt.Errorf("path: %w", err)
		}
	}
	return nil
}

func (f Fault) String() string {
	var b strings.Builder
	b.WriteString(string(f.Action))
	switch f.Action {
	case Respond:
		fmt.Fprintf(&b, " %d", f.Code)
		if f.RetryAfter != "" {
			fmt.Fprintf(&b, " retry-after=%s", f.RetryAfter)
		}
	case Stall:
		if f.Hold > 0 {
			fmt.Fprintf(&b, " %s", f.Hold)
		}
	}
	if f.Forward {
		b.WriteString(" after forwarding")
	}
	return b.String()
}

// Options configure Start.
type Options struct {
	// Kubeconfig is the kubeconfig whose clusters are proxied.
	Kubeconfig string
	// Out is where the kubeconfig pointing at the proxies is written.
	Out string
	// Clusters are the kubeconfig's cluster entries to proxy (default all);
	// the others are written to Out unchanged.
	Clusters []string
	// Logf, when set, is told of every fault injected.
	Logf func(format string, args ...any)
}

// Proxy is a running set of per-cluster proxies.
type Proxy struct {
	// Kubeconfig is the path of the kubeconfig that points at the proxies.
	Kubeconfig string
	// CACert is the PEM certificate the proxies' serving certificates chain to.
	CACert []byte

	clusters map[string]*Cluster
	names    []string
}

// Cluster is the proxy of one kubeconfig cluster entry.
type Cluster struct {
	// Name is the kubeconfig cluster entry.
	Name string
	// URL is the proxy's address, https://127.0.0.1:PORT.
	URL string
	// Upstream is the API server's address.
	Upstream string

	logf     func(format string, args ...any)
	upstream *url.URL
	tlsBase  *tls.Config
	ids      map[[32]byte]tls.Certificate // client certificate -> the user's key pair
	srv      *http.Server
	ln       net.Listener
	closed   chan struct{}

	mu         sync.Mutex
	transports map[[32]byte]*http.Transport // by client certificate; the zero key: none
	rules      []*rule
	requests   int
	injected   []string
	release    chan struct{} // closed by Release
}

type rule struct {
	Fault
	path    *regexp.Regexp
	matched int
	fired   int
}

// Start proxies the clusters of opts.Kubeconfig and writes opts.Out.
func Start(opts Options) (*Proxy, error) {
	if opts.Kubeconfig == "" || opts.Out == "" {
		return nil, errors.New("faultproxy: Kubeconfig and Out are required")
	}
	cfg, err := clientcmd.LoadFromFile(opts.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if err := clientcmd.ResolveLocalPaths(cfg); err != nil {
		return nil, err
	}
	names := opts.Clusters
	if len(names) == 0 {
		for name := range cfg.Clusters {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	ids, err := identities(cfg)
	if err != nil {
		return nil, err
	}
	// The proxies' own CA: clients of the written kubeconfig trust it
	// instead of the API servers' CAs. Every proxy serves 127.0.0.1 and localhost.
	ca, err := localfleet.NewCertAuthority("gatefed-faultproxy")
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.ServerCert("127.0.0.1", "localhost")
	if err != nil {
		return nil, err
	}
	serving, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	p := &Proxy{Kubeconfig: opts.Out, CACert: ca.CertPEM(), clusters: map[string]*Cluster{}, names: names}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	for _, name := range names {
		kc := cfg.Clusters[name]
		if kc == nil {
			p.Close()
			return nil, fmt.Errorf("faultproxy: the kubeconfig has no cluster %q", name)
		}
		c, err := startCluster(name, kc, ids, serving, logf)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("faultproxy: cluster %s: %w", name, err)
		}
		p.clusters[name] = c
		kc.Server = c.URL
		kc.CertificateAuthority = ""
		kc.CertificateAuthorityData = ca.CertPEM()
		kc.TLSServerName = ""
		kc.InsecureSkipTLSVerify = false
		kc.ProxyURL = ""
	}
	// Written whole, then renamed: a reader never sees half a file.
	if err := clientcmd.WriteToFile(*cfg, opts.Out+".tmp"); err != nil {
		p.Close()
		return nil, err
	}
	if err := os.Rename(opts.Out+".tmp", opts.Out); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Cluster returns the proxy of a kubeconfig cluster entry, or nil.
func (p *Proxy) Cluster(name string) *Cluster { return p.clusters[name] }

// Names lists the proxied cluster entries.
func (p *Proxy) Names() []string { return append([]string(nil), p.names...) }

// Close stops every proxy; requests held by Stall end at once.
func (p *Proxy) Close() error {
	var errs []error
	for _, c := range p.clusters {
		errs = append(errs, c.close())
	}
	return errors.Join(errs...)
}

// Inject replaces the cluster's faults, and starts Injected afresh. A
// request gets the first fault that matches it and whose share and times
// let it fail.
func (c *Cluster) Inject(faults ...Fault) error {
	rules := make([]*rule, 0, len(faults))
	for _, f := range faults {
		if err := f.validate(); err != nil {
			return fmt.Errorf("faultproxy: cluster %s: %w", c.Name, err)
		}
		r := &rule{Fault: f}
		if f.Path != "" {
			r.path = regexp.MustCompile(f.Path)
		}
		rules = append(rules, r)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rules = rules
	c.injected = nil
	return nil
}

// Release lets every request Stall holds now go on, as if its Hold had
// passed; requests stalled later are held again.
func (c *Cluster) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.release != nil {
		close(c.release)
		c.release = nil
	}
}

// Clear removes the cluster's faults: everything passes again.
func (c *Cluster) Clear() { _ = c.Inject() }

// Requests is how many requests reached the proxy.
func (c *Cluster) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// Injected lists the faults injected since the last Inject (or Clear), one
// "ACTION METHOD PATH" line each.
func (c *Cluster) Injected() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.injected...)
}

// pick counts the request and returns the fault it gets, if any, and the
// channel the next Release closes.
func (c *Cluster) pick(r *http.Request) (*Fault, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	if c.release == nil {
		c.release = make(chan struct{})
	}
	for _, rl := range c.rules {
		if rl.Method != "" && !strings.EqualFold(rl.Method, r.Method) {
			continue
		}
		if rl.path != nil && !rl.path.MatchString(r.URL.Path) {
			continue
		}
		rl.matched++
		if rl.Times > 0 && rl.fired >= rl.Times {
			continue
		}
		if share := rl.Share; share > 0 && share < 1 &&
			math.Floor(float64(rl.matched)*share) == math.Floor(float64(rl.matched-1)*share) {
			continue
		}
		rl.fired++
		line := fmt.Sprintf("%s %s %s", rl.Fault, r.Method, r.URL.Path)
		c.injected = append(c.injected, line)
		c.logf("faultproxy: %s: %s", c.Name, line)
		f := rl.Fault
		return &f, c.release
	}
	return nil, nil
}

func startCluster(name string, kc *clientcmdapi.Cluster, ids map[[32]byte]tls.Certificate, serving tls.Certificate, logf func(string, ...any)) (*Cluster, error) {
	up, err := url.Parse(kc.Server)
	if err != nil {
		return nil, fmt.Errorf("server %q: %w", kc.Server, err)
	}
	base := &tls.Config{ServerName: up.Hostname(), InsecureSkipVerify: kc.InsecureSkipTLSVerify}
	if kc.TLSServerName != "" {
		base.ServerName = kc.TLSServerName
	}
	caPEM := kc.CertificateAuthorityData
	if len(caPEM) == 0 && kc.CertificateAuthority != "" {
		if caPEM, err = os.ReadFile(kc.CertificateAuthority); err != nil {
			return nil, err
		}
	}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("no certificate in the cluster's CA data")
		}
		base.RootCAs = pool
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		Name: name, URL: "https://" + ln.Addr().String(), Upstream: kc.Server,
		logf: logf, upstream: up, tlsBase: base, ids: ids, ln: ln,
		closed: make(chan struct{}), transports: map[[32]byte]*http.Transport{},
	}
	c.srv = &http.Server{
		Handler: c,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{serving},
			NextProtos:   []string{"http/1.1"},
			ClientAuth:   tls.RequestClientCert,
		},
		// HTTP/1.1 only: a reset or a cut ends a TCP connection.
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0), // handshakes that clients abandon are no news
	}
	go c.srv.ServeTLS(ln, "", "")
	return c, nil
}

func (c *Cluster) close() error {
	select {
	case <-c.closed:
		return nil
	default:
		close(c.closed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.srv.Shutdown(ctx)
	if err != nil {
		err = c.srv.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.transports {
		t.CloseIdleConnections()
	}
	return err
}

// transport is the upstream transport for the client certificate the
// request came with (none, or one of the kubeconfig's users).
func (c *Cluster) transport(r *http.Request) (*http.Transport, error) {
	var key [32]byte
	var cert *tls.Certificate
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		key = sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
		id, ok := c.ids[key]
		if !ok {
			return nil, errors.New("the client certificate is none of the kubeconfig's users: the proxy cannot present it upstream")
		}
		cert = &id
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.transports[key]; t != nil {
		return t, nil
	}
	cfg := c.tlsBase.Clone()
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	t := &http.Transport{
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	}
	c.transports[key] = t
	return t, nil
}

// hopHeaders are not forwarded.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// roundTrip sends the request on to the API server.
func (c *Cluster) roundTrip(r *http.Request) (*http.Response, error) {
	t, err := c.transport(r)
	if err != nil {
		return nil, err
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Host = ""
	u := *c.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawPath = ""
	u.RawQuery = r.URL.RawQuery
	out.URL = &u
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return t.RoundTrip(out)
}

func (c *Cluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, released := c.pick(r)
	if f == nil {
		c.forward(w, r)
		return
	}
	switch f.Action {
	case Respond:
		_, _ = io.Copy(io.Discard, r.Body)
		writeStatus(w, f.Code, f.RetryAfter, fmt.Sprintf("faultproxy: injected %d", f.Code))
	case Reset:
		if f.Forward {
			if resp, err := c.roundTrip(r); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		resetConn(w)
	case Stall:
		var resp *http.Response
		var body []byte
		var err error
		if f.Forward {
			if resp, err = c.roundTrip(r); err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}
		var hold <-chan time.Time
		if f.Hold > 0 {
			t := time.NewTimer(f.Hold)
			defer t.Stop()
			hold = t.C
		}
		select {
		case <-r.Context().Done():
			return
		case <-c.closed:
			resetConn(w)
			return
		case <-hold:
		case <-released:
		}
		if !f.Forward {
			c.forward(w, r)
			return
		}
		if err != nil {
			writeStatus(w, http.StatusBadGateway, "", "faultproxy: upstream: "+err.Error())
			return
		}
		copyHeader(w.Header(), resp.Header)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	case Cut:
		resp, err := c.roundTrip(r)
		if err != nil {
			writeStatus(w, http.StatusBadGateway, "", "faultproxy: upstream: "+err.Error())
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		copyHeader(w.Header(), resp.Header)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		closeConn(w, false)
	}
}

// forward passes the request through and streams the answer back.
func (c *Cluster) forward(w http.ResponseWriter, r *http.Request) {
	resp, err := c.roundTrip(r)
	if err != nil {
		writeStatus(w, http.StatusBadGateway, "", "faultproxy: upstream: "+err.Error())
		return
	}
	defer resp.Body.Close()
	copyHeader(w.Header(), resp.Header)
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	fl, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if fl != nil {
				fl.Flush() // watches stream
			}
		}
		if err != nil {
			if err != io.EOF {
				closeConn(w, false) // the upstream answer broke off: so does this one
			}
			return
		}
	}
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	for _, h := range hopHeaders {
		dst.Del(h)
	}
	dst.Del("Content-Length")
}

// writeStatus answers code with a Kubernetes Status, as an API server does.
func writeStatus(w http.ResponseWriter, code int, retryAfter, message string) {
	reason := map[int]string{
		http.StatusUnauthorized:        "Unauthorized",
		http.StatusForbidden:           "Forbidden",
		http.StatusNotFound:            "NotFound",
		http.StatusConflict:            "Conflict",
		http.StatusTooManyRequests:     "TooManyRequests",
		http.StatusInternalServerError: "InternalError",
		http.StatusServiceUnavailable:  "ServiceUnavailable",
		http.StatusGatewayTimeout:      "Timeout",
	}[code]
	status := map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": message, "reason": reason, "code": code,
	}
	if s, err := strconv.Atoi(retryAfter); err == nil {
		status["details"] = map[string]any{"retryAfterSeconds": s}
	}
	body, _ := json.Marshal(status)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// resetConn ends the client's connection with a TCP reset.
func resetConn(w http.ResponseWriter) { closeConn(w, true) }

// closeConn takes the connection over and closes it: with a TCP reset
// when reset is set, else with a plain close. Either way no TLS
// close_notify is sent, as when a peer vanishes.
func closeConn(w http.ResponseWriter, reset bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok && reset {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// identities maps each client certificate of the kubeconfig's users to its key pair.
func identities(cfg *clientcmdapi.Config) (map[[32]byte]tls.Certificate, error) {
	out := map[[32]byte]tls.Certificate{}
	for name, ai := range cfg.AuthInfos {
		certPEM, keyPEM := ai.ClientCertificateData, ai.ClientKeyData
		var err error
		if len(certPEM) == 0 && ai.ClientCertificate != "" {
			if certPEM, err = os.ReadFile(ai.ClientCertificate); err != nil {
				return nil, fmt.Errorf("user %s: %w", name, err)
			}
		}
		if len(keyPEM) == 0 && ai.ClientKey != "" {
			if keyPEM, err = os.ReadFile(ai.ClientKey); err != nil {
				return nil, fmt.Errorf("user %s: %w", name, err)
			}
		}
		if len(certPEM) == 0 || len(keyPEM) == 0 {
			continue
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", name, err)
		}
		out[sha256.Sum256(pair.Certificate[0])] = pair
	}
	return out, nil
}
