package fleet

import "github.com/gatefed/gatefed/internal/provider"

// localFailover rejects a cluster without spec.failover, whose provider
// reaches even the local tier through a failover port (Istio), that
// routes to a service running both there and in a failover target. On Istio
// every tier of such a service, the local one included, is reached through
// a failover port (one Envoy cluster cannot mix plain local endpoints with
// mutual-TLS remote ones), so the cluster needs its own. The error stands
// at the Cluster, once per service.
func (v *validator) localFailover(f *Fleet) {
	reported := map[string]bool{}
	for _, r := range f.Routes {
		for _, src := range f.Placed(r.Spec.Clusters) {
			desc := provider.Lookup(src.Spec.Gateway.Provider)
			if desc == nil || !desc.Failover.LocalTierThroughFailover || src.FailoverTarget() {
				continue
			}
			for _, rule := range r.Spec.Rules {
				for _, b := range rule.Backends {
					s := f.Service(r.BackendRef(b))
					if s == nil || !s.Spec.Clusters.Matches(src) || len(f.RemoteTargets(s, src)) == 0 {
						continue
					}
					key := src.Metadata.Name + "\x00" + s.Key()
					if reported[key] {
						continue
					}
					reported[key] = true
					v.add(clusterRef(src), "spec.failover", "required: GlobalService %s runs here and fails over to other clusters, and %s reaches every tier, this cluster's own included, through a failover port (see docs/providers/%s.md)", s.Key(), desc.Title, desc.Name)
				}
			}
		}
	}
}
