// Package rollout orders an apply into waves from the failover topology:
// a cluster and the cluster its traffic fails over to first are never
// changed in the same wave, and no wave, failing entirely, leaves a routed
// service without a cluster to serve it or a route without a gateway (a
// route one cluster alone serves is noted: no wave order protects it). The
// planner is a pure computation
// on the fleet (tiers from plan.Tiers, outages as explain finds them); the
// runner applies wave by wave with gates in between.
package rollout

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
)

// PlanOptions say which clusters to order and how.
type PlanOptions struct {
	// Clusters are the clusters the apply writes to (default: all).
	Clusters []string
	// Canary clusters make up the first wave.
	Canary []string
	// CanarySelector picks the first wave by cluster labels.
	CanarySelector string
	// MaxWaveSize bounds the clusters of a wave (0: no bound).
	MaxWaveSize int
	// Availability, when set, is discovered presence (as render --discover).
	Availability plan.Availability
}

// Plan is the rollout's waves, in order.
type Plan struct {
	Waves []*Wave `json:"waves"`
	// Notes name the routes one cluster alone serves: waves cannot keep
	// them up while that cluster is applied.
	Notes []string `json:"notes"`
}

// Wave is a group of clusters applied together.
type Wave struct {
	Wave     int      `json:"wave"`
	Canary   bool     `json:"canary,omitempty"`
	Clusters []string `json:"clusters"`
	// Apart says, for each cluster of the wave, which clusters of other
	// waves it must not share a wave with, and why.
	Apart []Apart `json:"apart"`
}

// Apart is one pair of clusters kept in different waves: Cluster sends a
// service's traffic to Other first when it cannot serve it itself.
type Apart struct {
	Cluster string `json:"cluster"`
	// Relation is "fails over to" (Other serves Cluster's traffic when
	// Cluster cannot), "is the failover of" (the other way round) or
	// "serves routes with" (with Other, Cluster would have made a wave
	// holding every cluster that serves Routes).
	Relation  string   `json:"relation"`
	Other     string   `json:"other"`
	OtherWave int      `json:"otherWave"`
	Services  []string `json:"services"`
	// Routes are, for "serves routes with", the routes Cluster and Other
	// serve that no other cluster does: one of them stays up.
	Routes []string `json:"routes,omitempty"`
}

// Relations of an Apart.
const (
	FailsOverTo      = "fails over to"
	IsFailoverFor    = "is the failover of"
	ServesRoutesWith = "serves routes with"
)

// Error is a plan that cannot be made safe; nothing is written.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Of returns the wave of a cluster, 0 when it is in none.
func (p *Plan) Of(cluster string) int {
	for _, w := range p.Waves {
		for _, c := range w.Clusters {
			if c == cluster {
				return w.Wave
			}
		}
	}
	return 0
}

// Make plans the waves for the selected clusters of f.
func Make(f *fleet.Fleet, opts PlanOptions) (*Plan, error) {
	selected, err := selectedClusters(f, opts.Clusters)
	if err != nil {
		return nil, err
	}
	if opts.MaxWaveSize < 0 {
		return nil, errorf("--max-wave-size must be at least 1, not %d", opts.MaxWaveSize)
	}
	canary, err := canaryClusters(f, selected, opts)
	if err != nil {
		return nil, err
	}
	g, err := newTopology(f, selected, opts.Availability)
	if err != nil {
		return nil, err
	}
	b := &builder{g: g, max: opts.MaxWaveSize, tied: map[string][]routeTie{}, notes: map[string]string{}}
	if len(canary) > 0 {
		if err := b.canaryWave(canary); err != nil {
			return nil, err
		}
	}
	for _, c := range g.byDegree(selected, canary) {
		b.place(c)
	}
	if err := b.verify(); err != nil {
		return nil, err
	}
	return b.plan(), nil
}

// selectedClusters returns the named clusters (all when none), in name order.
func selectedClusters(f *fleet.Fleet, names []string) ([]string, error) {
	if len(names) == 0 {
		for _, c := range f.Clusters {
			names = append(names, c.Name())
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		if f.Cluster(n) == nil {
			return nil, errorf("unknown cluster %q (the fleet has %s)", n, strings.Join(allNames(f), ", "))
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func allNames(f *fleet.Fleet) []string {
	out := make([]string, len(f.Clusters))
	for i, c := range f.Clusters {
		out[i] = c.Name()
	}
	sort.Strings(out)
	return out
}

// canaryClusters are the clusters named by --canary and matched by
// --canary-selector, among the selected ones.
func canaryClusters(f *fleet.Fleet, selected []string, opts PlanOptions) ([]string, error) {
	in := map[string]bool{}
	for _, n := range selected {
		in[n] = true
	}
	want := map[string]bool{}
	for _, n := range opts.Canary {
		if f.Cluster(n) == nil {
			return nil, errorf("--canary %s: unknown cluster %q%s (the fleet has %s)", n, n, fleet.DidYouMean(n, allNames(f)), strings.Join(allNames(f), ", "))
		}
		if !in[n] {
			return nil, errorf("--canary %s: the cluster is not among the clusters this apply writes to (%s)", n, strings.Join(selected, ", "))
		}
		want[n] = true
	}
	if opts.CanarySelector != "" {
		sel, err := labels.Parse(opts.CanarySelector)
		if err != nil {
			return nil, errorf("--canary-selector %q: %v", opts.CanarySelector, err)
		}
		matched := false
		for _, n := range selected {
			if sel.Matches(labels.Set(f.Cluster(n).Metadata.Labels)) {
				want[n], matched = true, true
			}
		}
		if !matched {
			return nil, errorf("--canary-selector %q matches none of the clusters this apply writes to (%s)", opts.CanarySelector, strings.Join(selected, ", "))
		}
	}
	var out []string
	for _, n := range selected {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}
