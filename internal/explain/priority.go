package explain

import (
	"strings"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
	"github.com/gatefed/gatefed/internal/provider"
)

// sharedFallback reports whether the source's gateway puts every tier after
// the first in one fallback priority (Envoy Gateway without
// spec.gateway.strictTiers) instead of one priority per tier.
func sharedFallback(src *fleet.Cluster) bool {
	d := provider.Lookup(src.Spec.Gateway.Provider)
	return d != nil && d.Failover.SharedFallback && !src.Spec.Gateway.StrictTiers
}

// priority is the Envoy priority of tier i.
func priority(i int, shared bool) int {
	if shared && i > 1 {
		return 1
	}
	return i
}

// servingTiers are the tiers that take a backend's traffic: the first left,
// or, where the fallback priority is shared and tier 0 is gone, every tier
// left in it, which split the traffic by their equal locality weights.
func servingTiers(now, usual []plan.Tier, shared bool) []plan.Tier {
	if len(now) == 0 {
		return nil
	}
	if !shared || len(usual) == 0 || now[0].Cluster.Name() == usual[0].Cluster.Name() {
		return now[:1]
	}
	return now
}

// tierText is a tier list with the tiers that share a priority in braces:
// "a (local) > {b, c}".
func tierText(tiers []Tier) string {
	var groups []string
	for i := 0; i < len(tiers); {
		j := i
		var names []string
		for ; j < len(tiers) && tiers[j].Priority == tiers[i].Priority; j++ {
			name := tiers[j].Cluster
			if tiers[j].Local {
				name += " (local)"
			}
			names = append(names, name)
		}
		if len(names) > 1 {
			groups = append(groups, "{"+strings.Join(names, ", ")+"}")
		} else {
			groups = append(groups, names[0])
		}
		i = j
	}
	return strings.Join(groups, " > ")
}
