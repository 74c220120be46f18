// Package testfleet is the test harness around package localfleet: a fleet
// per test (StartT) or per package (Main), namespaces, user kubeconfigs,
// cluster restarts, the real Envoy Gateway controller, Istio's tools and the
// stand-in proxies of Envoy Gateway, and the variants of Gloo's status tests
// write. It imports testing: only tests import it
// (TestOnlyTestsImportIt), and the gatefed binary links none of it.
//
// Binaries come from hack/build-kube.sh (make kube-bins); see docs/testing.md.
package testfleet

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/localfleet"
)

// StartT starts a fleet for one test and stops it when the test ends, also
// on failure or timeout. A missing binary or a failed start fails the test.
func StartT(t testing.TB, opts localfleet.Options) *Fleet {
	t.Helper()
	if opts.Progress == nil && testing.Verbose() {
		opts.Progress = testLogWriter{t}
	}
	f, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start test fleet: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Errorf("stop test fleet: %v", err)
		}
	})
	return f
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Main starts one fleet shared by every test of a package, runs the tests,
// stops the fleet and returns the exit status. Call it from TestMain with a
// package variable (var fleet *testfleet.Fleet) and exit with what it returns.
//
// Tests sharing a fleet must not collide: give each its own namespace
// (Fleet.Namespace). A fleet that cannot start fails the test binary with the
// reason (for a missing binary, the command that builds it).
//
// No fleet starts for go test -run '^$' -fuzz TARGET, nor in its worker
// processes (which run TestMain again): fuzz targets use no API server.
func Main(m *testing.M, opts localfleet.Options, fleet **Fleet) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if flagValue("test.fuzzworker") == "true" || (flagValue("test.fuzz") != "" && flagValue("test.run") == "^$") {
		return m.Run()
	}
	if opts.Progress == nil && os.Getenv("GATEFED_FLEET_PROGRESS") != "" {
		opts.Progress = os.Stderr
	}
	f, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start test fleet: %v\n", err)
		return 1
	}
	*fleet = f
	code := m.Run()
	if err := f.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: stop test fleet: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

var namespaceSeq atomic.Int64

// Namespace creates a namespace with a unique name starting with prefix in
// every running cluster of the fleet. No namespace controller runs, so a
// deleted namespace would stay Terminating with its objects: namespaces are
// left in place and go away with the fleet. Tests that list across all
// namespaces should filter by their namespace or start their own fleet.
func (f *Fleet) Namespace(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, namespaceSeq.Add(1))
	ctx := context.Background()
	for _, c := range f.Clusters {
		if !c.Running() {
			continue
		}
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("cluster %s: create namespace %s: %v", c.Name, name, err)
		}
	}
	return name
}
