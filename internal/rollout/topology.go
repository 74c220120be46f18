package rollout

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gatefed/gatefed/internal/explain"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
)

// topology is what the planner knows of the fleet: which cluster sends
// which routed services to which cluster first, and the outages the fleet
// has with every cluster up (they are not the rollout's doing).
type topology struct {
	f     *fleet.Fleet
	avail plan.Availability
	// first[a][b] are the routed services whose traffic from a goes to b
	// first when a does not serve it itself.
	first    map[string]map[string][]string
	baseline map[string]bool
	// routed are the routed services' tiers from every source.
	routed []explain.ServiceTiers
	// serving[r] are the clusters whose gateways serve route r, for the
	// routes served by two clusters or more, all of them selected: no wave
	// may hold every one of them.
	serving map[string][]string
}

func newTopology(f *fleet.Fleet, selected []string, avail plan.Availability) (*topology, error) {
	rep, err := explain.Explain(f, explain.Options{Availability: avail})
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, n := range selected {
		in[n] = true
	}
	g := &topology{f: f, avail: avail, first: map[string]map[string][]string{}, baseline: map[string]bool{},
		serving: servingClusters(f, in)}
	for _, row := range rep.Services {
		if row.Routed {
			g.routed = append(g.routed, row)
		}
		to := firstFailover(row.Tiers)
		if !row.Routed || to == "" || !in[row.Source] || !in[to] {
			continue
		}
		if g.first[row.Source] == nil {
			g.first[row.Source] = map[string][]string{}
		}
		g.first[row.Source][to] = append(g.first[row.Source][to], row.Service)
	}
	for _, o := range rep.Outages {
		g.baseline[outageKey(o)] = true
	}
	return g, nil
}

// servingClusters are the clusters serving each route that two selected
// clusters or more serve and no unselected cluster does.
func servingClusters(f *fleet.Fleet, selected map[string]bool) map[string][]string {
	out := map[string][]string{}
	for _, r := range f.Routes {
		var names []string
		for _, c := range f.RouteClusters(r) {
			if !selected[c.Name()] {
				names = nil
				break
			}
			names = append(names, c.Name())
		}
		if len(names) > 1 {
			out[r.Key()] = names
		}
	}
	return out
}

// heldBy returns the routes whose every serving cluster is in wave.
func (g *topology) heldBy(wave []string) []string {
	var out []string
	for _, r := range sortedKeys(g.serving) {
		all := true
		for _, n := range g.serving[r] {
			all = all && slices.Contains(wave, n)
		}
		if all {
			out = append(out, r)
		}
	}
	return out
}

// completes returns the routes of c whose every other serving cluster is
// in wave: with c added, the wave would hold all of them.
func (g *topology) completes(c string, wave []string) []string {
	var out []string
	for _, r := range g.heldBy(append(slices.Clone(wave), c)) {
		if slices.Contains(g.serving[r], c) {
			out = append(out, r)
		}
	}
	return out
}

// firstFailover is the first cluster other than the source in a source's
// tiers: where its traffic goes when it cannot serve it, or always when the
// service does not run in the source.
func firstFailover(tiers []explain.Tier) string {
	for _, t := range tiers {
		if !t.Local {
			return t.Cluster
		}
	}
	return ""
}

func outageKey(o explain.Outage) string {
	return strings.Join([]string{o.Source, o.Service, o.Route, o.Rule}, "\x00")
}

// dependents are the clusters outside wave whose tiers for a routed
// service hold a cluster of wave: they fail over to it.
func (g *topology) dependents(wave []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, row := range g.routed {
		if seen[row.Source] || slices.Contains(wave, row.Source) {
			continue
		}
		for _, t := range row.Tiers {
			if !t.Local && slices.Contains(wave, t.Cluster) {
				seen[row.Source] = true
				out = append(out, row.Source)
				break
			}
		}
	}
	return sorted(out)
}

// conflict reports whether a and b must be in different waves.
func (g *topology) conflict(a, b string) bool {
	return len(g.first[a][b]) > 0 || len(g.first[b][a]) > 0
}

// degree counts the clusters c must not share a wave with.
func (g *topology) degree(c string, among []string) int {
	n := 0
	for _, o := range among {
		if o != c && g.conflict(c, o) {
			n++
		}
	}
	return n
}

// byDegree returns the selected clusters outside skip, the most
// constrained first, then by name.
func (g *topology) byDegree(selected, skip []string) []string {
	out := []string{}
	for _, c := range selected {
		if !slices.Contains(skip, c) {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		di, dj := g.degree(out[i], selected), g.degree(out[j], selected)
		if di != dj {
			return di > dj
		}
		return out[i] < out[j]
	})
	return out
}

// outageIfDown returns how the fleet would fail if every cluster of down
// failed at once, as explain --down says it: the first outage the fleet
// does not already have, or "". The routes one cluster alone serves are
// returned apart: no order of waves keeps them up while that cluster is
// applied, so they are noted, not refused.
func (g *topology) outageIfDown(down []string) (msg string, alone []explain.Outage, err error) {
	rep, err := explain.Explain(g.f, explain.Options{Down: down, Availability: g.avail})
	if err != nil {
		return "", nil, err
	}
	for _, o := range rep.Outages {
		switch {
		case g.baseline[outageKey(o)]:
		case o.Route != "" && o.Source == "" && len(o.Clusters) == 1:
			alone = append(alone, o)
		case msg == "":
			msg = o.Message
		}
	}
	return msg, alone, nil
}

// apart lists the pairs that keep c out of other clusters' waves.
func (g *topology) apart(c string, waveOf func(string) int) []Apart {
	var out []Apart
	for _, other := range sortedKeys(g.first[c]) {
		out = append(out, Apart{Cluster: c, Relation: FailsOverTo, Other: other, OtherWave: waveOf(other), Services: sorted(g.first[c][other])})
	}
	for _, src := range sortedKeys(g.first) {
		if svcs := g.first[src][c]; len(svcs) > 0 {
			out = append(out, Apart{Cluster: c, Relation: IsFailoverFor, Other: src, OtherWave: waveOf(src), Services: sorted(svcs)})
		}
	}
	return out
}

// String is "a fails over to b (wave 2) for shop/checkout", or "a serves
// routes with b (wave 2): shop/web".
func (a Apart) String() string {
	if len(a.Routes) > 0 {
		return fmt.Sprintf("%s %s %s (wave %d): %s", a.Cluster, a.Relation, a.Other, a.OtherWave, strings.Join(a.Routes, ", "))
	}
	return fmt.Sprintf("%s %s %s (wave %d) for %s", a.Cluster, a.Relation, a.Other, a.OtherWave, strings.Join(a.Services, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
