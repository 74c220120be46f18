package failovertls

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

// Outcome names what a mutual-TLS probe of a failover path found.
type Outcome string

// Probe outcomes.
const (
	// Healthy: the target accepted the client certificate and the health path answered 200.
	Healthy Outcome = "accepted-healthy"
	// Unhealthy: accepted, but the health path answered another status (or nothing HTTP).
	Unhealthy Outcome = "accepted-unhealthy"
	// ServerNotTrusted: the target's serving certificate fails the source's verification.
	ServerNotTrusted Outcome = "server-not-trusted"
	// ClientRefused: the target refused the source's client certificate (its alert says why).
	ClientRefused Outcome = "client-refused"
	// SNINotServed: the target closed the handshake: no listener for this SNI.
	SNINotServed Outcome = "sni-not-served"
	// NotReachable: no TCP connection from this host.
	NotReachable Outcome = "not-reachable"
	// NoClientCertificate: the source's Secret has no certificate and key
	// that belong together, so its gateway cannot open the path at all.
	NoClientCertificate Outcome = "client-certificate-unusable"
)

// ProbeRequest is one failover path to probe, as the source's gateway takes it.
type ProbeRequest struct {
	// Addr is the target's failover address, host:port.
	Addr string
	SNI  string
	// VerifyName: the source's gateway checks that the serving certificate carries SNI.
	VerifyName bool
	// Client is the source's failover-upstream Secret (client certificate and the CA that verifies servers).
	Client *Material
	// Host and Path make the health request: GET Path with Host.
	Host, Path string
}

// ProbeResult is one probe's outcome.
type ProbeResult struct {
	Outcome Outcome `json:"outcome"`
	// Status is the health request's HTTP status, when one came.
	Status int `json:"status,omitempty"`
	// LatencyMS is from dialling to the response's headers.
	LatencyMS int64 `json:"latencyMs"`
	// Detail is the server's alert, the verification error or the dial error.
	Detail string `json:"detail,omitempty"`
}

var errNotTrusted = errors.New("server not trusted")

// Probe dials the target, verifies it as the source would and sends the
// health request through the tunnel. ctx bounds it.
func Probe(ctx context.Context, req ProbeRequest) ProbeResult {
	start := time.Now()
	res := probe(ctx, req)
	res.LatencyMS = time.Since(start).Milliseconds()
	return res
}

func probe(ctx context.Context, req ProbeRequest) ProbeResult {
	cert, ok := req.Client.TLSCertificate()
	if !ok {
		return ProbeResult{Outcome: NoClientCertificate, Detail: fmt.Sprintf("Secret %s holds no client certificate with its key; not dialled", req.Client.Name)}
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", req.Addr)
	if err != nil {
		return ProbeResult{Outcome: NotReachable, Detail: DialText(err)}
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	var verifyErr error
	conn := tls.Client(raw, &tls.Config{
		ServerName:         req.SNI,
		Certificates:       []tls.Certificate{cert},
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified below, as the source's gateway verifies
		VerifyConnection: func(cs tls.ConnectionState) error {
			verifyErr = verifyServer(cs, req)
			if verifyErr != nil {
				return errNotTrusted
			}
			return nil
		},
	})
	if err := conn.HandshakeContext(ctx); err != nil {
		return handshakeFailure(err, verifyErr)
	}
	return healthRequest(conn, req)
}

// verifyServer checks the served chain against the source's ca.crt, with
// the SNI as the name when the source's gateway checks names.
func verifyServer(cs tls.ConnectionState, req ProbeRequest) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: req.Client.Pool(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if req.VerifyName {
		opts.DNSName = req.SNI
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

func handshakeFailure(err, verifyErr error) ProbeResult {
	switch {
	case verifyErr != nil:
		return ProbeResult{Outcome: ServerNotTrusted, Detail: verifyErr.Error()}
	case RemoteAlert(err) != "":
		return alertResult(RemoteAlert(err))
	case IsTimeout(err):
		return ProbeResult{Outcome: NotReachable, Detail: "no TLS answer in time"}
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		return ProbeResult{Outcome: SNINotServed, Detail: "the target closed the connection during the handshake: no failover listener for this SNI"}
	}
	return ProbeResult{Outcome: SNINotServed, Detail: "TLS handshake failed: " + err.Error()}
}

// alertResult sorts a server's alert: "unrecognized name" is an SNI it does
// not serve; anything else at this stage refuses the client certificate.
func alertResult(alert string) ProbeResult {
	if strings.Contains(alert, "unrecognized name") {
		return ProbeResult{Outcome: SNINotServed, Detail: "the server's alert: " + alert}
	}
	return ProbeResult{Outcome: ClientRefused, Detail: "the server's alert: " + alert}
}

// healthRequest sends GET path through the tunnel. With TLS 1.3 the server
// judges the client certificate after the handshake, so a refusal comes here.
func healthRequest(conn *tls.Conn, req ProbeRequest) ProbeResult {
	path := req.Path
	if path == "" {
		path = "/"
	}
	hr, err := http.NewRequest(http.MethodGet, "http://"+req.Host+path, nil)
	if err != nil {
		return ProbeResult{Outcome: Unhealthy, Detail: "bad health request: " + err.Error()}
	}
	hr.Close = true
	hr.Header.Set("User-Agent", "gatefed-check")
	if err := hr.Write(conn); err != nil {
		return readFailure(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), hr)
	if err != nil {
		return readFailure(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return ProbeResult{Outcome: Healthy, Status: resp.StatusCode}
	}
	return ProbeResult{Outcome: Unhealthy, Status: resp.StatusCode, Detail: fmt.Sprintf("%s answered %d", path, resp.StatusCode)}
}

func readFailure(err error) ProbeResult {
	if a := RemoteAlert(err); a != "" {
		return alertResult(a)
	}
	if IsTimeout(err) {
		return ProbeResult{Outcome: Unhealthy, Detail: "accepted, but no HTTP answer in time"}
	}
	return ProbeResult{Outcome: Unhealthy, Detail: "accepted, but no HTTP answer: " + err.Error()}
}

// RemoteAlert is the TLS alert the server sent ("tls: certificate
// required"), or "": crypto/tls reports a received alert as a *net.OpError
// with Op "remote error".
func RemoteAlert(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		return op.Err.Error()
	}
	return ""
}

// IsTimeout reports whether err is a deadline or a network timeout.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// DialText says why a dial failed, in a few words.
func DialText(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case IsTimeout(err):
		return "timed out"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "cannot resolve " + dnsErr.Name + ": " + dnsErr.Err
	}
	return err.Error()
}
