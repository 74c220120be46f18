// Command benchscale measures gatefed on fleets of real API servers: for each
// size N it starts N kube-apiservers sharing one etcd (internal/localfleet),
// writes a fleet of N clusters (gloo and envoy-gateway alternating, every
// cluster a failover target) with the same services and routes on every
// cluster, and times with the gatefed binary: a cold apply (and the API
// servers' CPU time meanwhile), a no-op apply, a diff and a check, each with
// gatefed's peak resident set.
//
// hack/bench-scale.sh builds gatefed and runs it.
//
// Usage: go run ./hack/benchscale -gatefed bin/gatefed -sizes 5,10,20
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatefed/gatefed/internal/localfleet"
)

const namespace = "bench"

// measureArg makes benchscale run the rest of its arguments as a command and
// write that command's peak resident set to file descriptor 3 (see timed).
const measureArg = "-measure-rss"

func main() {
	if len(os.Args) > 2 && os.Args[1] == measureArg {
		os.Exit(measureRSS(os.Args[2:]))
	}
	gatefed := flag.String("gatefed", "bin/gatefed", "gatefed binary")
	sizes := flag.String("sizes", "5,10,20", "fleet sizes, comma-separated")
	services := flag.Int("services", 32, "services placed on every cluster")
	routes := flag.Int("routes", 16, "routes served by every cluster (the services spread over their rules)")
	flag.Parse()
	fmt.Printf("%d services and %d routes on every cluster; %d CPUs\n\n", *services, *routes, runtime.NumCPU())
	fmt.Printf("| clusters | objects | cold apply | API servers' CPU | apply / CPU | no-op apply | diff | check | peak RSS (apply / no-op / diff / check) | load average |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err == nil {
			err = benchSize(*gatefed, n, *services, *routes)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchscale:", err)
			os.Exit(1)
		}
	}
}

// run is one timed gatefed command.
type run struct {
	wall   time.Duration
	maxRSS int64 // bytes
	code   int
}

func benchSize(gatefed string, n, services, routes int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gatefed-benchscale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	begin := time.Now()
	f, err := localfleet.Start(ctx, localfleet.Options{Count: n, Dir: filepath.Join(dir, "fleet"), Progress: os.Stderr})
	if err != nil {
		return err
	}
	defer f.Stop()
	fmt.Fprintf(os.Stderr, "%d API servers ready in %s\n", n, time.Since(begin).Round(time.Second))
	for _, c := range f.Clusters {
		cs, err := kubernetes.NewForConfig(c.Config)
		if err != nil {
			return err
		}
		for _, name := range []string{namespace, "gloo-system", "envoy-gateway-system"} {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
			if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
	}
	fleetFile := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(fleetFile, []byte(fleetYAML(f, services, routes)), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	gf := func(args ...string) (run, error) { return timed(gatefed, env, append(args, "-f", fleetFile)...) }
	if _, err := gf("diff"); err != nil { // warms the discovery cache; writes nothing
		return err
	}
	objects, err := countObjects(gatefed, fleetFile)
	if err != nil {
		return err
	}
	cpuBefore := serverCPU(f)
	cold, err := gf("apply", "--yes")
	if err != nil {
		return err
	}
	cpu := serverCPU(f) - cpuBefore
	noop, err := gf("apply", "--yes")
	if err != nil {
		return err
	}
	diff, err := gf("diff")
	if err != nil {
		return err
	}
	if diff.code != 0 {
		return fmt.Errorf("%d clusters: diff after apply exits %d, want 0 (in sync)", n, diff.code)
	}
	check, err := gf("check")
	if err != nil {
		return err
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("| %d | %d | %s | %s | %.2fx | %s | %s | %s | %s / %s / %s / %s MB | %s |\n", n, objects,
		secs(cold.wall), secs(cpu), cold.wall.Seconds()/cpu.Seconds(), secs(noop.wall), secs(diff.wall), secs(check.wall),
		mb(cold.maxRSS), mb(noop.maxRSS), mb(diff.maxRSS), mb(check.maxRSS), strings.Join(strings.Fields(string(load))[:3], " "))
	return nil
}

// timed runs gatefed; exit status 1 (changes pending, a check failing) is a result, 2 an error.
//
// gatefed runs under a small copy of benchscale (measureArg) that reports its
// peak resident set: Go starts a child with vfork, and Linux counts the
// parent's resident set in a vforked child's peak, so gatefed's peak read
// here would be at least this process's, which holds the whole fleet.
func timed(gatefed string, env []string, args ...string) (run, error) {
	self, err := os.Executable()
	if err != nil {
		return run{}, err
	}
	rssR, rssW, err := os.Pipe()
	if err != nil {
		return run{}, err
	}
	defer rssR.Close()
	cmd := exec.Command(self, append([]string{measureArg, gatefed}, args...)...)
	cmd.Env = env
	cmd.ExtraFiles = []*os.File{rssW}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	begin := time.Now()
	err = cmd.Run()
	rssW.Close()
	r := run{wall: time.Since(begin)}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && r.code == 1) {
		return r, fmt.Errorf("gatefed %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	reported, _ := io.ReadAll(rssR)
	if r.maxRSS, err = strconv.ParseInt(strings.TrimSpace(string(reported)), 10, 64); err != nil {
		return r, fmt.Errorf("gatefed %s: no peak resident set reported: %q", strings.Join(args, " "), reported)
	}
	return r, nil
}

// measureRSS runs args with this process's standard streams and writes its
// peak resident set in bytes to file descriptor 3; it returns its exit status.
func measureRSS(args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		return 2
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		fmt.Fprintln(os.NewFile(3, "rss"), ru.Maxrss<<10)
	}
	return cmd.ProcessState.ExitCode()
}

func countObjects(gatefed, fleetFile string) (int, error) {
	out, err := exec.Command(gatefed, "render", "-f", fleetFile).Output()
	if err != nil {
		return 0, fmt.Errorf("gatefed render: %v", err)
	}
	return strings.Count(string(out), "\nkind: ") + boolInt(strings.HasPrefix(string(out), "kind: ")), nil
}

// serverCPU is the user and system CPU time of every API server so far.
func serverCPU(f *localfleet.Fleet) time.Duration {
	var total time.Duration
	for _, c := range f.Clusters {
		total += processCPU(c.Pid())
	}
	return total
}

// processCPU reads utime+stime of a process from /proc (clock ticks of 10ms).
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// fleetYAML places every service and route on every cluster: clusters
// alternate gloo and envoy-gateway, pairs share a region, every cluster is a
// failover target on its own loopback port.
func fleetYAML(f *localfleet.Fleet, services, routes int) string {
	var b strings.Builder
	for i, c := range f.Clusters {
		provider := "gloo"
		if i%2 == 1 {
			provider = "envoy-gateway"
		}
		fmt.Fprintf(&b, "---\napiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: %s}\nspec:\n  kubeconfig: %s\n  context: %s\n  region: r%d\n  zone: r%d-%d\n  gateway: {provider: %s}\n  failover: {address: 127.0.0.1, port: %d}\n",
			c.Name, f.Kubeconfig, c.Context, i/2, i/2, i%2, provider, 15443+i)
	}
	for s := range services {
		fmt.Fprintf(&b, "---\napiVersion: gatefed.dev/v1alpha1\nkind: GlobalService\nmetadata: {name: svc-%d, namespace: %s}\nspec:\n  port: 8080\n  healthCheck: {path: /healthz}\n", s, namespace)
	}
	for r := range routes {
		fmt.Fprintf(&b, "---\napiVersion: gatefed.dev/v1alpha1\nkind: GlobalRoute\nmetadata: {name: route-%d, namespace: %s}\nspec:\n  hosts: [r%d.example.com]\n  rules:\n", r, namespace, r)
		for s := r; s < services; s += routes {
			fmt.Fprintf(&b, "  - match: {pathPrefix: /s%d}\n    backends: [{service: svc-%d}]\n", s, s)
		}
	}
	return b.String()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
func mb(b int64) string           { return strconv.FormatInt(b/1e6, 10) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
