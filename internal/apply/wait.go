package apply

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/status"
)

// WaitItem is an object a gateway has not accepted.
type WaitItem struct {
	Cluster   string        `json:"cluster"`
	Kind      string        `json:"kind"`
	Namespace string        `json:"namespace,omitempty"`
	Name      string        `json:"name"`
	Status    status.Result `json:"status"`
	// Hint is what its provider says to do about an object still pending.
	Hint string `json:"hint,omitempty"`
}

// WaitReport is the outcome of waiting for gateways to accept what was applied.
type WaitReport struct {
	// Accepted counts the objects accepted.
	Accepted int `json:"accepted"`
	// NotAccepted are the objects rejected or still pending at the deadline.
	NotAccepted []WaitItem `json:"notAccepted,omitempty"`
	// TimedOut is true when the deadline passed with objects pending.
	TimedOut bool `json:"timedOut"`
}

// OK reports whether every object was accepted.
func (w *WaitReport) OK() bool { return len(w.NotAccepted) == 0 }

// WaitInterval is how often Wait polls.
var WaitInterval = time.Second

// RejectionSettle is how long a rejection must hold before it ends the wait
// when it is on an object the apply left unchanged while it wrote others in
// the cluster: a controller judges a route again when an object it refers to
// changes, and until then the route's status still holds the old verdict.
var RejectionSettle = 15 * time.Second

// Wait polls every applied cluster until each desired object that a gateway
// gives a verdict on is accepted, or every remaining one is rejected for its
// current generation (after RejectionSettle, for an object left unchanged
// while the apply wrote others in its cluster), or timeout passes. Clusters whose apply failed are left
// out (the apply already reported them).
func (e *Engine) Wait(ctx context.Context, p *Plan, res *Result, timeout time.Duration) *WaitReport {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	report := &WaitReport{}
	var mu sync.Mutex
	ok := map[string]bool{}
	for _, r := range res.Clusters {
		ok[r.Name] = r.Err == nil && len(r.Errors) == 0
	}
	e.forEachCluster(ctx, p.Clusters, func(ctx context.Context, cp *ClusterPlan) {
		e.adopt(cp)
		if !ok[cp.Name] {
			return
		}
		accepted, left, timedOut := e.waitCluster(ctx, cp)
		mu.Lock()
		defer mu.Unlock()
		report.Accepted += accepted
		report.NotAccepted = append(report.NotAccepted, left...)
		report.TimedOut = report.TimedOut || timedOut
	})
	sort.Slice(report.NotAccepted, func(i, j int) bool {
		a, b := report.NotAccepted[i], report.NotAccepted[j]
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		return a.Kind+" "+a.Namespace+"/"+a.Name < b.Kind+" "+b.Namespace+"/"+b.Name
	})
	return report
}

// rejectionSettled reports whether a final rejection of an object is to be
// believed now: at once for an object the apply wrote, or when it wrote
// nothing in the cluster; after RejectionSettle otherwise.
func rejectionSettled(cp *ClusterPlan) func(*Change) bool {
	wrote := false
	for _, c := range cp.Changes {
		wrote = wrote || c.Op != OpUnchanged
	}
	from := time.Now()
	return func(c *Change) bool {
		return !wrote || c.Op != OpUnchanged || time.Since(from) >= RejectionSettle
	}
}

func (e *Engine) waitCluster(ctx context.Context, cp *ClusterPlan) (accepted int, left []WaitItem, timedOut bool) {
	pending := map[liveKey]*Change{}
	results := map[liveKey]status.Result{}
	for _, c := range cp.Changes {
		if c.Op == OpDelete {
			continue
		}
		gk := c.mapping.GroupVersionKind.GroupKind()
		if status.Expects(gk) {
			k := liveKey{gk, c.Namespace, c.Name}
			pending[k] = c
			results[k] = status.Result{State: status.Pending, Reason: "not read yet"}
		}
	}
	total := len(pending)
	settled := rejectionSettled(cp)
	e.emitf(cp.Name, StageWaiting, "waiting for the gateway to accept %d %s", total, pluralize(total, "object", "objects"))
	selector := LabelPartOf + "=" + cp.set.id
	for {
		e.emit(Event{Cluster: cp.Name, Stage: StageWaiting, Done: total - len(pending), Total: total})
		// One list per kind and namespace still pending.
		groups := map[listKey]*Change{}
		for k, c := range pending {
			groups[listKey{k.gk, k.namespace}] = c
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for lk, sample := range groups {
			wg.Go(func() {
				_ = cp.client.do(ctx, func() error {
					list, err := cp.client.resource(sample.mapping, lk.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						if ctx.Err() != nil {
							return err // keep the last verdicts read
						}
						for k := range pending {
							if k.gk == lk.gk && k.namespace == lk.namespace {
								results[k] = status.Result{State: status.Pending, Reason: fmt.Sprintf("cannot read: %v", err)}
							}
						}
						return err
					}
					found := map[string]bool{}
					for i := range list.Items {
						o := &list.Items[i]
						k := liveKey{lk.gk, o.GetNamespace(), o.GetName()}
						if _, ok := pending[k]; ok {
							results[k] = status.Of(o)
							found[o.GetName()] = true
						}
					}
					for k := range pending {
						if k.gk == lk.gk && k.namespace == lk.namespace && !found[k.name] {
							results[k] = status.Result{State: status.Pending, Reason: "not found"}
						}
					}
					return nil
				})
			})
		}
		wg.Wait()
		final := true
		for k := range pending {
			r := results[k]
			switch {
			case r.State == status.Accepted:
				delete(pending, k)
			case r.State == status.Rejected && r.Final && settled(pending[k]):
			default:
				final = false
			}
		}
		if len(pending) == 0 || final {
			break
		}
		select {
		case <-ctx.Done():
			timedOut = true
		case <-time.After(WaitInterval):
		}
		if timedOut {
			break
		}
	}
	for k, c := range pending {
		left = append(left, notAccepted(cp.Name, k.gk, c, results[k]))
	}
	accepted = total - len(pending)
	e.emit(Event{Cluster: cp.Name, Stage: StageDone, Done: accepted, Total: total,
		Message: fmt.Sprintf("%d of %d %s accepted", accepted, total, pluralize(total, "object", "objects"))})
	return accepted, left, timedOut
}

// notAccepted is the report of an object left pending or rejected, with its
// provider's hint when it is pending.
func notAccepted(cluster string, gk schema.GroupKind, c *Change, r status.Result) WaitItem {
	it := WaitItem{Cluster: cluster, Kind: c.Kind, Namespace: c.Namespace, Name: c.Name, Status: r}
	if r.State == status.Pending {
		it.Hint = provider.PendingHint(gk, c.Namespace, c.Name)
	}
	return it
}
