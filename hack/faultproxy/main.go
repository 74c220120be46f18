// Command faultproxy puts an HTTPS proxy in front of each API server of a
// kubeconfig and makes chosen requests fail (package internal/faultproxy):
// it writes a kubeconfig whose clusters point at the proxies, logs each
// fault it injects, and runs until interrupted.
//
// Usage:
//
//	go run ./hack/faultproxy -kubeconfig IN -out OUT -fault CLUSTER:ACTION[:KEY=VALUE,...] ...
//
// For example, the first three server-side applies to c2 answer 503, and
// every tenth request to c3 is cut off halfway through its answer:
//
//	go run ./hack/faultproxy -kubeconfig ~/.kube/config -out /tmp/faulty \
//	  -fault c2:respond:code=503,method=PATCH,times=3 -fault c3:cut:share=0.1
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gatefed/gatefed/internal/faultproxy"
)

type faultList []string

func (l *faultList) String() string     { return strings.Join(*l, " ") }
func (l *faultList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	in := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig whose clusters to proxy")
	out := flag.String("out", "", "kubeconfig to write, pointing at the proxies")
	var faults faultList
	flag.Var(&faults, "fault", "CLUSTER:ACTION[:KEY=VALUE,...], repeatable; actions respond, reset, stall, cut; keys code, retry-after, hold, method, path, share, times, forward")
	flag.Parse()
	if err := run(*in, *out, faults); err != nil {
		fmt.Fprintln(os.Stderr, "faultproxy:", err)
		os.Exit(2)
	}
}

func run(in, out string, specs []string) error {
	if in == "" || out == "" {
		return errors.New("-kubeconfig and -out are required")
	}
	byCluster := map[string][]faultproxy.Fault{}
	for _, s := range specs {
		cluster, f, err := faultproxy.ParseFault(s)
		if err != nil {
			return err
		}
		byCluster[cluster] = append(byCluster[cluster], f)
	}
	p, err := faultproxy.Start(faultproxy.Options{
		Kubeconfig: in, Out: out,
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	defer p.Close()
	for cluster, fs := range byCluster {
		c := p.Cluster(cluster)
		if c == nil {
			return fmt.Errorf("the kubeconfig has no cluster %q (clusters: %s)", cluster, strings.Join(p.Names(), ", "))
		}
		if err := c.Inject(fs...); err != nil {
			return err
		}
	}
	for _, name := range p.Names() {
		c := p.Cluster(name)
		fmt.Fprintf(os.Stderr, "faultproxy: %s: %s -> %s, %d %s\n", name, c.URL, c.Upstream, len(byCluster[name]), plural(len(byCluster[name])))
	}
	fmt.Fprintf(os.Stderr, "faultproxy: wrote %s\n", out)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	return nil
}

func plural(n int) string {
	if n == 1 {
		return "fault"
	}
	return "faults"
}
