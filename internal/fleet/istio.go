package fleet

// istioSelfFailover rejects an istio cluster without spec.failover that
// routes to a service running both there and in a failover target. On Istio
// every tier of such a service, the local one included, is reached through
// a failover port (one Envoy cluster cannot mix plain local endpoints with
// mutual-TLS remote ones), so the cluster needs its own. The error stands
// at the Cluster, once per service.
func (v *validator) istioSelfFailover(f *Fleet) {
	reported := map[string]bool{}
	for _, r := range f.Routes {
		for _, src := range f.Placed(r.Spec.Clusters) {
			if src.Spec.Gateway.Provider != ProviderIstio || src.FailoverTarget() {
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
					v.add(clusterRef(src), "spec.failover", "required: GlobalService %s runs here and fails over to other clusters, and Istio reaches every tier, this cluster's own included, through a failover port (see docs/providers/istio.md)", s.Key())
				}
			}
		}
	}
}
