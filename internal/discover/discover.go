// Package discover reads which clusters actually run a GlobalService: the
// Service exists, has the port, and has ready endpoints for it. The result
// is a plan.Availability, so render can route around clusters where a
// service is absent instead of answering HTTP 500.
package discover

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
)

// What to do with a cluster that cannot be read.
const (
	UnreachableError = "error" // fail: nothing is rendered from a guess
	UnreachableSkip  = "skip"  // treat every service there as unavailable
	UnreachableKeep  = "keep"  // treat every service there as available
)

// UnreachablePolicies are the valid values of Options.Unreachable.
var UnreachablePolicies = []string{UnreachableError, UnreachableSkip, UnreachableKeep}

// Reasons a cluster cannot serve a service.
const (
	ReasonUnreachable = "unreachable"
	ReasonNoEndpoints = "no ready endpoints"
)

// DefaultTimeout bounds the reads of one cluster.
const DefaultTimeout = 10 * time.Second

// DefaultConcurrency is how many clusters are read at once.
const DefaultConcurrency = 8

// Options steer discovery.
type Options struct {
	// Sources are the clusters being rendered (by name); empty means all.
	// Only the clusters their tiers can reach are read.
	Sources []string
	// Kubeconfig is the fallback for clusters whose document names none.
	Kubeconfig string
	// Unreachable is error, skip or keep (default error).
	Unreachable string
	// Timeout bounds the reads of one cluster (default DefaultTimeout).
	Timeout time.Duration
	// Ignore are clusters not to read: every service there counts as available.
	Ignore []string
	// Concurrency bounds how many clusters are read at once (default DefaultConcurrency).
	Concurrency int
	// Config, when set, replaces kube.RESTConfig (tests).
	Config func(c *fleet.Cluster) (*rest.Config, error)
}

// Result is what discovery found. It implements plan.Availability.
type Result struct {
	// reasons maps service key, then cluster name, to why it cannot serve.
	reasons map[string]map[string]string
	// Unreachable are the clusters that could not be read, with the error, sorted by cluster.
	Unreachable []ClusterError
	// Checked counts the (service, cluster) pairs read.
	Checked int
}

// ClusterError is a cluster that could not be read.
type ClusterError struct {
	Cluster string
	Err     error
}

func (e ClusterError) Error() string { return fmt.Sprintf("cluster %s: %v", e.Cluster, e.Err) }

// UnreachableClustersError is returned when a cluster cannot be read and the policy is error.
type UnreachableClustersError struct{ Clusters []ClusterError }

func (e *UnreachableClustersError) Error() string {
	parts := make([]string, len(e.Clusters))
	for i, c := range e.Clusters {
		parts[i] = c.Error()
	}
	return "cannot read " + strings.Join(parts, "; ") + " (--discover-unreachable=skip leaves such clusters out, =keep assumes they serve)"
}

// Unavailable implements plan.Availability.
func (r *Result) Unavailable(s *fleet.GlobalService, cluster string) string {
	if r == nil {
		return ""
	}
	return r.reasons[s.Key()][cluster]
}

// Reasons returns every unavailable (service, cluster) pair: service key -> cluster -> reason.
func (r *Result) Reasons() map[string]map[string]string { return r.reasons }

// pair is one service to read in one cluster.
type pair struct {
	service *fleet.GlobalService
	cluster *fleet.Cluster
}

// Needed returns, per cluster name, the services whose presence there can
// change the tiers of the sources: the services routed from a source or
// served there, read in the source itself and in every failover target they
// are placed in.
func Needed(f *fleet.Fleet, sources []string) map[string][]*fleet.GlobalService {
	isSource := map[string]bool{}
	for _, n := range sources {
		isSource[n] = true
	}
	all := len(sources) == 0
	relevant := map[string]*fleet.GlobalService{}
	for _, c := range f.Clusters {
		if !all && !isSource[c.Name()] {
			continue
		}
		for _, r := range f.Routes {
			if !r.Spec.Clusters.Matches(c) {
				continue
			}
			for _, rule := range r.Spec.Rules {
				for _, b := range rule.Backends {
					if s := f.Service(r.BackendRef(b)); s != nil {
						relevant[s.Key()] = s
					}
				}
			}
		}
		for _, s := range f.Services {
			if s.Spec.Clusters.Matches(c) {
				relevant[s.Key()] = s
			}
		}
	}
	out := map[string][]*fleet.GlobalService{}
	for _, s := range relevant {
		for _, c := range f.ServiceClusters(s) {
			if all || isSource[c.Name()] || c.FailoverTarget() {
				out[c.Name()] = append(out[c.Name()], s)
			}
		}
	}
	for _, svcs := range out {
		sort.Slice(svcs, func(i, j int) bool { return svcs[i].Key() < svcs[j].Key() })
	}
	return out
}

// Discover reads the clusters in parallel. With policy error, an unreachable
// cluster fails the whole discovery with *UnreachableClustersError.
func Discover(ctx context.Context, f *fleet.Fleet, opts Options) (*Result, error) {
	policy := opts.Unreachable
	if policy == "" {
		policy = UnreachableError
	}
	switch policy {
	case UnreachableError, UnreachableSkip, UnreachableKeep:
	default:
		return nil, fmt.Errorf("unknown unreachable policy %q (want error, skip or keep)", policy)
	}
	for _, n := range opts.Sources {
		if f.Cluster(n) == nil {
			return nil, fmt.Errorf("unknown cluster %q", n)
		}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	config := opts.Config
	if config == nil {
		config = func(c *fleet.Cluster) (*rest.Config, error) { return kube.RESTConfig(c, opts.Kubeconfig) }
	}

	needed := Needed(f, opts.Sources)
	for _, n := range opts.Ignore {
		delete(needed, n)
	}
	names := make([]string, 0, len(needed))
	for n := range needed {
		names = append(names, n)
	}
	sort.Strings(names)

	type outcome struct {
		cluster string
		reasons map[string]string // service key -> reason
		checked int
		err     error
	}
	outcomes := make([]outcome, len(names))
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c := f.Cluster(name)
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			reasons, err := readCluster(cctx, c, needed[name], config, timeout)
			outcomes[i] = outcome{cluster: name, reasons: reasons, checked: len(needed[name]), err: err}
		})
	}
	wg.Wait()

	res := &Result{reasons: map[string]map[string]string{}}
	set := func(svc, cluster, why string) {
		if res.reasons[svc] == nil {
			res.reasons[svc] = map[string]string{}
		}
		res.reasons[svc][cluster] = why
	}
	for _, o := range outcomes {
		res.Checked += o.checked
		if o.err != nil {
			res.Unreachable = append(res.Unreachable, ClusterError{Cluster: o.cluster, Err: o.err})
			if policy == UnreachableSkip {
				for _, s := range needed[o.cluster] {
					set(s.Key(), o.cluster, ReasonUnreachable)
				}
			}
			continue
		}
		for svc, why := range o.reasons {
			set(svc, o.cluster, why)
		}
	}
	if len(res.Unreachable) > 0 && policy == UnreachableError {
		return res, &UnreachableClustersError{Clusters: res.Unreachable}
	}
	return res, nil
}

// readCluster returns the reasons the services cannot be served from c, or
// an error when the cluster cannot be read.
func readCluster(ctx context.Context, c *fleet.Cluster, svcs []*fleet.GlobalService, config func(*fleet.Cluster) (*rest.Config, error), timeout time.Duration) (map[string]string, error) {
	cfg, err := config(c)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = timeout
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range svcs {
		why, err := Presence(ctx, client, s)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("no answer within %s: %w", timeout, err)
			}
			return nil, err
		}
		if why != "" {
			out[s.Key()] = why
		}
	}
	return out, nil
}
