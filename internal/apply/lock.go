package apply

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/kube"
)

// The apply lock. Two applies writing to one cluster at once each prune from
// a view the other is changing: one deletes what the other has just
// applied, and one may narrow the ApplySet parent past the other's new
// members, which no apply would then prune. So an apply that writes to a
// cluster first takes the cluster's lock, annotation AnnotationApplyLock on
// the ApplySet parent, in the write that widens the parent. Every write of
// the parent is an update of the version this run read or wrote last, so a
// run whose view is out of date (another apply wrote since it read the
// cluster) writes nothing. The lock is renewed while the run lasts and
// removed by the write that narrows the parent, or leaves it wide, at the end.
//
// A run that finds the lock held writes nothing to that cluster and fails it.
// A lock whose holder is gone is taken over: the holder ran on this machine
// and its process no longer exists (it was killed), or the lock has not been
// renewed for lockTTL.
var (
	lockTTL        = 2 * time.Minute
	lockRenewEvery = 20 * time.Second
)

// errParentChanged: the parent is not the version a write was based on.
var errParentChanged = errors.New("the ApplySet parent changed since it was read")

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// applyLock is the value of AnnotationApplyLock: who holds the lock.
type applyLock struct {
	// ID is the holding run's, random.
	ID   string `json:"id"`
	Host string `json:"host"`
	// PIDNamespace tells processes of one host apart when they run in
	// different PID namespaces (containers); Linux only.
	PIDNamespace string    `json:"pidNamespace,omitempty"`
	PID          int       `json:"pid"`
	Since        time.Time `json:"since"`
	Renewed      time.Time `json:"renewed"`
}

func newLock(now time.Time) *applyLock {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	now = now.UTC().Truncate(time.Millisecond)
	return &applyLock{ID: hex.EncodeToString(b), Host: host, PIDNamespace: pidNamespace(), PID: os.Getpid(), Since: now, Renewed: now}
}

// parseLock reads the annotation: nil when there is none. A value that
// does not read is a lock of an unknown holder that was never renewed.
func parseLock(s string) *applyLock {
	if s == "" {
		return nil
	}
	var l applyLock
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return &applyLock{}
	}
	return &l
}

func (l *applyLock) encode() string {
	b, _ := json.Marshal(l)
	return string(b)
}

func (l *applyLock) holder() string {
	if l.PID == 0 {
		return "an unknown holder"
	}
	return fmt.Sprintf("gatefed pid %d on %s", l.PID, l.Host)
}

// running are the IDs of the locks runs of this process hold.
var running sync.Map

// stale reports whether the lock's holder is gone, and why.
func (l *applyLock) stale(now time.Time) (bool, string) {
	if l.PID != 0 && l.Host != "" {
		host, _ := os.Hostname()
		if l.Host == host && l.PIDNamespace == pidNamespace() {
			if l.PID == os.Getpid() {
				if _, ok := running.Load(l.ID); !ok {
					return true, "that run of this process has ended"
				}
			} else if processGone(l.PID) {
				return true, "that process no longer runs"
			}
		}
	}
	if age := now.Sub(l.Renewed); age > lockTTL {
		return true, fmt.Sprintf("it was not renewed for %s", age.Round(time.Second))
	}
	return false, ""
}

// staleLock reports whether the parent holds a lock whose holder is gone.
func (a *applySet) staleLock() bool {
	if a.lock == nil {
		return false
	}
	stale, _ := a.lock.stale(time.Now())
	return stale
}

func pidNamespace() string {
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return ns
}

func processGone(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	err = p.Signal(syscall.Signal(0))
	return errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH)
}

// lockCluster takes the cluster's apply lock, writing the parent with the
// annotations gks and nss. It writes nothing when another run holds the
// lock or wrote the parent since this run read it.
func (e *Engine) lockCluster(ctx context.Context, cp *ClusterPlan, gks, nss string) error {
	set := cp.set
	ref := fmt.Sprintf("ConfigMap %s/%s", set.namespace, set.name)
	now := time.Now()
	if l := set.lock; l != nil {
		stale, why := l.stale(now)
		if !stale {
			return fmt.Errorf("another gatefed apply is writing to this cluster (%s since %s, its lock in annotation %s of %s renewed %s ago); nothing was written to it: rerun when that apply is done (a lock is taken over at once when its process on this machine is gone, else %s after its last renewal)",
				l.holder(), l.Since.Local().Format(time.TimeOnly), AnnotationApplyLock, ref, now.Sub(l.Renewed).Round(time.Second), lockTTL)
		}
		e.emitf(cp.Name, StageApplying, "taking over the apply lock of %s: %s", l.holder(), why)
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	set.held = newLock(now)
	running.Store(set.held.ID, true)
	if err := e.writeParentLocked(ctx, cp.Name, cp.client, set, gks, nss); err != nil {
		running.Delete(set.held.ID)
		set.held = nil
		if errors.Is(err, errParentChanged) {
			return fmt.Errorf("another gatefed apply wrote to this cluster since this one read it (%s changed); nothing was written to it: rerun", ref)
		}
		return err
	}
	return nil
}

// renewLock renews the lock every lockRenewEvery until stop is called. When
// another run has taken the lock over, lost is called and renewing stops;
// other failures are tried again at the next renewal.
func (e *Engine) renewLock(ctx context.Context, cp *ClusterPlan, lost func(error)) (stop func()) {
	set := cp.set
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(lockRenewEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			set.mu.Lock()
			set.held.Renewed = time.Now().UTC().Truncate(time.Millisecond)
			err := e.writeParentLocked(ctx, cp.Name, cp.client, set, set.liveGKs, set.liveNS)
			set.mu.Unlock()
			if errors.Is(err, errParentChanged) {
				lost(fmt.Errorf("another gatefed apply took this cluster's apply lock over (ConfigMap %s/%s changed)", set.namespace, set.name))
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// unlockCluster releases the lock, writing the parent with the annotations
// gks and nss. Whether that succeeds or not, the run no longer holds the
// lock: one it could not remove is stale (see stale).
func (e *Engine) unlockCluster(ctx context.Context, cp *ClusterPlan, gks, nss string) error {
	set := cp.set
	set.mu.Lock()
	defer set.mu.Unlock()
	held := set.held
	defer running.Delete(held.ID)
	set.held = nil
	if err := e.writeParentLocked(ctx, cp.Name, cp.client, set, gks, nss); err != nil {
		set.held = held
		if errors.Is(err, errParentChanged) {
			return fmt.Errorf("another gatefed apply took this cluster's apply lock over while this one ran (ConfigMap %s/%s changed): rerun", set.namespace, set.name)
		}
		return err
	}
	return nil
}

// leaveLock gives the lock up without writing (the cluster cannot be
// reached): it stays on the parent, stale once this process is gone, or
// lockTTL after its last renewal.
func (e *Engine) leaveLock(cp *ClusterPlan) {
	cp.set.mu.Lock()
	defer cp.set.mu.Unlock()
	running.Delete(cp.set.held.ID)
}

// writeParentLocked writes the parent with the given annotations and the
// run's lock, as an update of the version last read or written (a create
// when there was none); set.mu is held. A write that fails is checked
// against what the server holds: it may have been carried out with its
// answer lost (then it succeeded), another run may have written first
// (errParentChanged), or nothing changed and it is sent again when the
// failure may pass, as a request retried by kube.Retrying would be.
func (e *Engine) writeParentLocked(ctx context.Context, cluster string, cl *clusterClient, set *applySet, gks, nss string) error {
	want := set.parentObject(gks, nss)
	r := cl.dyn.Resource(configMapsGVR).Namespace(set.namespace)
	ref := fmt.Sprintf("ApplySet parent ConfigMap %s/%s", set.namespace, set.name)
	retries, backoff := e.opts.Retries, e.opts.RetryBackoff
	if retries == 0 {
		retries = kube.DefaultRetries
	}
	if backoff <= 0 {
		backoff = kube.DefaultBackoff
	}
	for attempt := 1; ; attempt++ {
		var out *unstructured.Unstructured
		err := cl.do(ctx, func() error {
			var err error
			if set.live == nil {
				out, err = r.Create(ctx, want, metav1.CreateOptions{FieldManager: parentFieldManager})
			} else {
				out, err = r.Update(ctx, want, metav1.UpdateOptions{FieldManager: parentFieldManager})
			}
			return err
		})
		if err == nil {
			set.wrote(out)
			return nil
		}
		var now *unstructured.Unstructured
		gerr := cl.do(ctx, func() error {
			var err error
			now, err = r.Get(ctx, set.name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				now, err = nil, nil
			}
			return err
		})
		switch {
		case gerr != nil:
			return fmt.Errorf("update %s: %w", ref, transportError(err))
		case now != nil && sameParent(now, want):
			set.wrote(now)
			return nil
		case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || !sameVersion(now, set.live):
			return fmt.Errorf("%s: %w", ref, errParentChanged)
		case retries < 0 || attempt > retries || !mayPass(err):
			return fmt.Errorf("update %s: %w", ref, transportError(err))
		}
		wait := backoff << (attempt - 1)
		e.emit(Event{Cluster: cluster, Stage: StageRetrying, Message: fmt.Sprintf("retrying the update of %s in %s (attempt %d of %d failed: %v)", ref, wait, attempt, retries+1, transportError(err))})
		select {
		case <-ctx.Done():
			return fmt.Errorf("update %s: %w", ref, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// sameParent reports whether the live parent carries what want writes.
func sameParent(live, want *unstructured.Unstructured) bool {
	if live.GetLabels()[LabelApplySetID] != want.GetLabels()[LabelApplySetID] {
		return false
	}
	la, wa := live.GetAnnotations(), want.GetAnnotations()
	for _, k := range []string{AnnotationTooling, AnnotationGroupKinds, AnnotationAdditionalNS, AnnotationApplyLock} {
		lv, lok := la[k]
		wv, wok := wa[k]
		if lv != wv || lok != wok {
			return false
		}
	}
	return true
}

func sameVersion(a, b *unstructured.Unstructured) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.GetResourceVersion() == b.GetResourceVersion()
}

// mayPass reports whether a failed write may succeed when sent again: the
// connection failed, or the server (or a proxy) answered 429 or 5xx.
func mayPass(err error) bool {
	if isTransportError(err) {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code == 429 || code >= 500
	}
	return false
}
