package rollout

import (
	"fmt"
	"slices"
	"strings"
)

// builder places clusters into waves one at a time.
type builder struct {
	g   *topology
	max int
	// waves hold the clusters of each wave; the canary wave, when there is
	// one, is the first and takes no other cluster.
	waves  [][]string
	canary bool
	// tied[c] are the waves c was kept out of because it would have
	// completed the set of clusters serving a route there.
	tied map[string][]routeTie
	// notes are the routes one cluster alone serves, by route.
	notes map[string]string
}

// routeTie is a wave a cluster did not join: with it, the wave would have
// held every cluster serving the routes.
type routeTie struct {
	others []string
	routes []string
}

// canaryWave makes the named clusters the first wave, refusing a canary
// wave whose clusters fail over to each other.
func (b *builder) canaryWave(names []string) error {
	if b.max > 0 && len(names) > b.max {
		return errorf("the canary wave has %d clusters (%s), more than --max-wave-size %d", len(names), strings.Join(names, ", "), b.max)
	}
	for i, a := range names {
		for _, c := range names[i+1:] {
			if b.g.conflict(a, c) {
				return errorf("the canary wave cannot hold both %s and %s: %s; pick one of them as canary", a, c, b.pairText(a, c))
			}
		}
	}
	if held := b.g.heldBy(names); len(held) > 0 {
		return errorf("the canary wave cannot hold %s: they are every cluster that serves GlobalRoute %s; leave one of them out of the canary",
			strings.Join(b.g.serving[held[0]], ", "), held[0])
	}
	b.waves, b.canary = append(b.waves, names), true
	return nil
}

// pairText says why two clusters conflict: "a fails over to b for shop/checkout".
func (b *builder) pairText(a, c string) string {
	if svcs := b.g.first[a][c]; len(svcs) > 0 {
		return a + " " + FailsOverTo + " " + c + " for " + strings.Join(sorted(svcs), ", ")
	}
	return c + " " + FailsOverTo + " " + a + " for " + strings.Join(sorted(b.g.first[c][a]), ", ")
}

// place puts c into the first wave after the canary that has room and
// holds no cluster c conflicts with, else into a new wave of its own.
func (b *builder) place(c string) {
	first := 0
	if b.canary {
		first = 1
	}
	for i := first; i < len(b.waves); i++ {
		if b.max > 0 && len(b.waves[i]) >= b.max || b.conflicts(c, b.waves[i]) {
			continue
		}
		if routes := b.g.completes(c, b.waves[i]); len(routes) > 0 {
			b.tie(c, b.waves[i], routes)
			continue
		}
		b.waves[i] = append(b.waves[i], c)
		return
	}
	b.waves = append(b.waves, []string{c})
}

// tie records that c stayed out of wave, whose clusters serve routes with c.
func (b *builder) tie(c string, wave, routes []string) {
	var others []string
	for _, r := range routes {
		for _, n := range b.g.serving[r] {
			if n != c && !slices.Contains(others, n) {
				others = append(others, n)
			}
		}
	}
	b.tied[c] = append(b.tied[c], routeTie{others: sorted(others), routes: routes})
}

// verify refuses a plan in which one wave, failing entirely, would leave a
// routed service without a cluster, or a route without a gateway, as
// explain --down finds it. A cluster that cannot fail alone is named first:
// no wave can hold it. A route one cluster alone serves is noted instead:
// no order of waves keeps it up while that cluster is applied.
func (b *builder) verify() error {
	for _, w := range b.waves {
		for _, c := range w {
			msg, _, err := b.g.outageIfDown([]string{c})
			if err != nil {
				return err
			}
			if msg != "" {
				return errorf("no wave can hold cluster %s: if it failed, %s; place the service in a second cluster that is a failover target, or apply without --waves", c, msg)
			}
		}
	}
	for i, w := range b.waves {
		msg, alone, err := b.g.outageIfDown(w)
		if err != nil {
			return err
		}
		if msg != "" {
			return errorf("wave %d (%s) is not safe: if it failed entirely, %s", i+1, strings.Join(sorted(w), ", "), msg)
		}
		for _, o := range alone {
			b.notes[o.Route] = fmt.Sprintf("GlobalRoute %s is served by %s alone: waves cannot keep it up while wave %d is applied; serve it from a second cluster to protect it",
				o.Route, o.Clusters[0], i+1)
		}
	}
	return nil
}

func (b *builder) conflicts(c string, wave []string) bool {
	for _, o := range wave {
		if b.g.conflict(c, o) {
			return true
		}
	}
	return false
}

// plan numbers the waves from 1 and says why their clusters are apart.
func (b *builder) plan() *Plan {
	p := &Plan{Waves: []*Wave{}, Notes: []string{}}
	for _, r := range sortedKeys(b.notes) {
		p.Notes = append(p.Notes, b.notes[r])
	}
	for i, names := range b.waves {
		w := &Wave{Wave: i + 1, Canary: b.canary && i == 0, Clusters: sorted(names), Apart: []Apart{}}
		p.Waves = append(p.Waves, w)
	}
	for _, w := range p.Waves {
		for _, c := range w.Clusters {
			w.Apart = append(w.Apart, b.g.apart(c, p.Of)...)
			w.Apart = append(w.Apart, b.routeApart(c, p.Of)...)
		}
	}
	return p
}

// routeApart lists the clusters c stayed apart from because together they
// are every cluster serving a route.
func (b *builder) routeApart(c string, waveOf func(string) int) []Apart {
	var out []Apart
	for _, t := range b.tied[c] {
		for _, o := range t.others {
			out = append(out, Apart{Cluster: c, Relation: ServesRoutesWith, Other: o, OtherWave: waveOf(o), Services: []string{}, Routes: t.routes})
		}
	}
	return out
}
