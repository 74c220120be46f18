package apply

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterResult is what an apply did to one cluster.
type ClusterResult struct {
	Name      string
	Created   int
	Updated   int
	Deleted   int
	Unchanged int
	// Failed counts objects not applied or not pruned.
	Failed   int
	Duration time.Duration
	// Err is a failure of the whole cluster (unreachable, refused, interrupted).
	Err error
	// Errors are the per-object failures.
	Errors []*ObjectError
}

// OK reports whether everything was applied.
func (r *ClusterResult) OK() bool { return r.Err == nil && r.Failed == 0 && len(r.Errors) == 0 }

// Result is an apply across the fleet, in plan order.
type Result struct {
	Clusters []*ClusterResult
}

// Failed reports whether any cluster failed.
func (r *Result) Failed() bool {
	for _, c := range r.Clusters {
		if !c.OK() {
			return true
		}
	}
	return false
}

// Apply carries out a plan: per cluster, the ApplySet parent is widened to
// cover old and new members, the objects are applied phase by phase (in
// parallel within a phase), members no longer rendered are pruned, and the
// parent is narrowed to the new members. Objects the plan found unchanged are
// not sent. A failing cluster does not stop the others unless FailFast.
func (e *Engine) Apply(ctx context.Context, p *Plan) *Result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := &Result{Clusters: make([]*ClusterResult, len(p.Clusters))}
	index := map[*ClusterPlan]int{}
	for i, cp := range p.Clusters {
		index[cp] = i
	}
	// With FailFast the first failure anywhere cancels every cluster's requests.
	var tripped atomic.Bool
	failed := func() {
		if e.opts.FailFast && !tripped.Swap(true) {
			cancel()
		}
	}
	e.forEachCluster(ctx, p.Clusters, func(ctx context.Context, cp *ClusterPlan) {
		e.adopt(cp)
		r := e.applyCluster(ctx, cp, failed, &tripped)
		res.Clusters[index[cp]] = r
		if r.OK() {
			e.emitf(cp.Name, StageDone, "done: %d created, %d updated, %d deleted, %d unchanged in %s",
				r.Created, r.Updated, r.Deleted, r.Unchanged, r.Duration.Round(time.Millisecond))
		} else {
			msg := fmt.Sprintf("%d failed", r.Failed)
			if r.Err != nil {
				msg = r.Err.Error()
			}
			e.emitf(cp.Name, StageFailed, "failed: %s", msg)
			failed()
		}
	})
	return res
}

// clusterRun is one cluster's apply: the plan, the result being built and
// the state its steps share. Its steps run in order: split the changes,
// take the lock, write, prune, release the lock.
type clusterRun struct {
	e  *Engine
	cp *ClusterPlan
	r  *ClusterResult
	// parent is the whole apply's context; ctx is this cluster's, cancelled
	// when the cluster is lost or its lock is.
	parent, ctx context.Context
	cancel      context.CancelFunc
	// failed is called at each failure (it cancels everything under
	// FailFast, recorded in failFast).
	failed   func()
	failFast *atomic.Bool
	lockLost atomic.Pointer[error]

	writes, deletes []*Change
	desired         int
	// done counts the changes sent, for progress.
	done int

	mu sync.Mutex
	// lost is a failure of the whole cluster (a lost connection): it stops
	// the run with one error, not one per object.
	lost *clusterError
	// notDone counts the changes not sent or not answered in this step.
	notDone int
	// narrowed: the parent is narrowed to this run's members as the lock is released.
	narrowed     bool
	stopRenewing func()
}

// applyCluster applies one cluster's plan; failed is called at each failure
// (it cancels everything under FailFast, recorded in failFast).
func (e *Engine) applyCluster(parent context.Context, cp *ClusterPlan, failed func(), failFast *atomic.Bool) *ClusterResult {
	r := &ClusterResult{Name: cp.Name}
	start := time.Now()
	defer func() { r.Duration = time.Since(start) + cp.planned }()
	if cp.Err != nil {
		r.Err = cp.Err
		return r
	}
	if cp.Refused != nil {
		r.Err = cp.Refused
		return r
	}
	run := &clusterRun{e: e, cp: cp, r: r, parent: parent, failed: failed, failFast: failFast}
	if parent.Err() != nil {
		r.Err = fmt.Errorf("not started: %w", run.cause())
		return r
	}
	run.ctx, run.cancel = context.WithCancel(parent)
	defer run.cancel()
	run.splitChanges()
	if run.needsLock() {
		if !run.lock() {
			return r
		}
		defer run.release()
	}
	run.e.emit(Event{Cluster: cp.Name, Stage: StageApplying, Total: run.total()})
	if !run.write() || !run.prune() {
		return r
	}
	run.narrowed = true
	return r
}

// cause is why the run stopped early: the lock was lost, --fail-fast, or
// the apply was interrupted.
func (run *clusterRun) cause() error {
	if err := run.lockLost.Load(); err != nil {
		return *err
	}
	if run.failFast.Load() {
		return errors.New("stopped by --fail-fast after a failure")
	}
	return run.parent.Err()
}

// splitChanges sorts the plan's changes into writes and deletions and counts
// the unchanged objects.
func (run *clusterRun) splitChanges() {
	for _, c := range run.cp.Changes {
		switch c.Op {
		case OpUnchanged:
			run.r.Unchanged++
			run.desired++
		case OpCreate, OpUpdate:
			run.writes = append(run.writes, c)
			run.desired++
		case OpDelete:
			run.deletes = append(run.deletes, c)
		}
	}
}

func (run *clusterRun) total() int { return len(run.writes) + len(run.deletes) }

// needsLock reports whether the run writes anything: objects, the parent's
// widening or narrowing, or the clearing of a lock left by a killed apply
// (cleared even when there is nothing else to do).
func (run *clusterRun) needsLock() bool {
	set := run.cp.set
	return run.total() > 0 || (run.desired > 0 || set.exists) && set.needsUpdate(set.superset()) ||
		run.e.opts.Prune && set.exists && set.needsUpdate(set.latest()) || set.staleLock()
}

// lock takes the cluster's apply lock before writing anything, widening the
// parent in the same write, so that no other apply writes here meanwhile
// and an interrupted run leaks no object; it starts renewing the lock.
func (run *clusterRun) lock() bool {
	gks, nss := run.cp.set.superset()
	if err := run.e.lockCluster(run.ctx, run.cp, gks, nss); err != nil {
		if run.parent.Err() != nil {
			err = fmt.Errorf("not started: %w", run.cause())
		}
		run.r.Err = run.e.credentials(run.cp, transportError(err))
		run.r.Failed = run.total()
		run.failed()
		return false
	}
	run.stopRenewing = run.e.renewLock(run.ctx, run.cp, func(err error) { run.lockLost.Store(&err); run.cancel() })
	return true
}

// release stops renewing the lock and releases it, the parent narrowed to
// this run's members when everything was pruned; it is left in place when
// the cluster cannot be reached or the lock is another run's now.
func (run *clusterRun) release() {
	run.stopRenewing()
	if run.lost != nil || run.lockLost.Load() != nil {
		run.e.leaveLock(run.cp)
		return
	}
	set := run.cp.set
	gks, nss := set.liveGKs, set.liveNS
	if run.narrowed {
		gks, nss = set.latest()
	}
	// Released even after an interruption, within a time limit.
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(run.parent), 10*time.Second)
	defer ucancel()
	err := run.e.unlockCluster(uctx, run.cp, gks, nss)
	r := run.r
	switch {
	case err == nil:
	case run.narrowed:
		r.Err = fmt.Errorf("applied and pruned, but %w", transportError(err))
	case r.Err == nil:
		r.Err = transportError(err)
	default:
		r.Err = fmt.Errorf("%w; and the apply lock was not released: %v", r.Err, transportError(err))
	}
}

// progress reports one change sent, with what happened to it.
func (run *clusterRun) progress(msg string) {
	run.done++
	run.e.emit(Event{Cluster: run.cp.Name, Stage: StageApplying, Done: run.done, Total: run.total(), Message: msg})
}

// write applies the creations and updates; it reports whether the run goes
// on to prune. Nothing is pruned after a failed apply; the parent stays wide.
func (run *clusterRun) write() bool {
	r := run.r
	run.send(run.writes, false, func(c *Change) error {
		out, err := run.e.serverSideApplyMeta(run.ctx, run.cp.client, c)
		if err == nil {
			c.appliedVersion = out.ResourceVersion
		}
		return err
	}, func(c *Change) {
		switch {
		case c.live == nil:
			r.Created++
			run.progress("created " + c.Ref())
		case c.appliedVersion != c.live.GetResourceVersion():
			r.Updated++
			run.progress("updated " + c.Ref())
		default:
			r.Unchanged++
			run.progress("")
		}
	})
	if run.stopped("applied") {
		r.Failed += len(run.deletes)
		return false
	}
	if len(r.Errors) > 0 {
		r.Failed += len(run.deletes)
		return false
	}
	return run.e.opts.Prune
}

// prune deletes the members no longer rendered, in reverse dependency
// order (routes before what they point at); it reports whether all went.
func (run *clusterRun) prune() bool {
	run.send(run.deletes, true, func(c *Change) error { return run.e.deleteMember(run.ctx, run.cp.client, c) }, func(c *Change) {
		run.r.Deleted++
		run.progress("deleted " + c.Ref())
	})
	return !run.stopped("pruned") && len(run.r.Errors) == 0
}

// send sends one request per change, phase by phase, in parallel within a
// phase; ok records a success. The object errors are sorted at the end.
func (run *clusterRun) send(changes []*Change, reverse bool, request func(*Change) error, ok func(*Change)) {
	for _, phase := range phases(changes, reverse) {
		var wg sync.WaitGroup
		for _, c := range phase {
			wg.Go(func() {
				err := run.cp.client.do(run.ctx, func() error { return request(c) })
				run.record(c, err, ok)
			})
		}
		wg.Wait()
	}
	sortErrors(run.r.Errors)
}

// record counts one answer: a success, a change left undone because the
// cluster is lost or the run stopped, the loss of the whole cluster, or an
// object's own failure.
func (run *clusterRun) record(c *Change, err error, ok func(*Change)) {
	whole := run.e.asClusterError(run.cp, err)
	run.mu.Lock()
	defer run.mu.Unlock()
	r := run.r
	switch {
	case err == nil:
		ok(c)
	case run.lost != nil || run.ctx.Err() != nil:
		run.notDone++
		r.Failed++
	case whole != nil:
		run.lost = whole
		run.cancel()
		run.notDone++
		r.Failed++
		run.failed()
	default:
		oe := newObjectError(c, err)
		r.Errors = append(r.Errors, oe)
		r.Failed++
		run.progress(oe.Error())
		run.failed()
	}
}

// stopped reports whether changes were left undone, setting the cluster's
// error: the lost connection, or the interruption's cause.
func (run *clusterRun) stopped(what string) bool {
	n := run.notDone
	if n == 0 {
		return false
	}
	objects := pluralize(n, "object", "objects")
	if run.lost != nil {
		run.r.Err = fmt.Errorf("%s, %d %s not %s: %w", run.lost.what, n, objects, what, run.lost.err)
	} else {
		run.r.Err = fmt.Errorf("interrupted, %d %s not %s: %w", n, objects, what, run.cause())
	}
	return true
}

// phases splits changes into runs of the same dependency rank, in order
// (reversed for deletions).
func phases(changes []*Change, reverse bool) [][]*Change {
	sorted := append([]*Change(nil), changes...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if reverse {
			return sorted[i].rank > sorted[j].rank
		}
		return sorted[i].rank < sorted[j].rank
	})
	var out [][]*Change
	for i, c := range sorted {
		if i == 0 || c.rank != sorted[i-1].rank {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], c)
	}
	return out
}

// deleteMember deletes a pruned object, only if it is still the object the
// plan saw (same UID) and still labelled into the set.
func (e *Engine) deleteMember(ctx context.Context, cl *clusterClient, c *Change) error {
	uid := c.live.GetUID()
	propagation := metav1.DeletePropagationBackground
	err := cl.resource(c.mapping, c.Namespace).Delete(ctx, c.Name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: &propagation,
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if apierrors.IsConflict(err) {
		return errors.New("the object was replaced since it was read; rerun to prune it")
	}
	return err
}

func sortErrors(errs []*ObjectError) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].ref() < errs[j].ref() })
}

// isTransportError reports whether err is a failure to talk to the API
// server at all (no API status came back).
func isTransportError(err error) bool {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return false
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

// transportError drops the request URL from a connection error: the cause
// (say "dial tcp 10.0.0.1:6443: connect: connection refused") says enough.
func transportError(err error) error {
	var ue *url.Error
	if !isTransportError(err) || !errors.As(err, &ue) {
		return err
	}
	return ue.Err
}
