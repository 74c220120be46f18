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
	var lockLost atomic.Pointer[error]
	cause := func() error {
		if err := lockLost.Load(); err != nil {
			return *err
		}
		if failFast.Load() {
			return errors.New("stopped by --fail-fast after a failure")
		}
		return parent.Err()
	}
	if parent.Err() != nil {
		r.Err = fmt.Errorf("not started: %w", cause())
		return r
	}
	// A lost connection (or another failure of the whole cluster) stops this
	// cluster's run with one error, not one per object.
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var mu sync.Mutex
	var lost *clusterError
	cl, set := cp.client, cp.set
	var writes, deletes []*Change
	desired := 0
	for _, c := range cp.Changes {
		switch c.Op {
		case OpUnchanged:
			r.Unchanged++
			desired++
		case OpCreate, OpUpdate:
			writes = append(writes, c)
			desired++
		case OpDelete:
			deletes = append(deletes, c)
		}
	}

	// Take the cluster's apply lock before writing anything, widening the
	// parent in the same write, so that no other apply writes here meanwhile
	// and an interrupted run leaks no object. At the end the lock is
	// released, with the parent narrowed once everything is pruned.
	narrowed := false
	// A lock left by a killed apply is cleared even when there is nothing else to do.
	if len(writes)+len(deletes) > 0 || (desired > 0 || set.exists) && set.needsUpdate(set.superset()) ||
		e.opts.Prune && set.exists && set.needsUpdate(set.latest()) || set.staleLock() {
		gks, nss := set.superset()
		if err := e.lockCluster(ctx, cp, gks, nss); err != nil {
			if parent.Err() != nil {
				err = fmt.Errorf("not started: %w", cause())
			}
			r.Err = e.credentials(cp, transportError(err))
			r.Failed = len(writes) + len(deletes)
			failed()
			return r
		}
		stopRenewing := e.renewLock(ctx, cp, func(err error) { lockLost.Store(&err); cancel() })
		defer func() {
			stopRenewing()
			if lost != nil || lockLost.Load() != nil {
				// The cluster cannot be reached to release the lock, or the
				// lock is another run's now.
				e.leaveLock(cp)
				return
			}
			gks, nss := set.liveGKs, set.liveNS
			if narrowed {
				gks, nss = set.latest()
			}
			// Released even after an interruption, within a time limit.
			uctx, ucancel := context.WithTimeout(context.WithoutCancel(parent), 10*time.Second)
			defer ucancel()
			err := e.unlockCluster(uctx, cp, gks, nss)
			switch {
			case err == nil:
			case narrowed:
				r.Err = fmt.Errorf("applied and pruned, but %w", transportError(err))
			case r.Err == nil:
				r.Err = transportError(err)
			default:
				r.Err = fmt.Errorf("%w; and the apply lock was not released: %v", r.Err, transportError(err))
			}
		}()
	}

	total := len(writes) + len(deletes)
	done := 0
	progress := func(msg string) {
		done++
		e.emit(Event{Cluster: cp.Name, Stage: StageApplying, Done: done, Total: total, Message: msg})
	}
	e.emit(Event{Cluster: cp.Name, Stage: StageApplying, Total: total})

	// run sends one request per change, phase by phase; ok records a success.
	notDone := 0
	run := func(changes []*Change, reverse bool, send func(*Change) error, ok func(*Change)) {
		for _, phase := range phases(changes, reverse) {
			var wg sync.WaitGroup
			for _, c := range phase {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := cl.do(ctx, func() error { return send(c) })
					whole := e.asClusterError(cp, err)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok(c)
					case lost != nil || ctx.Err() != nil:
						notDone++
						r.Failed++
					case whole != nil:
						lost = whole
						cancel()
						notDone++
						r.Failed++
						failed()
					default:
						oe := newObjectError(c, err)
						r.Errors = append(r.Errors, oe)
						r.Failed++
						progress(oe.Error())
						failed()
					}
				}()
			}
			wg.Wait()
		}
	}
	stopped := func(what string) bool {
		if notDone == 0 {
			return false
		}
		switch {
		case lost != nil:
			r.Err = fmt.Errorf("%s, %d %s not %s: %w", lost.what, notDone, pluralize(notDone, "object", "objects"), what, lost.err)
		default:
			r.Err = fmt.Errorf("interrupted, %d %s not %s: %w", notDone, pluralize(notDone, "object", "objects"), what, cause())
		}
		return true
	}

	run(writes, false, func(c *Change) error {
		out, err := e.serverSideApplyMeta(ctx, cl, c)
		if err == nil {
			c.appliedVersion = out.ResourceVersion
		}
		return err
	}, func(c *Change) {
		switch {
		case c.live == nil:
			r.Created++
			progress("created " + c.Ref())
		case c.appliedVersion != c.live.GetResourceVersion():
			r.Updated++
			progress("updated " + c.Ref())
		default:
			r.Unchanged++
			progress("")
		}
	})
	sortErrors(r.Errors)
	if stopped("applied") {
		r.Failed += len(deletes)
		return r
	}
	if len(r.Errors) > 0 || !e.opts.Prune {
		// Nothing is pruned after a failed apply; the parent stays wide.
		if len(r.Errors) > 0 {
			r.Failed += len(deletes)
		}
		return r
	}

	// Prune in reverse dependency order: routes before what they point at.
	run(deletes, true, func(c *Change) error { return e.deleteMember(ctx, cl, c) }, func(c *Change) {
		r.Deleted++
		progress("deleted " + c.Ref())
	})
	sortErrors(r.Errors)
	if stopped("pruned") || len(r.Errors) > 0 {
		return r
	}

	// The parent is narrowed to exactly this run's members as the lock is released.
	narrowed = true
	return r
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
