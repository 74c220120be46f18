package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/faultproxy"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// A fault fleet is c1 (gloo), c2 (envoy-gateway) and c3 (gloo) of the shared
// test fleet, gateway namespace gw, its services and routes in namespaces
// a and b.
type faultFleet struct {
	gw, a, b string
}

// doc renders the fleet's documents: services s<first>..s<last-1>, each with
// a route. Without failover every service and route is in namespace a; with
// it, c1 and c2 have failover addresses, every service a health check,
// and the odd ones live in namespace b, so the fleet has more kinds and one
// more namespace.
func (ff faultFleet) doc(first, last int, failover bool) string {
	var b strings.Builder
	for i, c := range []struct{ name, provider string }{{"c1", "gloo"}, {"c2", "envoy-gateway"}, {"c3", "gloo"}} {
		fmt.Fprintf(&b, "apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: %s}\nspec:\n  region: r1\n  gateway: {provider: %s, namespace: %s}\n", c.name, c.provider, ff.gw)
		// c3 is no failover target: c2 (Envoy Gateway, one fallback
		// priority) then fails over to c1 alone, without a warning.
		if failover && c.name != "c3" {
			fmt.Fprintf(&b, "  failover: {address: 203.0.113.%d}\n", i+1)
		}
		b.WriteString("---\n")
	}
	for i := first; i < last; i++ {
		ns := ff.a
		if failover && i%2 == 1 {
			ns = ff.b
		}
		fmt.Fprintf(&b, "apiVersion: gatefed.dev/v1alpha1\nkind: GlobalService\nmetadata: {name: s%d, namespace: %s}\nspec:\n  port: 8080\n", i, ns)
		if failover {
			b.WriteString("  healthCheck: {path: /healthz}\n")
		}
		fmt.Fprintf(&b, "---\napiVersion: gatefed.dev/v1alpha1\nkind: GlobalRoute\nmetadata: {name: r%d, namespace: %s}\nspec:\n  hosts: [r%d.example.com]\n  rules:\n  - backends: [{service: s%d}]\n---\n", i, ns, i, i)
	}
	return b.String()
}

// faultEnv runs gatefed, as a process of its own, against the shared fleet.
type faultEnv struct {
	t    *testing.T
	f    *testfleet.Fleet
	ff   faultFleet
	dir  string
	env  []string
	objs map[string][]objRef // by fleet file: what render gives, every cluster
}

// objRef is one object of a cluster.
type objRef struct {
	cluster   string
	gvk       schema.GroupVersionKind
	namespace string
	name      string
}

func (o objRef) String() string {
	return fmt.Sprintf("%s: %s %s/%s", o.cluster, o.gvk.Kind, o.namespace, o.name)
}

// faultEnvs counts the fault environments made: each gets namespaces of
// its own, so that a test run again in one process starts afresh.
var faultEnvs atomic.Int32

func newFaultEnv(t *testing.T, prefix string) *faultEnv {
	t.Helper()
	f, err := sharedTestFleet()
	if err != nil {
		t.Fatal(err)
	}
	prefix = fmt.Sprintf("%s%d", prefix, faultEnvs.Add(1))
	ff := faultFleet{gw: prefix + "-gw", a: prefix + "-a", b: prefix + "-b"}
	for _, ns := range []string{ff.gw, ff.a, ff.b} {
		if err := testFleetNamespace(f, ns); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	env := append(os.Environ(),
		"XDG_CONFIG_HOME="+filepath.Join(dir, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(dir, ".cache"),
		"XDG_STATE_HOME="+filepath.Join(dir, ".state"),
		"KUBECONFIG="+filepath.Join(dir, "no-kubeconfig"),
		"NO_COLOR=1",
	)
	return &faultEnv{t: t, f: f, ff: ff, dir: dir, env: env, objs: map[string][]objRef{}}
}

// write writes a fleet file and records what it renders.
func (e *faultEnv) write(name, doc string) string {
	e.t.Helper()
	path := filepath.Join(e.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		e.t.Fatal(err)
	}
	ios, _, out, errOut := iostreams.Test()
	if code := cmd.Main([]string{"render", "-f", path, "-o", "json"}, ios); code != 0 {
		e.t.Fatalf("render %s: exit %d\n%s", name, code, errOut)
	}
	var list struct{ Items []unstructured.Unstructured }
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		e.t.Fatal(err)
	}
	var refs []objRef
	for _, o := range list.Items {
		ns := o.GetNamespace()
		if ns == "" {
			ns = e.ff.gw
		}
		refs = append(refs, objRef{o.GetLabels()[render.LabelCluster], o.GroupVersionKind(), ns, o.GetName()})
	}
	e.objs[path] = refs
	return path
}

// start starts gatefed with args, through kubeconfig.
func (e *faultEnv) start(kubeconfig string, args ...string) *proc {
	e.t.Helper()
	p := &proc{args: args}
	p.cmd = exec.Command("gatefed", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	p.cmd.Env = e.env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	e.t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// run runs gatefed to the end and returns its exit status.
func (e *faultEnv) run(kubeconfig string, args ...string) (int, string, string) {
	e.t.Helper()
	p := e.start(kubeconfig, args...)
	p.wait(e.t)
	return p.code(), p.stdout.String(), p.stderr.String()
}

// wait waits for gatefed to end. There is no time limit but the test's
// own: shortly before it, a gatefed still running fails the test with
// what it printed, rather than go test ending it without.
func (p *proc) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	case <-nearDeadline(t):
		t.Fatalf("gatefed %s: still running as the test's time runs out\nstdout:\n%s\nstderr:\n%s", strings.Join(p.args, " "), p.stdout.String(), p.stderr.String())
	}
}

// nearDeadline is closed a minute before the test binary's -timeout, or never.
func nearDeadline(t *testing.T) <-chan time.Time {
	d, ok := t.Deadline()
	if !ok {
		return nil
	}
	return time.After(time.Until(d) - time.Minute)
}

// mustRun runs gatefed directly against the fleet and wants exit 0.
func (e *faultEnv) mustRun(args ...string) string {
	e.t.Helper()
	code, stdout, stderr := e.run(e.f.Kubeconfig, args...)
	if code != 0 {
		e.t.Fatalf("gatefed %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// proc is a gatefed process.
type proc struct {
	args           []string
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

func (p *proc) code() int {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and checks that it was the signal that ended gatefed.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-p.done
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("gatefed ended before the kill: %v\nstdout:\n%s\nstderr:\n%s", p.err, p.stdout.String(), p.stderr.String())
	}
}

// waitFor polls cond until it holds; gatefed exiting first is a failure.
// Like wait, it has no time limit but the test's own.
func waitFor(t *testing.T, p *proc, what string, cond func() bool) {
	t.Helper()
	near := nearDeadline(t)
	for !cond() {
		if p.exited() {
			t.Fatalf("gatefed %s exited (%v) before %s\nstdout:\n%s\nstderr:\n%s", strings.Join(p.args, " "), p.err, what, p.stdout.String(), p.stderr.String())
		}
		select {
		case <-near:
			t.Fatalf("no %s as the test's time runs out\nstderr:\n%s", what, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// injected reports whether each named cluster's proxy injected at least n faults.
func injected(p *faultproxy.Proxy, n int, clusters ...string) func() bool {
	return func() bool {
		for _, c := range clusters {
			if len(p.Cluster(c).Injected()) < n {
				return false
			}
		}
		return true
	}
}

// proxy starts a fault proxy in front of every cluster.
func (e *faultEnv) proxy() *faultproxy.Proxy {
	e.t.Helper()
	p, err := faultproxy.Start(faultproxy.Options{Kubeconfig: e.f.Kubeconfig, Out: filepath.Join(e.t.TempDir(), "kubeconfig")})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { p.Close() })
	return p
}

// inject gives every cluster's proxy the same faults.
func inject(t *testing.T, p *faultproxy.Proxy, faults ...faultproxy.Fault) {
	t.Helper()
	for _, name := range p.Names() {
		if err := p.Cluster(name).Inject(faults...); err != nil {
			t.Fatal(err)
		}
	}
}

// live is what the fleet holds in the test's namespaces: every object of
// the kinds gatefed renders, by cluster.
type live struct {
	parents map[string]*unstructured.Unstructured // nil: no parent
	objs    map[string][]unstructured.Unstructured
}

// kinds are every kind the test's fleet files render.
func (e *faultEnv) kinds() []schema.GroupVersionKind {
	seen := map[schema.GroupVersionKind]bool{}
	for _, refs := range e.objs {
		for _, r := range refs {
			seen[r.gvk] = true
		}
	}
	var out []schema.GroupVersionKind
	for gvk := range seen {
		out = append(out, gvk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (e *faultEnv) read() live {
	e.t.Helper()
	ctx := context.Background()
	l := live{parents: map[string]*unstructured.Unstructured{}, objs: map[string][]unstructured.Unstructured{}}
	for _, c := range e.f.Clusters {
		dyn, err := dynamic.NewForConfig(c.Config)
		if err != nil {
			e.t.Fatal(err)
		}
		dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
		if err != nil {
			e.t.Fatal(err)
		}
		mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
		parent, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(e.ff.gw).Get(ctx, apply.DefaultParentName, metav1.GetOptions{})
		if err == nil {
			l.parents[c.Name] = parent
		}
		for _, gvk := range e.kinds() {
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				e.t.Fatal(err)
			}
			for _, ns := range []string{e.ff.gw, e.ff.a, e.ff.b} {
				list, err := dyn.Resource(m.Resource).Namespace(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					e.t.Fatal(err)
				}
				l.objs[c.Name] = append(l.objs[c.Name], list.Items...)
			}
		}
	}
	return l
}

// noLeak checks what a killed apply left: every object gatefed applied is a
// member of its cluster's ApplySet (it carries the part-of label), and the
// parent lists its kind and namespace, so that the next apply finds it.
func (e *faultEnv) noLeak(l live) {
	e.t.Helper()
	id := apply.DefaultApplySetID(e.ff.gw)
	for _, c := range e.f.Clusters {
		gks, nss := parentLists(l.parents[c.Name])
		nss[e.ff.gw] = true
		for _, o := range l.objs[c.Name] {
			if o.GetLabels()[render.LabelManagedBy] != render.ManagedByValue {
				continue
			}
			ref := fmt.Sprintf("%s: %s %s/%s", c.Name, o.GetKind(), o.GetNamespace(), o.GetName())
			if o.GetLabels()[apply.LabelPartOf] != id {
				e.t.Errorf("%s is orphaned: label %s=%q, want %q", ref, apply.LabelPartOf, o.GetLabels()[apply.LabelPartOf], id)
			}
			if l.parents[c.Name] == nil {
				e.t.Errorf("%s exists, but its ApplySet parent does not", ref)
				continue
			}
			if gk := o.GroupVersionKind().GroupKind().String(); !gks[gk] || !nss[o.GetNamespace()] {
				e.t.Errorf("%s is not covered by its ApplySet parent (kinds %s, namespaces %s): no apply would prune it",
					ref, l.parents[c.Name].GetAnnotations()[apply.AnnotationGroupKinds], l.parents[c.Name].GetAnnotations()[apply.AnnotationAdditionalNS])
			}
		}
	}
}

func parentLists(parent *unstructured.Unstructured) (gks, nss map[string]bool) {
	gks, nss = map[string]bool{}, map[string]bool{}
	if parent == nil {
		return gks, nss
	}
	for _, s := range strings.Split(parent.GetAnnotations()[apply.AnnotationGroupKinds], ",") {
		if s != "" {
			gks[s] = true
		}
	}
	for _, s := range strings.Split(parent.GetAnnotations()[apply.AnnotationAdditionalNS], ",") {
		if s != "" {
			nss[s] = true
		}
	}
	return gks, nss
}

// exact checks that the fleet holds what fleetFile renders and nothing more:
// the members are exactly the rendered objects, the parents list exactly
// their kinds and namespaces, diff finds nothing to do (exit 0), and the
// bystanders are still there.
func (e *faultEnv) exact(fleetFile string) {
	e.t.Helper()
	e.oneOf(fleetFile)
	code, stdout, stderr := e.run(e.f.Kubeconfig, "diff", "-f", fleetFile)
	if code != 0 || !strings.Contains(stderr, "in sync: 3 clusters") {
		e.t.Errorf("diff: exit %d\n%s%s", code, stdout, stderr)
	}
}

// oneOf checks that each cluster holds what one of the fleet files renders
// for it (members and parent, as exact does) and that no object was leaked
// or a bystander deleted.
func (e *faultEnv) oneOf(fleetFiles ...string) {
	e.t.Helper()
	l := e.read()
	e.noLeak(l)
	id := apply.DefaultApplySetID(e.ff.gw)
	for _, c := range e.f.Clusters {
		var got []string
		for _, o := range l.objs[c.Name] {
			if o.GetLabels()[apply.LabelPartOf] == id {
				got = append(got, fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName()))
			}
		}
		sort.Strings(got)
		gks, nss := parentLists(l.parents[c.Name])
		if pa := l.parents[c.Name]; pa != nil && pa.GetAnnotations()[apply.AnnotationApplyLock] != "" {
			e.t.Errorf("%s: the apply lock is still held: %s", c.Name, pa.GetAnnotations()[apply.AnnotationApplyLock])
		}
		var mismatches []string
		for _, file := range fleetFiles {
			var want []string
			wantGKs, wantNSs := map[string]bool{}, map[string]bool{}
			for _, r := range e.objs[file] {
				if r.cluster != c.Name {
					continue
				}
				want = append(want, fmt.Sprintf("%s %s/%s", r.gvk.Kind, r.namespace, r.name))
				wantGKs[r.gvk.GroupKind().String()] = true
				if r.namespace != e.ff.gw {
					wantNSs[r.namespace] = true
				}
			}
			sort.Strings(want)
			switch {
			case !slices.Equal(want, got):
				mismatches = append(mismatches, fmt.Sprintf("members\n%s\nwant (%s)\n%s", strings.Join(got, "\n"), filepath.Base(file), strings.Join(want, "\n")))
			case !mapsEqual(gks, wantGKs) || !mapsEqual(nss, wantNSs):
				mismatches = append(mismatches, fmt.Sprintf("ApplySet parent lists kinds %v and namespaces %v, want (%s) %v and %v", keys(gks), keys(nss), filepath.Base(file), keys(wantGKs), keys(wantNSs)))
			default:
				mismatches = nil
			}
			if mismatches == nil {
				break
			}
		}
		for _, m := range mismatches {
			e.t.Errorf("%s: %s", c.Name, m)
		}
		for _, b := range bystanders {
			found := false
			for _, o := range l.objs[c.Name] {
				if o.GetName() == b && o.GetNamespace() == e.ff.gw {
					found = true
				}
			}
			if !found {
				e.t.Errorf("%s: bystander %s/%s was deleted", c.Name, e.ff.gw, b)
			}
		}
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// bystanders are objects of kinds gatefed manages, in its gateway
// namespace, that are not its own: one unlabelled (applied by hand) and one
// of another ApplySet. No prune may touch them.
var bystanders = []string{"by-hand", "other-applyset"}

func (e *faultEnv) addBystanders() {
	e.t.Helper()
	ctx := context.Background()
	for _, c := range e.f.Clusters {
		dyn, err := dynamic.NewForConfig(c.Config)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, name := range bystanders {
			var obj *unstructured.Unstructured
			var gvr schema.GroupVersionResource
			if c.Name == "c2" {
				gvr = testfleet.HTTPRouteGVR
				obj = &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
					"spec": map[string]any{"hostnames": []any{"bystander.example.com"}},
				}}
			} else {
				gvr = testfleet.UpstreamGVR
				obj = &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
					"spec": map[string]any{"static": map[string]any{"hosts": []any{map[string]any{"addr": "192.0.2.9", "port": int64(80)}}}},
				}}
			}
			obj.SetName(name)
			if name == "other-applyset" {
				obj.SetLabels(map[string]string{apply.LabelPartOf: "applyset-someone-else-v1"})
			}
			if _, err := dyn.Resource(gvr).Namespace(e.ff.gw).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				e.t.Fatalf("%s: bystander %s: %v", c.Name, name, err)
			}
		}
	}
}

// members counts the members of one kind in one namespace of a cluster.
func (e *faultEnv) members(cluster string, gvr schema.GroupVersionResource, ns string) int {
	e.t.Helper()
	dyn, err := e.f.Cluster(cluster).Dynamic()
	if err != nil {
		e.t.Fatal(err)
	}
	list, err := dyn.Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: apply.LabelPartOf + "=" + apply.DefaultApplySetID(e.ff.gw)})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(list.Items)
}

// gatefed apply killed with SIGKILL at chosen points, the points found by
// holding requests in a fault proxy between gatefed and the API servers:
// after each kill every object gatefed applied is still covered by its
// cluster's ApplySet, and a plain rerun converges (diff in sync, the parent
// listing exactly the rendered kinds and namespaces, the bystanders kept).
func TestKillApply(t *testing.T) {
	e := newFaultEnv(t, "kill")
	e.addBystanders()
	// v1: 30 services and routes in namespace a. v2: 15 of them gone, 15 new,
	// failover on (more kinds) and half in namespace b: applying v2 over v1
	// widens the parents, creates, updates and prunes; v1 over v2 narrows.
	v1 := e.write("v1", e.ff.doc(0, 30, false))
	v2 := e.write("v2", e.ff.doc(15, 45, true))
	members := `^/apis/` // every member; the parent is /api/v1/.../configmaps/...
	// The first write of the parent takes the apply lock and widens the
	// parent, the last one narrows it and releases the lock.
	const parent = `/configmaps/`
	lockWrite := faultproxy.Fault{Action: faultproxy.Stall, Method: "PUT", Path: parent, Times: 1}
	unlockWrite := faultproxy.Fault{Action: faultproxy.Stall, Method: "PUT", Path: parent, Share: 0.5, Times: 1}
	forwarded := func(f faultproxy.Fault) faultproxy.Fault { f.Forward = true; return f }
	vsInC1 := func() int { return e.members("c1", testfleet.VirtualServiceGVR, e.ff.gw) }
	upstreams := func(c string) int { return e.members(c, testfleet.UpstreamGVR, e.ff.gw) }
	backendsInC2 := func() int { return e.members("c2", testfleet.BackendGVR, e.ff.gw) }

	cases := []struct {
		name string
		// from is applied first (no proxy); "" for the fleet as it is.
		from, to string
		faults   []faultproxy.Fault
		// killAt holds when gatefed is to be killed.
		killAt func(p *faultproxy.Proxy) bool
		// then is what is applied after the kill.
		then string
	}{
		{name: "first apply, after 20 members of c1", to: v1, then: v1,
			faults: []faultproxy.Fault{{Action: faultproxy.Stall, Hold: 100 * time.Millisecond, Method: "PATCH", Path: members}},
			killAt: func(*faultproxy.Proxy) bool { return vsInC1()+e.members("c1", testfleet.UpstreamGVR, e.ff.gw) >= 20 }},
		{name: "the server widened the parent, gatefed had no answer", from: v1, to: v2, then: v2,
			faults: []faultproxy.Fault{forwarded(lockWrite)},
			killAt: func(p *faultproxy.Proxy) bool { return injected(p, 1, "c1", "c2", "c3")() }},
		{name: "parent widened, no member applied; then the old fleet", from: v1, to: v2, then: v1,
			faults: []faultproxy.Fault{{Action: faultproxy.Stall, Method: "PATCH", Path: members}},
			killAt: func(p *faultproxy.Proxy) bool { return injected(p, 1, "c1", "c2", "c3")() }},
		{name: "20 new members of c2 applied; then the old fleet", from: v1, to: v2, then: v1,
			faults: []faultproxy.Fault{{Action: faultproxy.Stall, Hold: 100 * time.Millisecond, Method: "PATCH", Path: members}},
			killAt: func(*faultproxy.Proxy) bool { return backendsInC2() >= 20 }},
		{name: "member applies reached the servers, gatefed had no answers", from: v1, to: v2, then: v2,
			faults: []faultproxy.Fault{{Action: faultproxy.Stall, Forward: true, Method: "PATCH", Path: members}},
			killAt: func(p *faultproxy.Proxy) bool {
				// c1 and c3 hold 30 Upstreams before, more after.
				return injected(p, 3, "c1", "c2", "c3")() && upstreams("c1") > 30 && upstreams("c3") > 30
			}},
		{name: "mid-prune, 3 routes of c1 deleted", from: v1, to: v2, then: v2,
			faults: []faultproxy.Fault{{Action: faultproxy.Stall, Hold: 150 * time.Millisecond, Method: "DELETE"}},
			killAt: func(p *faultproxy.Proxy) bool {
				// c1 holds 45 routes once v2 is applied, 30 once pruned.
				return injected(p, 1, "c1")() && vsInC1() <= 42
			}},
		{name: "prune deletes reached the servers, gatefed had no answers", from: v1, to: v2, then: v2,
			faults: []faultproxy.Fault{{Action: faultproxy.Stall, Forward: true, Method: "DELETE"}},
			killAt: func(p *faultproxy.Proxy) bool { return injected(p, 3, "c1", "c2", "c3")() }},
		{name: "pruned, parent not yet narrowed", from: v2, to: v1, then: v1,
			faults: []faultproxy.Fault{unlockWrite},
			killAt: func(p *faultproxy.Proxy) bool { return injected(p, 1, "c1", "c2", "c3")() && backendsInC2() == 0 }},
		{name: "the server narrowed the parent, gatefed had no answer", from: v2, to: v1, then: v1,
			faults: []faultproxy.Fault{forwarded(unlockWrite)},
			killAt: func(p *faultproxy.Proxy) bool { return injected(p, 1, "c1", "c2", "c3")() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			if tc.from != "" {
				e.mustRun("apply", "-f", tc.from)
			}
			p := e.proxy()
			inject(t, p, tc.faults...)
			g := e.start(p.Kubeconfig, "apply", "-f", tc.to)
			waitFor(t, g, "the kill point", func() bool { return tc.killAt(p) })
			g.kill(t)
			p.Close()
			l := e.read()
			for _, c := range e.f.Clusters {
				n := 0
				for _, o := range l.objs[c.Name] {
					if o.GetLabels()[apply.LabelPartOf] == apply.DefaultApplySetID(e.ff.gw) {
						n++
					}
				}
				var gks string
				if pa := l.parents[c.Name]; pa != nil {
					gks = pa.GetAnnotations()[apply.AnnotationGroupKinds]
				}
				t.Logf("after the kill, %s: %d members, parent kinds %q", c.Name, n, gks)
			}
			e.noLeak(l)
			// The killed apply's lock is taken over at once: its process is gone.
			code, stdout, stderr := e.run(e.f.Kubeconfig, "apply", "-f", tc.then)
			t.Logf("rerun: exit %d\n%s", code, stdout)
			if code != 0 {
				t.Fatalf("rerun: exit %d\n%s", code, stderr)
			}
			for _, c := range e.f.Clusters {
				if pa := l.parents[c.Name]; pa != nil && pa.GetAnnotations()[apply.AnnotationApplyLock] != "" {
					want := fmt.Sprintf("%s: taking over the apply lock of gatefed pid %d on ", c.Name, g.cmd.Process.Pid)
					if !strings.Contains(stderr, want) {
						t.Errorf("the killed apply held %s's lock, but the rerun did not say it took it over:\n%s", c.Name, stderr)
					}
				}
			}
			e.exact(tc.then)
		})
	}
}
