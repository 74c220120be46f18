package failovertls

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"
)

// ServerConfig is the TLS side of a failover listener as the gateways run
// it: it serves the Secret's certificate, requires a client certificate
// signed by a CA in the Secret's ca.crt, and closes the connection on an
// SNI outside snis (nil serves any), as Envoy does when no filter chain
// matches.
func ServerConfig(server *Material, snis []string) (*tls.Config, error) {
	cert, ok := server.TLSCertificate()
	if !ok {
		return nil, fmt.Errorf("Secret %s holds no usable certificate and key", server.Name)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if snis != nil && !slices.Contains(snis, hello.ServerName) {
				hello.Conn.Close()
				return nil, errors.New("no failover listener for this SNI")
			}
			return nil, nil
		},
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    server.Pool(),
	}, nil
}

// Serve accepts mutual-TLS connections on ln until it is closed and answers
// each HTTP request with status: a stand-in for a failover target's gateway
// and the service behind it.
func Serve(ln net.Listener, cfg *tls.Config, status int) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go answer(tls.Server(c, cfg), status)
	}
}

func answer(c *tls.Conn, status int) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if c.Handshake() != nil {
		return
	}
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	req.Body.Close()
	resp := &http.Response{StatusCode: status, ProtoMajor: 1, ProtoMinor: 1, Close: true, Header: http.Header{}, Request: req, ContentLength: 0}
	_ = resp.Write(c)
}
