// Command rttproxy puts a network round trip between clients and the API
// servers of a kubeconfig: for each cluster it listens on a loopback port,
// forwards to the cluster's server and delays every byte by half the round
// trip in each direction. It writes a kubeconfig whose clusters point at the
// proxies, then runs until interrupted.
//
// hack/bench-apply.sh uses it (RTT=20ms) so that gatefed and kubectl meet
// the same network distance as clusters in other zones or regions.
//
// Usage: go run ./hack/rttproxy -kubeconfig IN -out OUT -rtt 20ms
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	in := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig whose clusters to proxy")
	out := flag.String("out", "", "kubeconfig to write, pointing at the proxies")
	rtt := flag.Duration("rtt", 20*time.Millisecond, "round trip to add")
	flag.Parse()
	if err := run(*in, *out, *rtt); err != nil {
		fmt.Fprintln(os.Stderr, "rttproxy:", err)
		os.Exit(2)
	}
}

func run(in, out string, rtt time.Duration) error {
	if in == "" || out == "" {
		return errors.New("-kubeconfig and -out are required")
	}
	cfg, err := clientcmd.LoadFromFile(in)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(cfg.Clusters))
	for name := range cfg.Clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := cfg.Clusters[name]
		u, err := url.Parse(c.Server)
		if err != nil {
			return fmt.Errorf("cluster %s: server %q: %w", name, c.Server, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go serve(ln, u.Host, rtt/2)
		fmt.Fprintf(os.Stderr, "rttproxy: %s: %s -> %s, +%s round trip\n", name, ln.Addr(), u.Host, rtt)
		u.Host = ln.Addr().String()
		c.Server = u.String()
	}
	// Written whole, then renamed: a reader never sees half a file.
	if err := clientcmd.WriteToFile(*cfg, out+".tmp"); err != nil {
		return err
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	return nil
}

func serve(ln net.Listener, upstream string, oneWay time.Duration) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			server, err := net.Dial("tcp", upstream)
			if err != nil {
				client.Close()
				return
			}
			done := make(chan struct{}, 2)
			go func() { delayCopy(server, client, oneWay); done <- struct{}{} }()
			go func() { delayCopy(client, server, oneWay); done <- struct{}{} }()
			<-done
			<-done
			client.Close()
			server.Close()
		}()
	}
}

// delayCopy copies src to dst, each chunk written delay after it was read,
// in order: a link with that latency and no bandwidth limit.
func delayCopy(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		due  time.Time
		data []byte
	}
	chunks := make(chan chunk, 4096)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range chunks {
		if failed {
			continue // drop what is left, until the reader ends
		}
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			failed = true
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}
