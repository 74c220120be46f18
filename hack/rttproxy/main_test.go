package main

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// Bytes arrive intact, in order, and no sooner than the delay in each direction.
func TestProxyDelaysEachWay(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const oneWay = 15 * time.Millisecond
	go serve(ln, echo.Addr().String(), oneWay)

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := bytes.Repeat([]byte("gatefed "), 50000) // several chunks
	start := time.Now()
	go conn.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2*oneWay {
		t.Errorf("round trip took %s, less than the %s the proxy adds", took, 2*oneWay)
	}
	if !bytes.Equal(got, msg) {
		t.Error("the bytes came back changed")
	}
}
