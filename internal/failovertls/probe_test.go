package failovertls

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startTarget runs a mutual-TLS failover listener on loopback serving the
// target's Secret for snis, answering status.
func startTarget(t *testing.T, target *Material, snis []string, status int) string {
	t.Helper()
	cfg, err := ServerConfig(target, snis)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go Serve(ln, cfg, status)
	return ln.Addr().String()
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbe(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "fleet-ca", certOpts{})
	rogue := newTestCA(t, "rogue-ca", certOpts{})
	mat := func(a *testCA, o certOpts, root *testCA) *Material {
		_, cert, key := a.sign(t, o)
		return Parse("gw/"+o.cn, SecretType, secretData(cert, key, root.pem()))
	}
	goodClient, goodServer := mat(ca, client("us-east"), ca), mat(ca, server(sni), ca)
	expired := certOpts{cn: "failover", dns: []string{sni}, notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)}
	served := []string{sni}
	cases := []struct {
		name           string
		client, server *Material
		snis           []string
		status         int
		probeSNI       string
		addr           string
		want           Outcome
		detail         string
	}{
		{"healthy", goodClient, goodServer, served, 200, sni, "", Healthy, ""},
		{"unhealthy", goodClient, goodServer, served, 503, sni, "", Unhealthy, "/healthz answered 503"},
		{"server from another CA", goodClient, mat(rogue, server(sni), ca), served, 200, sni, "", ServerNotTrusted, "unknown authority"},
		{"server expired", goodClient, mat(ca, expired, ca), served, 200, sni, "", ServerNotTrusted, "expired"},
		{"server without the SAN", goodClient, mat(ca, server("other.failover.gatefed.internal"), ca), nil, 200, sni, "", ServerNotTrusted, "certificate is valid for other.failover.gatefed.internal"},
		{"client from another CA", mat(rogue, client("us-east"), ca), goodServer, served, 200, sni, "", ClientRefused, "the server's alert"},
		{"client without clientAuth", mat(ca, server("us-east"), ca), goodServer, served, 200, sni, "", ClientRefused, "the server's alert"},
		{"SNI not served", goodClient, mat(ca, server("*.shop.failover.gatefed.internal"), ca), served, 200, "cart-80.shop.failover.gatefed.internal", "", SNINotServed, "closed the connection"},
		{"not reachable", goodClient, goodServer, served, 200, sni, closedAddr(t), NotReachable, "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := c.addr
			if addr == "" {
				addr = startTarget(t, c.server, c.snis, c.status)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res := Probe(ctx, ProbeRequest{Addr: addr, SNI: c.probeSNI, VerifyName: true, Client: c.client, Host: "checkout.shop", Path: "/healthz"})
			if res.Outcome != c.want || !strings.Contains(res.Detail, c.detail) {
				t.Fatalf("got %+v, want %s with detail containing %q", res, c.want, c.detail)
			}
			if c.want == Healthy && res.Status != http.StatusOK {
				t.Fatalf("status %d", res.Status)
			}
		})
	}
	t.Run("a source that checks only the CA accepts a certificate without the SAN", func(t *testing.T) {
		addr := startTarget(t, mat(ca, server("other.failover.gatefed.internal"), ca), nil, 200)
		res := Probe(context.Background(), ProbeRequest{Addr: addr, SNI: sni, Client: goodClient, Path: "/healthz", Host: "checkout.shop"})
		if res.Outcome != Healthy {
			t.Fatalf("got %+v", res)
		}
	})
}
