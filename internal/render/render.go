package render

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
	"github.com/gatefed/gatefed/internal/provider"
)

var (
	registryMu sync.RWMutex
	registry   = map[string]Provider{}
)

// Register makes a provider available to Render, and its descriptor to the
// rest of gatefed, under its name. Registering a name again replaces it.
func Register(p Provider) {
	d := p.Descriptor()
	provider.Register(d)
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[d.Name] = p
}

func lookup(name string) Provider {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return registry[name]
}

// Options restrict and steer a render.
type Options struct {
	// Clusters, when set, renders only these clusters (by name).
	Clusters []string
	// Selector, when set, renders only clusters whose labels match it.
	Selector string
	// Availability, when set, drops clusters that cannot serve a service
	// from every tier list (see gatefed render --discover).
	Availability plan.Availability
}

// ClusterOutput is one cluster's rendered objects, in apply order, with
// the warnings and discovery skips of that cluster.
type ClusterOutput struct {
	Cluster *fleet.Cluster
	Objects []*unstructured.Unstructured
	// Warnings are one line per cause, naming the objects it touches.
	Warnings []string
	Skips    []SkipReport

	warnings warningSet
}

// SkipReport says which clusters a service's tiers left out, seen from one cluster.
type SkipReport struct {
	Cluster string      `json:"cluster"`
	Service string      `json:"service"`
	Skipped []plan.Skip `json:"skipped"`
}

// Result is a rendered fleet.
type Result struct {
	Clusters []ClusterOutput
	Warnings []string
	Skips    []SkipReport
}

// Select returns the clusters that opts pick, sorted by name.
func Select(f *fleet.Fleet, opts Options) ([]*fleet.Cluster, error) {
	var sel labels.Selector
	if opts.Selector != "" {
		s, err := labels.Parse(opts.Selector)
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", opts.Selector, err)
		}
		sel = s
	}
	want := map[string]bool{}
	for _, n := range opts.Clusters {
		if f.Cluster(n) == nil {
			names := make([]string, len(f.Clusters))
			for i, c := range f.Clusters {
				names[i] = c.Metadata.Name
			}
			return nil, fmt.Errorf("unknown cluster %q (the fleet has %s)", n, strings.Join(names, ", "))
		}
		want[n] = true
	}
	var out []*fleet.Cluster
	for _, c := range f.Clusters {
		if len(want) > 0 && !want[c.Metadata.Name] {
			continue
		}
		if sel != nil && !sel.Matches(labels.Set(c.Metadata.Labels)) {
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Metadata.Name < out[j].Metadata.Name })
	if len(out) == 0 {
		return nil, fmt.Errorf("no cluster matches --cluster %v and --selector %q", opts.Clusters, opts.Selector)
	}
	return out, nil
}

// Input builds a provider's input for one cluster.
func Input(f *fleet.Fleet, c *fleet.Cluster, avail plan.Availability) *ClusterInput {
	in := &ClusterInput{Fleet: f, Cluster: c, Used: map[string]*ServicePlan{}}
	for _, r := range f.Routes {
		if !r.Spec.Clusters.Matches(c) {
			continue
		}
		in.Routes = append(in.Routes, r)
		for _, rule := range r.Spec.Rules {
			keys := make([]string, 0, len(rule.Backends)+1)
			for _, b := range rule.Backends {
				keys = append(keys, r.BackendRef(b))
			}
			if rule.Mirror != nil {
				keys = append(keys, r.MirrorRef(rule.Mirror))
			}
			for _, key := range keys {
				if _, done := in.Used[key]; done {
					continue
				}
				s := f.Service(key)
				tiers, skips := plan.Tiers(f, s, c, avail)
				in.Used[key] = &ServicePlan{Service: s, Tiers: tiers, Skips: skips}
			}
		}
	}
	if c.FailoverTarget() {
		for _, s := range f.Services {
			if !s.Spec.Clusters.Matches(c) {
				continue
			}
			if avail != nil && avail.Unavailable(s, c.Metadata.Name) != "" {
				continue
			}
			in.Served = append(in.Served, s)
		}
	}
	return in
}

// Render renders every selected cluster and keeps the whole result in memory.
func Render(f *fleet.Fleet, opts Options) (*Result, error) {
	res := &Result{}
	var warnings warningSet
	err := Each(f, opts, func(out *ClusterOutput) error {
		res.Clusters = append(res.Clusters, *out)
		warnings.merge(out.warnings)
		res.Skips = append(res.Skips, out.Skips...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Warnings = warnings.lines()
	return res, nil
}

// Each renders the selected clusters on up to GOMAXPROCS goroutines and
// calls fn with each cluster's output in cluster-name order. At most a few
// outputs per goroutine are held at once, so memory stays bounded by a
// handful of clusters however large the fleet. It stops at the first error.
func Each(f *fleet.Fleet, opts Options, fn func(*ClusterOutput) error) error {
	clusters, err := Select(f, opts)
	if err != nil {
		return err
	}
	type result struct {
		out *ClusterOutput
		err error
	}
	workers := runtime.GOMAXPROCS(0)
	slots := make([]chan result, len(clusters))
	for i := range slots {
		slots[i] = make(chan result, 1)
	}
	window := make(chan struct{}, 2*workers) // outputs rendered but not yet consumed
	stop := make(chan struct{})
	defer close(stop)
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range clusters {
			select {
			case window <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case next <- i:
			case <-stop:
				return
			}
		}
	}()
	for w := 0; w < workers; w++ {
		go func() {
			for i := range next {
				out, err := renderCluster(f, clusters[i], opts.Availability)
				slots[i] <- result{out, err}
			}
		}()
	}
	for i := range clusters {
		r := <-slots[i]
		<-window
		if r.err != nil {
			return r.err
		}
		if err := fn(r.out); err != nil {
			return err
		}
	}
	return nil
}

func renderCluster(f *fleet.Fleet, c *fleet.Cluster, avail plan.Availability) (*ClusterOutput, error) {
	name := c.Metadata.Name
	p := lookup(c.Spec.Gateway.Provider)
	if p == nil {
		return nil, fmt.Errorf("cluster %s: provider %q is not available", name, c.Spec.Gateway.Provider)
	}
	out := &ClusterOutput{Cluster: c}
	in := Input(f, c, avail)
	var warns []string
	for _, key := range sortedPlanKeys(in.Used) {
		sp := in.Used[key]
		if len(sp.Skips) > 0 {
			out.Skips = append(out.Skips, SkipReport{Cluster: name, Service: key, Skipped: sp.Skips})
		}
		if len(sp.Tiers) == 0 {
			warns = append(warns, fmt.Sprintf("GlobalService %s: no cluster left to serve it: its routes will fail", key))
		}
	}
	objs, provWarns, err := p.Render(in)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	warns = append(warns, loopbackTargets(in)...)
	for _, w := range append(warns, provWarns...) {
		out.warnings.add(name, w)
	}
	out.Warnings = out.warnings.lines()
	objs = append(objs, failoverCertificates(in)...)
	if err := sortUnique(objs); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	out.Objects = objs
	return out, nil
}

// loopbackTargets warns, on a gateway whose descriptor says it refuses a
// failover target at a loopback address, about each such target it uses.
func loopbackTargets(in *ClusterInput) []string {
	d := provider.Lookup(in.Cluster.Spec.Gateway.Provider)
	if d == nil || d.Failover.LoopbackRefused == "" {
		return nil
	}
	var out []string
	for _, key := range in.UsedKeys() {
		for _, t := range in.Used[key].Tiers {
			fo := t.Cluster.Spec.Failover
			if t.Local || fo == nil {
				continue
			}
			if ip := net.ParseIP(fo.Address); ip != nil && ip.IsLoopback() {
				out = append(out, fmt.Sprintf("GlobalService %s: failover target %s has the loopback address %s: %s %s, so the routes to it will not resolve",
					key, t.Cluster.Name(), fo.Address, d.Title, d.Failover.LoopbackRefused))
			}
		}
	}
	return out
}

func sortedPlanKeys(m map[string]*ServicePlan) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// kindRank orders the kinds every provider may render before their own:
// what others depend on is applied first. Providers rank their kinds in
// their descriptors (provider.Kind.Rank).
var kindRank = map[string]int{
	"Namespace":   0,
	"Secret":      1,
	"Certificate": 1,
	"ConfigMap":   1,
}

// ApplyPhases are the kinds of each apply phase, in apply order: the
// shared kinds and every registered provider's, by KindRank; each phase's
// kinds sorted, empty phases left out.
func ApplyPhases() [][]string {
	ranks := map[string]int{}
	for k, r := range kindRank {
		ranks[k] = r
	}
	for _, d := range provider.All() {
		for _, k := range d.Kinds {
			ranks[k.Kind] = k.Rank
		}
	}
	last := 0
	for _, r := range ranks {
		last = max(last, r)
	}
	phases := make([][]string, last+1)
	for k, r := range ranks {
		phases[r] = append(phases[r], k)
	}
	var out [][]string
	for _, p := range phases {
		if len(p) > 0 {
			sort.Strings(p)
			out = append(out, p)
		}
	}
	return out
}

// KindRank is the apply phase of a kind; unknown kinds go last.
func KindRank(kind string) int {
	if r, ok := kindRank[kind]; ok {
		return r
	}
	if r, ok := provider.KindRank(kind); ok {
		return r
	}
	return 10
}

// objectKey identifies an object and orders it for apply.
type objectKey struct {
	Rank                              int
	APIVersion, Kind, Namespace, Name string
}

// keyOf returns an object's key.
func keyOf(o *unstructured.Unstructured) objectKey {
	k := objectKey{}
	k.APIVersion, _ = o.Object["apiVersion"].(string)
	k.Kind, _ = o.Object["kind"].(string)
	if md, ok := o.Object["metadata"].(map[string]any); ok {
		k.Namespace, _ = md["namespace"].(string)
		k.Name, _ = md["name"].(string)
	}
	k.Rank = KindRank(k.Kind)
	return k
}

// Less orders keys by apply phase, then apiVersion, kind, namespace and name.
func (a objectKey) Less(b objectKey) bool {
	if a.Rank != b.Rank {
		return a.Rank < b.Rank
	}
	if a.APIVersion != b.APIVersion {
		return a.APIVersion < b.APIVersion
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// SortObjects orders objects by apply phase, then group, kind, namespace and name.
func SortObjects(objs []*unstructured.Unstructured) { _ = sortUnique(objs) }

// sortUnique sorts objs and reports two objects with one identity.
func sortUnique(objs []*unstructured.Unstructured) error {
	keyed := make([]keyedObject, len(objs))
	for i, o := range objs {
		keyed[i] = keyedObject{keyOf(o), o}
	}
	sort.SliceStable(keyed, func(i, j int) bool { return keyed[i].key.Less(keyed[j].key) })
	var dup error
	for i := range keyed {
		objs[i] = keyed[i].obj
		if a := keyed[i].key; i > 0 && dup == nil && a == keyed[i-1].key {
			dup = fmt.Errorf("two rendered objects are both %s %s %s/%s: rename one of their sources", a.APIVersion, a.Kind, a.Namespace, a.Name)
		}
	}
	return dup
}

type keyedObject struct {
	key objectKey
	obj *unstructured.Unstructured
}

// GCPercent is the garbage collector target the gatefed binary sets when
// GOGC is unset. Rendering builds many short-lived maps; a target of 300
// instead of Go's 100 spends a little memory to save about a third of the
// time on large fleets (see docs/performance.md).
const GCPercent = 300

// The soft memory limit the gatefed binary sets once it knows the fleet:
// MemoryBase plus MemoryPerCluster for each cluster. Near it the collector
// runs more often instead of letting GCPercent's headroom grow with the
// fleet (see docs/performance.md).
const (
	MemoryBase       = 64 << 20
	MemoryPerCluster = 4 << 20
)

var binaryGC atomic.Bool

// UseBinaryGC sets the garbage collector target to GCPercent unless GOGC is
// set, as the gatefed binary runs, lets FitMemoryLimit set a limit, and
// returns what restores both.
func UseBinaryGC() (restore func()) {
	binaryGC.Store(true)
	if os.Getenv("GOGC") != "" {
		return func() { binaryGC.Store(false) }
	}
	old := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(old); binaryGC.Store(false) }
}

// FitMemoryLimit sets the soft memory limit for a fleet of the given number
// of clusters, under UseBinaryGC and unless GOMEMLIMIT is set.
func FitMemoryLimit(clusters int) {
	if !binaryGC.Load() || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(MemoryBase + int64(clusters)*MemoryPerCluster)
}
