// Package plan computes failover tiers: for a GlobalService and a source
// cluster, the ordered clusters that serve its traffic. Every command that
// needs tiers (render, explain, check, discover) calls Tiers.
package plan

import (
	"sort"

	"github.com/gatefed/gatefed/internal/fleet"
)

// Tier is one priority level: one cluster.
type Tier struct {
	Cluster *fleet.Cluster
	// Local is true for the source cluster itself (served by local endpoints).
	Local bool
}

// Skip says why a cluster is left out of a service's tiers.
type Skip struct {
	Cluster string `json:"cluster"`
	Reason  string `json:"reason"`
}

// Availability says which clusters cannot serve a service now. A nil
// Availability means every placed cluster can.
type Availability interface {
	// Unavailable returns a reason when the service cannot be served from cluster, else "".
	Unavailable(service *fleet.GlobalService, cluster string) string
}

// Tiers returns the tiers of service s seen from source cluster src, and the
// placed clusters left out because avail says they cannot serve it.
//
// Tier 0 is src when s runs there; then the other clusters s runs in that are
// failover targets, by the service's order (ordered) or by same zone, same
// region, then the rest, ties by name (locality). When s does not run in src,
// the first remote cluster becomes tier 0. A service keeps at most
// MaxTiers tiers; a cluster left out as unavailable makes room for the next.
func Tiers(f *fleet.Fleet, s *fleet.GlobalService, src *fleet.Cluster, avail Availability) ([]Tier, []Skip) {
	var tiers []Tier
	var skips []Skip
	usable := func(c *fleet.Cluster) bool {
		if avail == nil {
			return true
		}
		if why := avail.Unavailable(s, c.Metadata.Name); why != "" {
			skips = append(skips, Skip{Cluster: c.Metadata.Name, Reason: why})
			return false
		}
		return true
	}

	placed := f.ServiceClusters(s)
	local := false
	for _, c := range placed {
		if c.Metadata.Name == src.Metadata.Name {
			local = true
		}
	}
	if local && usable(src) {
		tiers = append(tiers, Tier{Cluster: src, Local: true})
	}

	var remotes []*fleet.Cluster
	for _, c := range placed {
		if c.Metadata.Name != src.Metadata.Name && c.FailoverTarget() {
			remotes = append(remotes, c)
		}
	}
	if s.Policy() == fleet.PolicyOrdered {
		rank := map[string]int{}
		for i, n := range s.Spec.Failover.Order {
			if _, dup := rank[n]; !dup {
				rank[n] = i
			}
		}
		sort.SliceStable(remotes, func(i, j int) bool {
			ri, iok := rank[remotes[i].Metadata.Name]
			rj, jok := rank[remotes[j].Metadata.Name]
			switch {
			case iok && jok:
				return ri < rj
			case iok != jok:
				return iok // clusters named in order come before the rest
			default:
				return remotes[i].Metadata.Name < remotes[j].Metadata.Name
			}
		})
	} else {
		sort.SliceStable(remotes, func(i, j int) bool {
			li, lj := locality(src, remotes[i]), locality(src, remotes[j])
			if li != lj {
				return li < lj
			}
			return remotes[i].Metadata.Name < remotes[j].Metadata.Name
		})
	}
	max := s.MaxTiers()
	for _, c := range remotes {
		if max > 0 && len(tiers) >= max {
			break
		}
		if usable(c) {
			tiers = append(tiers, Tier{Cluster: c})
		}
	}
	return tiers, skips
}

// locality ranks a remote cluster against the source: 0 same zone, 1 same region, 2 the rest.
func locality(src, c *fleet.Cluster) int {
	switch {
	case src.Spec.Zone != "" && src.Spec.Zone == c.Spec.Zone && src.Spec.Region == c.Spec.Region:
		return 0
	case src.Spec.Region != "" && src.Spec.Region == c.Spec.Region:
		return 1
	default:
		return 2
	}
}
