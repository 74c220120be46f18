package apply

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/faultproxy"
)

// faulty is a test's fault proxy in front of the fleet and what the
// engine reported while going through it.
type faulty struct {
	*env
	proxy *faultproxy.Proxy
	mu    sync.Mutex
	// retries are the engine's retry events, by cluster.
	retries map[string][]string
}

func newFaulty(t *testing.T) *faulty {
	t.Helper()
	p, err := faultproxy.Start(faultproxy.Options{Kubeconfig: tf.Kubeconfig, Out: filepath.Join(t.TempDir(), "kubeconfig"), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &faulty{env: newEnv(t), proxy: p, retries: map[string][]string{}}
}

// inject replaces c2's faults.
func (f *faulty) inject(faults ...faultproxy.Fault) {
	f.t.Helper()
	if err := f.proxy.Cluster("c2").Inject(faults...); err != nil {
		f.t.Fatal(err)
	}
}

// targets are the env's targets, through the proxy.
func (f *faulty) targets(objs func(string) []*unstructured.Unstructured) []Target {
	ts := f.env.targets(objs)
	for _, t := range ts {
		t.Cluster.Spec.Kubeconfig = f.proxy.Kubeconfig
	}
	return ts
}

// engine retries quickly and records retries.
func (f *faulty) engine(mod ...func(*Options)) *Engine {
	return f.env.engine(append([]func(*Options){func(o *Options) {
		o.RetryBackoff = 20 * time.Millisecond
		o.Events = func(ev Event) {
			if ev.Stage == StageRetrying {
				f.mu.Lock()
				f.retries[ev.Cluster] = append(f.retries[ev.Cluster], ev.Message)
				f.mu.Unlock()
			}
		}
	}}, mod...)...)
}

// converged checks that a plain run (no proxy, no faults) finds every
// cluster in sync and writes nothing.
func (f *faulty) converged() {
	f.t.Helper()
	ctx := context.Background()
	eng := f.env.engine()
	p := eng.Plan(ctx, f.env.targets(f.many))
	eng.Diff(ctx, p)
	if p.Failed() || p.Pending() {
		for _, cp := range p.Clusters {
			f.t.Logf("%s: err=%v errors=%v create=%d update=%d delete=%d", cp.Name, cp.Err, cp.Errors, cp.Count(OpCreate), cp.Count(OpUpdate), cp.Count(OpDelete))
		}
		f.t.Fatalf("not in sync afterwards: failed=%v pending=%v", p.Failed(), p.Pending())
	}
}

// Every fault that may pass, on c2 only: the retries get every object
// through, c2 ends as c1 and c3 do, and the fleet is in sync afterwards.
func TestApplyRetriesFaultsThatPass(t *testing.T) {
	// members are the lists of the ApplySet's members; routes and secrets
	// are objects gatefed applies (the ApplySet parent is created with a
	// POST, then updated with PUTs).
	const members = `/namespaces/[^/]+/(httproutes|secrets|upstreams|virtualservices)$`
	const routes, secrets = "/httproutes/", "/secrets/"
	cases := []struct {
		name   string
		faults []faultproxy.Fault
		mod    func(*Options)
		// retried is how many retries the engine itself makes; client-go's
		// own (after Retry-After, a GET's reset) are not among them.
		retried int
		// least is the least time the run must take (a Retry-After honoured).
		least time.Duration
	}{
		{name: "503 on two route applies", retried: 2,
			faults: []faultproxy.Fault{{Action: faultproxy.Respond, Code: 503, Method: "PATCH", Path: routes, Times: 2}}},
		{name: "502 and 504 on ApplySet parent writes", retried: 2,
			faults: []faultproxy.Fault{{Action: faultproxy.Respond, Code: 502, Method: "POST", Times: 1}, {Action: faultproxy.Respond, Code: 504, Method: "POST", Times: 1}}},
		{name: "429 with Retry-After 1 on two route applies", retried: 0, least: time.Second, // the two wait at once
			faults: []faultproxy.Fault{{Action: faultproxy.Respond, Code: 429, RetryAfter: "1", Method: "PATCH", Path: routes, Times: 2}}},
		{name: "503 with Retry-After 1 on a list", retried: 0, least: time.Second,
			faults: []faultproxy.Fault{{Action: faultproxy.Respond, Code: 503, RetryAfter: "1", Method: "GET", Path: members, Times: 1}}},
		{name: "500 with Retry-After 1 on an apply", retried: 0, least: time.Second,
			faults: []faultproxy.Fault{{Action: faultproxy.Respond, Code: 500, RetryAfter: "1", Method: "PATCH", Times: 1}}},
		{name: "429 without Retry-After on every tenth request", retried: -1,
			faults: []faultproxy.Fault{{Action: faultproxy.Respond, Code: 429, Share: 0.1}}},
		{name: "reset on two route applies", retried: 2,
			faults: []faultproxy.Fault{{Action: faultproxy.Reset, Method: "PATCH", Path: routes, Times: 2}}},
		{name: "reset after the server applied a route", retried: 1,
			faults: []faultproxy.Fault{{Action: faultproxy.Reset, Method: "PATCH", Path: routes, Forward: true, Times: 1}}},
		{name: "reset on two lists", retried: 0,
			faults: []faultproxy.Fault{{Action: faultproxy.Reset, Method: "GET", Path: members, Times: 2}}},
		{name: "answer cut halfway on a list", retried: 1,
			faults: []faultproxy.Fault{{Action: faultproxy.Cut, Method: "GET", Path: members, Times: 1}}},
		{name: "answer cut halfway on a secret apply", retried: 1,
			faults: []faultproxy.Fault{{Action: faultproxy.Cut, Method: "PATCH", Path: secrets, Times: 1}}},
		{name: "no answer to a route apply the server made, within the request timeout", retried: 1,
			mod:    func(o *Options) { o.RequestTimeout = 2 * time.Second },
			faults: []faultproxy.Fault{{Action: faultproxy.Stall, Method: "PATCH", Path: routes, Forward: true, Times: 1}}},
		{name: "no answer to a list within the request timeout", retried: 1,
			mod:    func(o *Options) { o.RequestTimeout = 2 * time.Second },
			faults: []faultproxy.Fault{{Action: faultproxy.Stall, Method: "GET", Path: members, Times: 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFaulty(t)
			f.inject(tc.faults...)
			mods := []func(*Options){}
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			start := time.Now()
			_, res := f.apply(context.Background(), f.engine(mods...), f.targets(f.many))
			took := time.Since(start)
			injected := f.proxy.Cluster("c2").Injected()
			t.Logf("injected %d, retried %d in %s: %q", len(injected), len(f.retries["c2"]), took.Round(time.Millisecond), f.retries["c2"])
			if len(injected) == 0 {
				t.Fatal("no fault was injected")
			}
			for _, r := range res.Clusters {
				if !r.OK() || r.Created != 36 {
					t.Errorf("cluster %s: %v %s, want all 36 created", r.Name, counts(r), errorsText(r))
				}
			}
			// With a short request timeout a busy machine may also time out a
			// request nobody stalled: such retries are not counted.
			counted := func(cluster string) []string {
				var out []string
				for _, m := range f.retries[cluster] {
					if tc.mod == nil || !strings.Contains(m, "no answer within") {
						out = append(out, m)
					}
				}
				return out
			}
			c2 := counted("c2")
			switch {
			case tc.retried >= 0 && tc.mod == nil && len(c2) != tc.retried:
				t.Errorf("c2: %d retries by gatefed, want %d: %q", len(c2), tc.retried, c2)
			case tc.retried >= 0 && tc.mod != nil && len(f.retries["c2"]) < tc.retried:
				t.Errorf("c2: %d retries by gatefed, want at least %d: %q", len(f.retries["c2"]), tc.retried, f.retries["c2"])
			case tc.retried < 0 && len(c2) == 0:
				t.Error("c2: no retry by gatefed")
			}
			if others := append(counted("c1"), counted("c3")...); len(others) != 0 {
				t.Errorf("%d retries on the clusters without faults: %q", len(others), others)
			}
			if took < tc.least {
				t.Errorf("the run took %s: Retry-After was not honoured (want at least %s)", took, tc.least)
			}
			f.converged()
		})
	}
}

// A cluster that keeps failing ends alone, with one line saying why, after
// the retries; the other clusters complete; once it recovers a rerun converges.
func TestApplyClusterThatKeepsFailing(t *testing.T) {
	cases := []struct {
		name   string
		faults []faultproxy.Fault
		// planErr is set when planning c2 fails; else the apply fails.
		planErr bool
		want    []string
	}{
		{name: "503 to everything", planErr: true,
			faults: []faultproxy.Fault{{Action: faultproxy.Respond, Code: 503}},
			want:   []string{"read the kinds the API serves (discovery): the server is currently unable to handle the request"}},
		{name: "every request reset", planErr: true,
			faults: []faultproxy.Fault{{Action: faultproxy.Reset}},
			want:   []string{"read the kinds the API serves (discovery): ", "connection reset by peer"}},
		{name: "503 to every write",
			faults: []faultproxy.Fault{{Action: faultproxy.Respond, Code: 503, Method: "PATCH"}, {Action: faultproxy.Respond, Code: 503, Method: "POST"}, {Action: faultproxy.Respond, Code: 503, Method: "PUT"}},
			want:   []string{"update ApplySet parent ConfigMap ", ": faultproxy: injected 503"}},
		{name: "503 to every route apply",
			faults: []faultproxy.Fault{{Action: faultproxy.Respond, Code: 503, Method: "PATCH", Path: "/httproutes/"}},
			want:   []string{"the API server keeps failing, ", " objects not applied: faultproxy: injected 503"}},
		{name: "429 without Retry-After to every route apply",
			faults: []faultproxy.Fault{{Action: faultproxy.Respond, Code: 429, Method: "PATCH", Path: "/httproutes/"}},
			want:   []string{"the API server keeps failing, ", " objects not applied: faultproxy: injected 429"}},
		{name: "every route apply reset",
			faults: []faultproxy.Fault{{Action: faultproxy.Reset, Method: "PATCH", Path: "/httproutes/"}},
			want:   []string{"connection lost, ", " objects not applied: ", "connection reset by peer (after 4 attempts)"}},
		{name: "every route apply stalled",
			faults: []faultproxy.Fault{{Action: faultproxy.Stall, Method: "PATCH", Path: "/httproutes/"}},
			want:   []string{"connection lost, ", " objects not applied: no answer within 1s (after 4 attempts)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFaulty(t)
			f.inject(tc.faults...)
			start := time.Now()
			p, res := f.apply(context.Background(), f.engine(func(o *Options) { o.RequestTimeout = time.Second }), f.targets(f.many))
			t.Logf("took %s, %d faults injected, %d retries", time.Since(start).Round(time.Millisecond), len(f.proxy.Cluster("c2").Injected()), len(f.retries["c2"]))
			if got := p.Clusters[1].Err != nil; got != tc.planErr {
				t.Errorf("planning c2 failed: %v, want %v (%v)", got, tc.planErr, p.Clusters[1].Err)
			}
			for _, r := range res.Clusters {
				if r.Name != "c2" {
					if !r.OK() || r.Created != 36 {
						t.Errorf("cluster %s: %v %s, want all 36 created", r.Name, counts(r), errorsText(r))
					}
					continue
				}
				if r.OK() || r.Err == nil || len(r.Errors) != 0 || strings.Contains(r.Err.Error(), "\n") {
					t.Fatalf("c2 must fail with one error line, got %v and %d object errors", r.Err, len(r.Errors))
				}
				t.Logf("c2: %v", r.Err)
				for _, w := range tc.want {
					if !strings.Contains(r.Err.Error(), w) {
						t.Errorf("c2's error lacks %q: %v", w, r.Err)
					}
				}
			}
			// Recovered: a rerun converges.
			f.proxy.Cluster("c2").Clear()
			_, res = f.apply(context.Background(), f.engine(), f.targets(f.many))
			expectOK(t, res)
			if r := res.Clusters[1]; r.Created+r.Updated+r.Unchanged != 36 {
				t.Errorf("c2 after recovery: %v", counts(r))
			}
			f.converged()
		})
	}
}

// A 500 without Retry-After is not retried (strict validation fails with
// 500 too): the object fails alone, and a rerun converges.
func TestApply500IsNotRetried(t *testing.T) {
	f := newFaulty(t)
	f.inject(faultproxy.Fault{Action: faultproxy.Respond, Code: 500, Method: "PATCH", Path: "/httproutes/route-a3$"})
	_, res := f.apply(context.Background(), f.engine(), f.targets(f.many))
	c2 := res.Clusters[1]
	if c2.Err != nil || len(c2.Errors) != 1 || c2.Created != 35 || !strings.Contains(c2.Errors[0].Error(), "HTTPRoute "+f.ns+"/route-a3: faultproxy: injected 500") {
		t.Errorf("c2: %v %s, want route-a3 alone failed", counts(c2), errorsText(c2))
	}
	if n := len(f.retries["c2"]); n != 0 || len(f.proxy.Cluster("c2").Injected()) != 1 {
		t.Errorf("the 500 was sent %d times, retried %d", len(f.proxy.Cluster("c2").Injected()), n)
	}
	f.proxy.Cluster("c2").Clear()
	_, res = f.apply(context.Background(), f.engine(), f.targets(f.many))
	expectOK(t, res)
	f.converged()
}

// Diff retries the same way, and a cluster that keeps failing ends alone.
func TestDiffThroughFaults(t *testing.T) {
	f := newFaulty(t)
	ctx := context.Background()
	f.inject(
		faultproxy.Fault{Action: faultproxy.Respond, Code: 503, Method: "PATCH", Times: 2},
		faultproxy.Fault{Action: faultproxy.Reset, Method: "PATCH", Times: 1},
		faultproxy.Fault{Action: faultproxy.Cut, Method: "PATCH", Times: 1},
	)
	eng := f.engine()
	p := eng.Plan(ctx, f.targets(f.many))
	eng.Diff(ctx, p)
	if p.Failed() {
		t.Fatalf("diff through passing faults failed: %v %v", p.Clusters[1].Err, p.Clusters[1].Errors)
	}
	for _, cp := range p.Clusters {
		if cp.Count(OpCreate) != 36 {
			t.Errorf("%s: %d to create, want 36", cp.Name, cp.Count(OpCreate))
		}
	}
	if n := len(f.retries["c2"]); n != 4 {
		t.Errorf("c2: %d retries, want 4: %q", n, f.retries["c2"])
	}

	f.inject(faultproxy.Fault{Action: faultproxy.Respond, Code: 503, Method: "PATCH"})
	p = eng.Plan(ctx, f.targets(f.many))
	eng.Diff(ctx, p)
	c2 := p.Clusters[1]
	if c2.Err == nil || len(c2.Errors) != 0 || !strings.Contains(c2.Err.Error(), "the API server keeps failing while diffing: ") {
		t.Errorf("c2: err=%v, %d object errors; want one error", c2.Err, len(c2.Errors))
	}
	if p.Clusters[0].Failed() || p.Clusters[2].Failed() {
		t.Error("c1 and c3 must diff regardless")
	}
	t.Logf("c2: %v", c2.Err)
	if n := len(f.proxy.Cluster("c2").Injected()); n > 4*(DefaultConcurrency+1)+4 {
		t.Errorf("%d applies answered 503: the cluster's other requests must stop at its first failure", n)
	}
}
