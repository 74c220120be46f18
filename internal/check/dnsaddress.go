package check

import (
	"context"
	"fmt"
	"net"
	"sort"
	"time"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// lookupHost resolves a name; tests replace it.
var lookupHost = defaultLookupHost

func defaultLookupHost(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := net.DefaultResolver.LookupHost(ctx, name)
	return err
}

// controlPlaneDNS warns about the DNS-name failover addresses of the
// cluster's remote tiers that do not resolve from this host, where the
// provider's control plane resolves them when it translates (Gloo): if it
// cannot either, the tier has no endpoint and failover to it goes nowhere.
func controlPlaneDNS(ctx context.Context, env *clusterEnv, res *result) {
	for _, c := range dnsTargets(env.input) {
		if err := lookupHost(ctx, c.Spec.Failover.Address); err != nil {
			res.warn(fmt.Sprintf("the failover address %s of cluster %s does not resolve from this host (%v): %s resolves it when it translates, and a tier whose name it cannot resolve has no endpoint",
				c.Spec.Failover.Address, c.Name(), err, env.provider().Title),
				fmt.Sprintf("check that %s resolves where %s's control plane runs, or give cluster %s an IP failover address", c.Spec.Failover.Address, env.provider().Title, c.Name()))
		}
	}
}

// dnsTargets are the clusters of remote tiers with a DNS-name failover
// address, sorted by name.
func dnsTargets(in *render.ClusterInput) []*fleet.Cluster {
	seen := map[string]*fleet.Cluster{}
	for _, sp := range in.Used {
		for _, t := range sp.Tiers {
			if !t.Local && t.Cluster.Spec.Failover != nil && !fleet.AddressIsIP(t.Cluster.Spec.Failover.Address) {
				seen[t.Cluster.Name()] = t.Cluster
			}
		}
	}
	out := make([]*fleet.Cluster, 0, len(seen))
	for _, c := range seen {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}
