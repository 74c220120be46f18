package render

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
)

var (
	registryMu sync.RWMutex
	registry   = map[string]Provider{}
)

// Register makes a provider available to Render under its name.
func Register(p Provider) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[p.Name()] = p
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

// ClusterOutput is one cluster's rendered objects, in apply order.
type ClusterOutput struct {
	Cluster *fleet.Cluster
	Objects []*unstructured.Unstructured
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
			for _, b := range rule.Backends {
				key := r.BackendRef(b)
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

// Render renders every selected cluster with its provider.
func Render(f *fleet.Fleet, opts Options) (*Result, error) {
	clusters, err := Select(f, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, c := range clusters {
		p := lookup(c.Spec.Gateway.Provider)
		if p == nil {
			return nil, fmt.Errorf("cluster %s: provider %q is not available", c.Metadata.Name, c.Spec.Gateway.Provider)
		}
		in := Input(f, c, opts.Availability)
		for _, key := range sortedPlanKeys(in.Used) {
			sp := in.Used[key]
			if len(sp.Skips) > 0 {
				res.Skips = append(res.Skips, SkipReport{Cluster: c.Metadata.Name, Service: key, Skipped: sp.Skips})
			}
			if len(sp.Tiers) == 0 {
				res.Warnings = append(res.Warnings, fmt.Sprintf("cluster %s: GlobalService %s has no cluster left to serve it: its routes will fail", c.Metadata.Name, key))
			}
		}
		objs, warns, err := p.Render(in)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Metadata.Name, err)
		}
		for _, w := range warns {
			res.Warnings = append(res.Warnings, fmt.Sprintf("cluster %s: %s", c.Metadata.Name, w))
		}
		SortObjects(objs)
		if err := checkUnique(objs); err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Metadata.Name, err)
		}
		res.Clusters = append(res.Clusters, ClusterOutput{Cluster: c, Objects: objs})
	}
	return res, nil
}

func sortedPlanKeys(m map[string]*ServicePlan) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// kindRank orders objects so that what others depend on is applied first.
var kindRank = map[string]int{
	"Namespace":            0,
	"ReferenceGrant":       1,
	"Secret":               1,
	"ConfigMap":            1,
	"Upstream":             2,
	"UpstreamGroup":        2,
	"Backend":              2,
	"BackendTrafficPolicy": 3,
	"ClientTrafficPolicy":  3,
	"BackendTLSPolicy":     3,
	"Gateway":              4,
	"RouteTable":           5,
	"VirtualService":       6,
	"HTTPRoute":            6,
	"TLSRoute":             6,
}

// KindRank is the apply phase of a kind; unknown kinds go last.
func KindRank(kind string) int {
	if r, ok := kindRank[kind]; ok {
		return r
	}
	return 10
}

// SortObjects orders objects by apply phase, then group, kind, namespace and name.
func SortObjects(objs []*unstructured.Unstructured) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if ra, rb := KindRank(a.GetKind()), KindRank(b.GetKind()); ra != rb {
			return ra < rb
		}
		if a.GetAPIVersion() != b.GetAPIVersion() {
			return a.GetAPIVersion() < b.GetAPIVersion()
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}

func checkUnique(objs []*unstructured.Unstructured) error {
	seen := map[string]bool{}
	for _, o := range objs {
		k := fmt.Sprintf("%s %s %s/%s", o.GetAPIVersion(), o.GetKind(), o.GetNamespace(), o.GetName())
		if seen[k] {
			return fmt.Errorf("two rendered objects are both %s: rename one of their sources", k)
		}
		seen[k] = true
	}
	return nil
}
