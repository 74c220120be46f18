package apply

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// setLock writes the apply lock annotation of cluster's parent as another
// holder would ("" removes it).
func (e *env) setLock(cluster, value string) {
	e.t.Helper()
	r := e.dyn(cluster).Resource(gvrConfigMap).Namespace(e.ns)
	parent, err := r.Get(context.Background(), DefaultParentName, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	ann := parent.GetAnnotations()
	delete(ann, AnnotationApplyLock)
	if value != "" {
		ann[AnnotationApplyLock] = value
	}
	parent.SetAnnotations(ann)
	if _, err := r.Update(context.Background(), parent, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) lockOf(cluster string) string {
	e.t.Helper()
	return e.mustGet(cluster, gvrConfigMap, e.ns, DefaultParentName).GetAnnotations()[AnnotationApplyLock]
}

// A lock held by a gatefed on another machine: refused while it is renewed,
// taken over once it has not been for lockTTL; a run that takes one over
// says so, and every run leaves the lock released.
func TestApplyLockOfAnotherMachine(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, res := e.apply(ctx, e.engine(), e.targets(e.baseline))
	expectOK(t, res)
	for _, c := range tf.Clusters {
		if l := e.lockOf(c.Name); l != "" {
			t.Fatalf("%s: lock left after the apply: %s", c.Name, l)
		}
	}

	elsewhere := func(renewed time.Time) string {
		return (&applyLock{ID: "0123456789abcdef", Host: "build-7", PID: 4242, Since: renewed.Add(-time.Minute), Renewed: renewed}).encode()
	}
	e.setLock("c2", elsewhere(time.Now().Add(-10*time.Second)))
	// A held lock is no drift: diff reads past it and finds c2 in sync.
	eng := e.engine()
	p := eng.Plan(ctx, e.targets(e.baseline))
	eng.Diff(ctx, p)
	if p.Failed() || p.Pending() {
		t.Fatalf("diff with c2 locked: failed=%v pending=%v (c2: err=%v)", p.Failed(), p.Pending(), p.Clusters[1].Err)
	}
	e.reqs.reset()
	_, res = e.apply(ctx, e.engine(), e.targets(e.many))
	r := res.Clusters[1]
	if r.OK() || r.Err == nil || !strings.Contains(r.Err.Error(), "another gatefed apply is writing to this cluster (gatefed pid 4242 on build-7 since ") ||
		!strings.Contains(r.Err.Error(), "nothing was written to it") {
		t.Fatalf("c2 with another machine's fresh lock: err=%v", r.Err)
	}
	if n := e.reqs.writes["c2"]; n != 0 {
		t.Errorf("c2: %d writes despite the lock: %v", n, e.reqs.log["c2"])
	}
	if !res.Clusters[0].OK() || !res.Clusters[2].OK() {
		t.Errorf("c1 and c3 must go ahead: %v / %v", res.Clusters[0].Err, res.Clusters[2].Err)
	}

	e.setLock("c2", elsewhere(time.Now().Add(-lockTTL-time.Minute)))
	var mu sync.Mutex
	var events []string
	_, res = e.apply(ctx, e.engine(func(o *Options) {
		o.Events = func(ev Event) {
			mu.Lock()
			defer mu.Unlock()
			if ev.Message != "" {
				events = append(events, ev.Cluster+": "+ev.Message)
			}
		}
	}), e.targets(e.many))
	expectOK(t, res)
	if !strings.Contains(strings.Join(events, "\n"), "c2: taking over the apply lock of gatefed pid 4242 on build-7: it was not renewed for 3m") {
		t.Errorf("no takeover event:\n%s", strings.Join(events, "\n"))
	}
	if l := e.lockOf("c2"); l != "" {
		t.Errorf("lock left: %s", l)
	}
}

// A long run renews its lock; a run whose lock another run took over stops
// at once and says so.
func TestApplyLockRenewedAndLost(t *testing.T) {
	defer func(every time.Duration) { lockRenewEvery = every }(lockRenewEvery)
	lockRenewEvery = 100 * time.Millisecond
	e := newEnv(t)
	ctx := context.Background()

	// Every route apply to c2 takes 150ms: the run lasts about a second.
	var mu sync.Mutex
	var renewals []string
	slow := func(o *Options) {
		wrap := o.WrapTransport
		o.WrapTransport = func(cluster string, rt http.RoundTripper) http.RoundTripper {
			rt = wrap(cluster, rt)
			return roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if cluster == "c2" && req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/httproutes/") {
					time.Sleep(150 * time.Millisecond)
				}
				if cluster == "c2" && req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/configmaps/") {
					mu.Lock()
					renewals = append(renewals, req.URL.Path)
					mu.Unlock()
				}
				return rt.RoundTrip(req)
			})
		}
	}
	_, res := e.apply(ctx, e.engine(slow), e.targets(e.many))
	expectOK(t, res)
	// Created with a POST, then at least one renewal, then the release.
	if len(renewals) < 2 {
		t.Errorf("c2: %d updates of the parent in a run of %s, want renewals and the release", len(renewals), res.Clusters[1].Duration)
	}
	if l := e.lockOf("c2"); l != "" {
		t.Errorf("lock left: %s", l)
	}

	// Another run takes the lock over midway (as one would after lockTTL).
	var once sync.Once
	e.reqs.reset()
	e.reqs.before = func(cluster string, n int, req *http.Request) {
		if cluster == "c2" && n == 5 {
			once.Do(func() {
				e.setLock("c2", (&applyLock{ID: "fedcba9876543210", Host: "build-8", PID: 99, Since: time.Now(), Renewed: time.Now()}).encode())
			})
		}
	}
	defer func() { e.reqs.before = nil }()
	changed := func(cluster string) []*unstructured.Unstructured {
		objs := e.many(cluster)
		for i := 6; i < len(objs); i++ {
			objs[i].SetLabels(map[string]string{"rev": "2"})
		}
		return objs
	}
	_, res = e.apply(ctx, e.engine(slow), e.targets(changed))
	r := res.Clusters[1]
	if r.OK() || r.Err == nil || !strings.Contains(r.Err.Error(), "another gatefed apply took this cluster's apply lock over") {
		t.Fatalf("c2 after losing its lock: %v, err=%v", counts(r), r.Err)
	}
	t.Logf("c2: %v", r.Err)
	if !strings.Contains(e.lockOf("c2"), "build-8") {
		t.Errorf("the other run's lock was overwritten: %s", e.lockOf("c2"))
	}
	e.setLock("c2", "")
	_, res = e.apply(ctx, e.engine(), e.targets(changed))
	expectOK(t, res)
}
