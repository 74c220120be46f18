package gloo

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/gloo/gloov1"
)

// upstreams renders one Upstream per used service that has tiers.
func (r *renderer) upstreams() error {
	for _, key := range r.In.UsedKeys() {
		sp := r.In.Used[key]
		s := sp.Service
		if len(sp.Tiers) == 0 {
			// Nothing to point an Upstream at; the rules using it say what happens.
			continue
		}
		spec, err := r.upstreamSpec(sp)
		if err != nil {
			return err
		}
		if spec.Failover != nil && !s.HasHealthSignal() {
			r.Warnf("GlobalService %s: failover to %s never triggers without spec.healthCheck or spec.outlierDetection",
				key, strings.Join(render.TierNames(sp)[1:], ", "))
		}
		up := &gloov1.Upstream{
			TypeMeta:   metav1.TypeMeta{APIVersion: gloov1.GlooGroupVersion, Kind: gloov1.KindUpstream},
			ObjectMeta: r.meta(UpstreamName(s), nil),
			Spec:       spec,
		}
		obj, err := r.emit(up, gloov1.KindUpstream, up.Name, fleet.KindGlobalService, s.Metadata.Namespace, s.Metadata.Name)
		if err != nil {
			return err
		}
		render.AnnotateService(obj, sp)
	}
	return nil
}

// upstreamSpec points at tier 0 (the local Service, or the first remote
// cluster's failover port) and lists the other tiers as failover priorities.
func (r *renderer) upstreamSpec(sp *render.ServicePlan) (gloov1.UpstreamSpec, error) {
	s := sp.Service
	var spec gloov1.UpstreamSpec
	first := sp.Tiers[0]
	if first.Local {
		spec.Kube = kubeUpstream(s)
	} else {
		if !first.Cluster.FailoverTarget() {
			return spec, fmt.Errorf("GlobalService %s: tier cluster %s has no spec.failover", s.Key(), first.Cluster.Name())
		}
		spec.Static = &gloov1.StaticUpstream{
			Hosts: []gloov1.StaticHost{{
				Addr:    first.Cluster.Spec.Failover.Address,
				Port:    uint32(first.Cluster.FailoverPort()),
				SniAddr: render.FailoverSNI(s),
			}},
			UseTLS:         ptr(true),
			AutoSniRewrite: ptr(false),
		}
		spec.SslConfig = r.failoverTLS(s)
	}
	spec.HealthChecks = healthChecks(s.Spec.HealthCheck)
	spec.OutlierDetection = outlierDetection(s.Spec.OutlierDetection)

	var priorities []gloov1.PriorityLocality
	for _, t := range sp.Tiers[1:] {
		c := t.Cluster
		if !c.FailoverTarget() {
			return spec, fmt.Errorf("GlobalService %s: tier cluster %s has no spec.failover", s.Key(), c.Name())
		}
		ep := gloov1.LocalityLbEndpoints{
			LbEndpoints: []gloov1.LbEndpoint{{
				Address:           c.Spec.Failover.Address,
				Port:              uint32(c.FailoverPort()),
				UpstreamSslConfig: r.failoverTLS(s),
			}},
		}
		if c.Spec.Region != "" || c.Spec.Zone != "" {
			ep.Locality = &gloov1.Locality{Region: c.Spec.Region, Zone: c.Spec.Zone}
		}
		priorities = append(priorities, gloov1.PriorityLocality{LocalityEndpoints: []gloov1.LocalityLbEndpoints{ep}})
	}
	if len(priorities) > 0 {
		spec.Failover = &gloov1.Failover{PrioritizedLocalities: priorities}
	}
	return spec, nil
}

func kubeUpstream(s *fleet.GlobalService) *gloov1.KubeUpstream {
	return &gloov1.KubeUpstream{
		ServiceName:      s.ServiceName(),
		ServiceNamespace: s.Metadata.Namespace,
		ServicePort:      uint32(s.Spec.Port),
	}
}

// failoverTLS is the client side of the failover wire contract.
func (r *renderer) failoverTLS(s *fleet.GlobalService) *gloov1.UpstreamSslConfig {
	return &gloov1.UpstreamSslConfig{
		SecretRef: &gloov1.ResourceRef{Name: render.FailoverUpstreamSecret, Namespace: r.ns},
		Sni:       render.FailoverSNI(s),
	}
}

// healthChecks copies the health check; the fleet loader has filled in
// interval, timeout and thresholds, so all of them are written.
func healthChecks(hc *fleet.HealthCheck) []gloov1.HealthCheck {
	if hc == nil {
		return nil
	}
	out := gloov1.HealthCheck{
		Timeout:         protoDuration(hc.Timeout.Std()),
		Interval:        protoDuration(hc.Interval.Std()),
		HTTPHealthCheck: &gloov1.HTTPHealthCheck{Path: hc.Path},
	}
	if hc.HealthyThreshold > 0 {
		out.HealthyThreshold = ptr(uint32(hc.HealthyThreshold))
	}
	if hc.UnhealthyThreshold > 0 {
		out.UnhealthyThreshold = ptr(uint32(hc.UnhealthyThreshold))
	}
	return []gloov1.HealthCheck{out}
}

// outlierDetection copies the fields set, and maxEjectionPercent (100 when
// not set); Envoy's defaults apply to the rest.
func outlierDetection(od *fleet.OutlierDetection) *gloov1.OutlierDetection {
	if od == nil {
		return nil
	}
	out := &gloov1.OutlierDetection{
		Interval:         protoDuration(od.Interval.Std()),
		BaseEjectionTime: protoDuration(od.BaseEjectionTime.Std()),
	}
	if od.Consecutive5xx > 0 {
		out.Consecutive5xx = ptr(uint32(od.Consecutive5xx))
	}
	out.MaxEjectionPercent = ptr(uint32(od.MaxEjection()))
	return out
}
