// Package apply diffs and applies rendered objects to every cluster of a
// fleet in parallel: server-side apply with field manager "gatefed", a
// KEP-3659 ApplySet per cluster for owner-scoped pruning, and no-op detection
// so that applying an unchanged configuration writes nothing.
package apply

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
)

// Defaults of Options.
const (
	DefaultConcurrency    = 8
	DefaultParallel       = 10
	DefaultRequestTimeout = 60 * time.Second
)

// Options steer a diff or an apply.
type Options struct {
	// Kubeconfig is used for clusters whose Cluster document names none.
	Kubeconfig string
	// Concurrency bounds the requests in flight per cluster (default 8).
	Concurrency int
	// Parallel bounds the clusters worked on at once (default 10).
	Parallel int
	// Prune deletes ApplySet members that are no longer rendered.
	Prune bool
	// AllowEmpty lets a prune delete every member of a cluster's ApplySet.
	AllowEmpty bool
	// ForceConflicts takes over fields another field manager owns.
	ForceConflicts bool
	// FailFast stops every cluster at the first failure.
	FailFast bool
	// Tooling is the ApplySet tooling annotation value, "gatefed/<version>".
	Tooling string
	// ParentName is the ApplySet parent ConfigMap's name (default gatefed-applyset).
	ParentName string
	// CacheDir holds the discovery cache (default ${XDG_CACHE_HOME:-~/.cache}/gatefed).
	CacheDir string
	// RequestTimeout bounds each attempt of a request, its answer included
	// (default 60s).
	RequestTimeout time.Duration
	// Retries is how many times a request that is safe to send again is
	// retried after a failure that may pass (default kube.DefaultRetries;
	// negative: never); see kube.Retrying.
	Retries int
	// RetryBackoff is the pause before the first retry, doubling for each
	// further one (default kube.DefaultBackoff).
	RetryBackoff time.Duration
	// WrapTransport, when set, wraps every cluster's HTTP transport.
	WrapTransport func(cluster string, rt http.RoundTripper) http.RoundTripper
	// Events receives progress; it is called from many goroutines, one call at a time.
	Events func(Event)
}

func (o *Options) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Tooling == "" {
		o.Tooling = toolName + "/v0.0.0"
	}
	if o.ParentName == "" {
		o.ParentName = DefaultParentName
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
}

// Target is one cluster and the objects it should hold, in apply order.
type Target struct {
	Cluster *fleet.Cluster
	Objects []*unstructured.Unstructured
	// Conn, when set, is used instead of connecting from the Cluster document.
	Conn *Conn
}

// Engine runs plans, diffs and applies.
type Engine struct {
	opts    Options
	eventMu sync.Mutex
}

// New returns an engine with opts (zero values take defaults).
func New(opts Options) *Engine {
	opts.defaults()
	return &Engine{opts: opts}
}

// Op is what an apply does to an object.
type Op string

// Ops.
const (
	OpCreate    Op = "create"
	OpUpdate    Op = "update"
	OpDelete    Op = "delete"
	OpUnchanged Op = "unchanged"
)

// Change is one object of a cluster's plan.
type Change struct {
	Op         Op     `json:"op"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Diff is the unified YAML diff (set by Diff; Secret values masked).
	Diff string `json:"diff,omitempty"`

	desired *unstructured.Unstructured // normalized, with the ApplySet label
	live    *unstructured.Unstructured
	// appliedVersion is the resourceVersion the server answered the apply with.
	appliedVersion string
	mapping        *meta.RESTMapping
	rank           int
}

// Ref is "Kind namespace/name".
func (c *Change) Ref() string {
	if c.Namespace == "" {
		return c.Kind + " " + c.Name
	}
	return c.Kind + " " + c.Namespace + "/" + c.Name
}

// ClusterPlan is what an apply would do to one cluster.
type ClusterPlan struct {
	Name string
	// Namespace is the gateway namespace, home of the ApplySet parent.
	Namespace string
	// Changes are the desired objects in apply order, then the deletions.
	Changes []*Change
	// Err is set when the cluster could not be planned (unreachable, unknown kind, ...).
	Err error
	// Errors are per-object failures found while diffing (conflicts, rejected objects).
	Errors []*ObjectError
	// Refused is set when the plan would empty the ApplySet without AllowEmpty.
	Refused error

	cluster *fleet.Cluster
	client  *clusterClient
	set     *applySet
	started time.Time
	planned time.Duration
}

// Count returns how many changes have op.
func (p *ClusterPlan) Count(op Op) int {
	n := 0
	for _, c := range p.Changes {
		if c.Op == op {
			n++
		}
	}
	return n
}

// Pending reports whether applying would change the cluster.
func (p *ClusterPlan) Pending() bool {
	return p.Count(OpCreate)+p.Count(OpUpdate)+p.Count(OpDelete) > 0
}

// Failed reports whether planning or diffing the cluster failed.
func (p *ClusterPlan) Failed() bool { return p.Err != nil || len(p.Errors) > 0 || p.Refused != nil }

// Plan is what an apply would do to every cluster, sorted as targets were given.
type Plan struct {
	Clusters []*ClusterPlan
	// Prune is true when the plan includes deletions of pruned objects.
	Prune bool
}

// Pending reports whether any cluster has changes.
func (p *Plan) Pending() bool {
	for _, c := range p.Clusters {
		if c.Pending() {
			return true
		}
	}
	return false
}

// Failed reports whether any cluster failed to plan or diff.
func (p *Plan) Failed() bool {
	for _, c := range p.Clusters {
		if c.Failed() {
			return true
		}
	}
	return false
}

// restConfig builds a cluster's client config: unthrottled, retrying what
// is safe to retry (each attempt bounded by RequestTimeout, instead of one
// timeout for a request and all its retries), with the optional transport
// wrapper under the retries, so that it sees every attempt.
func (e *Engine) restConfig(c *fleet.Cluster, retries *retryEvents) (*rest.Config, error) {
	cfg, err := kube.RESTConfig(c, e.opts.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1
	cfg.Burst = 0
	cfg.Timeout = 0
	name := c.Name()
	if w := e.opts.WrapTransport; w != nil {
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return w(name, rt) })
	}
	retry := kube.RetryOptions{
		Retries: e.opts.Retries, Backoff: e.opts.RetryBackoff, AttemptTimeout: e.opts.RequestTimeout,
		OnRetry: func(r kube.Retry) { retries.emit(Event{Cluster: name, Stage: StageRetrying, Message: r.String()}) },
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return kube.Retrying(rt, retry) })
	return cfg, nil
}

// retryEvents sends a cluster's retry events to the engine working on the
// cluster: the one that planned it, then the one that diffs, applies or
// waits (cmd gives them different progress displays).
type retryEvents struct{ to atomic.Pointer[Engine] }

func (r *retryEvents) emit(ev Event) {
	if e := r.to.Load(); e != nil {
		e.emit(ev)
	}
}

// adopt makes e the engine that reports the cluster's retries.
func (e *Engine) adopt(cp *ClusterPlan) {
	if cp.client != nil && cp.client.retries != nil {
		cp.client.retries.to.Store(e)
	}
}

// forEachCluster runs f for every cluster plan, Parallel at a time.
func (e *Engine) forEachCluster(ctx context.Context, plans []*ClusterPlan, f func(ctx context.Context, p *ClusterPlan)) {
	sem := make(chan struct{}, e.opts.Parallel)
	var wg sync.WaitGroup
	for _, p := range plans {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				f(ctx, p) // f reports the cancellation
				return
			}
			defer func() { <-sem }()
			f(ctx, p)
		})
	}
	wg.Wait()
}
