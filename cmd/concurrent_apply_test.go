package cmd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/faultproxy"
)

// Two gatefed applies on the same fleet at the same time. Each cluster is
// applied to by one of them at a time: the other one finds it busy (or
// changed since it read it), says so, writes nothing there and exits 2; a
// rerun converges. Whatever the interleaving, each cluster ends as one apply
// would leave it, and no prune deletes what the other apply wrote.
func TestConcurrentApplies(t *testing.T) {
	e := newFaultEnv(t, "conc")
	e.addBystanders()
	v1 := e.write("v1", e.ff.doc(0, 30, false))
	v2 := e.write("v2", e.ff.doc(15, 45, true))
	// v1plus is v1 with one more route, of kinds v1 has.
	v1plus := e.write("v1plus", e.ff.doc(0, 31, false))

	// finish waits for p and wants exit 0, or exit 2 with a conflict on
	// every cluster it did not apply.
	finish := func(t *testing.T, p *proc) {
		t.Helper()
		p.wait(t)
		t.Logf("gatefed %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(p.args, " "), p.code(), p.stdout.String(), p.stderr.String())
		switch p.code() {
		case 0:
		case 2:
			if !strings.Contains(p.stderr.String(), "another gatefed apply") {
				t.Errorf("exit 2 without a conflict with another apply:\n%s", p.stderr.String())
			}
		default:
			t.Errorf("exit %d", p.code())
		}
	}

	t.Run("the same fleet, started together", func(t *testing.T) {
		e.t = t
		e.mustRun("apply", "-f", v1)
		a := e.start(e.f.Kubeconfig, "apply", "-f", v2)
		b := e.start(e.f.Kubeconfig, "apply", "-f", v2)
		finish(t, a)
		finish(t, b)
		e.oneOf(v2)
		e.mustRun("apply", "-f", v2)
		e.exact(v2)
	})

	t.Run("different fleets, started together", func(t *testing.T) {
		e.t = t
		e.mustRun("apply", "-f", v2)
		a := e.start(e.f.Kubeconfig, "apply", "-f", v1)
		b := e.start(e.f.Kubeconfig, "apply", "-f", v1plus)
		finish(t, a)
		finish(t, b)
		e.oneOf(v1, v1plus)
		e.mustRun("apply", "-f", v1plus)
		e.exact(v1plus)
	})

	// A reads the fleet, then its first write (which would take the lock)
	// is held in the proxy while B applies another fleet from start to end:
	// A must not apply what it planned from what it read before B's apply.
	// A's request timeout is long, so that only release lets its write go.
	t.Run("a plan made before another apply ran", func(t *testing.T) {
		e.t = t
		e.mustRun("apply", "-f", v1)
		p := e.proxy()
		inject(t, p, faultproxy.Fault{Action: faultproxy.Stall, Method: "PUT", Path: `/configmaps/`, Times: 1})
		a := e.start(p.Kubeconfig, "apply", "-f", v2, "--request-timeout", "1h")
		waitFor(t, a, "A's first write", injected(p, 1, "c1", "c2", "c3"))
		e.mustRun("apply", "-f", v1plus)
		e.exact(v1plus)
		release(p)
		finish(t, a)
		if a.code() != 2 {
			t.Fatalf("A applied what it planned before B's apply: exit %d", a.code())
		}
		e.exact(v1plus) // A wrote nothing
		e.mustRun("apply", "-f", v2)
		e.exact(v2)
	})

	// B starts while A is half way through every cluster (20 members of
	// each applied, one more held in the proxy): B must leave A's objects
	// alone. A's request timeout is long, so that only release lets the
	// held apply go.
	t.Run("an apply started while another one runs", func(t *testing.T) {
		e.t = t
		e.mustRun("apply", "-f", v1)
		p := e.proxy()
		for _, c := range []string{"c1", "c2", "c3"} {
			if err := p.Cluster(c).Inject(faultproxy.Fault{Action: faultproxy.Stall, Method: "PATCH", Path: `^/apis/`, Share: 1.0 / 21, Times: 1}); err != nil {
				t.Fatal(err)
			}
		}
		a := e.start(p.Kubeconfig, "apply", "-f", v2, "--request-timeout", "1h", "--concurrency", "1")
		waitFor(t, a, "A's 21st member apply in every cluster", injected(p, 1, "c1", "c2", "c3"))
		code, stdout, stderr := e.run(e.f.Kubeconfig, "apply", "-f", v1)
		t.Logf("B: exit %d\n%s%s", code, stdout, stderr)
		if code != 2 {
			t.Errorf("B, started while A runs: exit %d, want 2", code)
		}
		for _, c := range []string{"c1", "c2", "c3"} {
			want := fmt.Sprintf("Error: %s: another gatefed apply is writing to this cluster (gatefed pid %d on ", c, a.cmd.Process.Pid)
			if !strings.Contains(stderr, want) {
				t.Errorf("B: no line %q...", want)
			}
		}
		release(p)
		finish(t, a)
		if a.code() != 0 {
			t.Fatalf("A: exit %d", a.code())
		}
		e.exact(v2)
	})
}

// release lets every request the proxy holds go on.
func release(p *faultproxy.Proxy) {
	for _, name := range p.Names() {
		p.Cluster(name).Release()
	}
}
