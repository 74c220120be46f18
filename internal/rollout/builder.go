package rollout

import "strings"

// builder places clusters into waves one at a time.
type builder struct {
	g   *topology
	max int
	// waves hold the clusters of each wave; the canary wave, when there is
	// one, is the first and takes no other cluster.
	waves  [][]string
	canary bool
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
		b.waves[i] = append(b.waves[i], c)
		return
	}
	b.waves = append(b.waves, []string{c})
}

// verify refuses a plan in which one wave, failing entirely, would leave a
// routed service without a cluster, as explain --down finds it. A cluster
// that cannot fail alone is named first: no wave can hold it.
func (b *builder) verify() error {
	for _, w := range b.waves {
		for _, c := range w {
			msg, err := b.g.outageIfDown([]string{c})
			if err != nil {
				return err
			}
			if msg != "" {
				return errorf("no wave can hold cluster %s: if it failed, %s; place the service in a second cluster that is a failover target, or apply without --waves", c, msg)
			}
		}
	}
	for i, w := range b.waves {
		msg, err := b.g.outageIfDown(w)
		if err != nil {
			return err
		}
		if msg != "" {
			return errorf("wave %d (%s) is not safe: if it failed entirely, %s", i+1, strings.Join(sorted(w), ", "), msg)
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
	p := &Plan{Waves: []*Wave{}}
	for i, names := range b.waves {
		w := &Wave{Wave: i + 1, Canary: b.canary && i == 0, Clusters: sorted(names), Apart: []Apart{}}
		p.Waves = append(p.Waves, w)
	}
	for _, w := range p.Waves {
		for _, c := range w.Clusters {
			w.Apart = append(w.Apart, b.g.apart(c, p.Of)...)
		}
	}
	return p
}
