package check

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestProbeFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sni := "checkout-8080.shop.failover.gatefed.internal"

	t.Run("mutual TLS listener answers", func(t *testing.T) {
		p := ProbeFailover(ctx, StartTLSListener(t, true), sni)
		if p.Outcome != TLSAnswered {
			t.Fatalf("outcome %s (%s), want %s", p.Outcome, p.Detail, TLSAnswered)
		}
		// Whether the refusal shows during the handshake (TLS 1.2) or
		// right after it (TLS 1.3), the probe says the server asked for a certificate.
		if !strings.Contains(p.Detail, "alert") || !strings.Contains(p.Detail, "certificate") {
			t.Errorf("detail %q does not tell the server refused for want of a client certificate", p.Detail)
		}
	})
	t.Run("plain TLS listener answers", func(t *testing.T) {
		p := ProbeFailover(ctx, StartTLSListener(t, false), sni)
		if p.Outcome != TLSAnswered || !strings.HasPrefix(p.Detail, "TLS 1.3") {
			t.Fatalf("got %s (%s), want %s with TLS 1.3", p.Outcome, p.Detail, TLSAnswered)
		}
	})
	t.Run("nothing listens", func(t *testing.T) {
		p := ProbeFailover(ctx, ClosedPort(t), sni)
		if p.Outcome != Refused || p.Detail != "connection refused" {
			t.Fatalf("got %s (%s), want %s", p.Outcome, p.Detail, Refused)
		}
	})
	t.Run("not TLS", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
				c.Close()
			}
		}()
		p := ProbeFailover(ctx, ln.Addr().String(), sni)
		if p.Outcome != NotTLS {
			t.Fatalf("got %s (%s), want %s", p.Outcome, p.Detail, NotTLS)
		}
	})
	t.Run("silent listener times out", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			if c, err := ln.Accept(); err == nil {
				accepted <- c // held open, silent, until the test ends
			}
		}()
		defer func() {
			select {
			case c := <-accepted:
				c.Close()
			default:
			}
		}()
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		p := ProbeFailover(short, ln.Addr().String(), sni)
		if p.Outcome != Timeout {
			t.Fatalf("got %s (%s), want %s", p.Outcome, p.Detail, Timeout)
		}
	})
	t.Run("unresolvable name", func(t *testing.T) {
		p := ProbeFailover(ctx, "no-such-host.invalid:15443", sni)
		if p.Outcome != Unreachable || !strings.Contains(p.Detail, "cannot resolve") {
			t.Fatalf("got %s (%s), want %s", p.Outcome, p.Detail, Unreachable)
		}
	})
}
