package istio

import (
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// tiersPortName names the ServiceEntry's one port; every endpoint maps it
// to its cluster's failover port.
const tiersPortName = "http"

// serviceEntry renders the tiers of a service as one MESH_EXTERNAL host
// whose endpoints are the tier clusters' failover addresses, this cluster's
// own included (its local tier goes through its own failover port, since
// one Envoy cluster has one TLS setting). Each endpoint carries the labels
// that give it its tier's priority.
func (r *renderer) serviceEntry(p *render.ServicePlan) (*unstructured.Unstructured, error) {
	s := p.Service
	se := &networkingv1.ServiceEntry{
		ObjectMeta: meta(r.Gateway.Namespace, r.names.Name(KindServiceEntry, r.Gateway.Namespace, s.Metadata.Namespace, s.Metadata.Name)),
	}
	se.Spec.Hosts = []string{tiersHost(s)}
	se.Spec.Location = networking.ServiceEntry_MESH_EXTERNAL
	se.Spec.Resolution = networking.ServiceEntry_STATIC
	se.Spec.ExportTo = []string{"."}
	se.Spec.Ports = []*networking.ServicePort{{Number: uint32(s.Spec.Port), Name: tiersPortName, Protocol: "HTTP"}}
	for i, t := range p.Tiers {
		fo := t.Cluster.Spec.Failover
		if fo == nil || fo.Address == "" {
			what := "failover tier"
			if t.Local {
				what = "its own tier (Istio reaches it through this cluster's failover port)"
			}
			return nil, fmt.Errorf("GlobalService %s: cluster %s has no spec.failover.address for %s", s.Key(), t.Cluster.Name(), what)
		}
		if !fleet.AddressIsIP(fo.Address) {
			se.Spec.Resolution = networking.ServiceEntry_DNS
		}
		se.Spec.Endpoints = append(se.Spec.Endpoints, &networking.WorkloadEntry{
			Address: fo.Address,
			Ports:   map[string]uint32{tiersPortName: uint32(t.Cluster.FailoverPort())},
			Labels:  tierLabels(i, len(p.Tiers)),
		})
	}
	obj, err := serviceEntryObject(se)
	obj, err = stamp(obj, err, r.Cluster, fleet.KindGlobalService, s.Metadata.Namespace, s.Metadata.Name)
	if err != nil {
		return nil, err
	}
	render.AnnotateService(obj, p)
	return obj, nil
}

// tierLabels are the labels of tier i of n.
func tierLabels(i, n int) map[string]string {
	l := map[string]string{TierLabel: strconv.Itoa(i)}
	for j := i + 1; j < n; j++ {
		l[BeforeTierLabel+strconv.Itoa(j)] = "true"
	}
	return l
}

// failoverPriority lists the before-tier labels from the last tier down:
// Istio gives an endpoint priority len(list) minus the number of leading
// entries it matches, so tier i gets priority i.
func failoverPriority(n int) []string {
	var out []string
	for j := n - 1; j >= 1; j-- {
		out = append(out, BeforeTierLabel+strconv.Itoa(j)+"=true")
	}
	return out
}

// destinationRule originates the failover mutual TLS to a service's tiers
// (client certificate failover-upstream, the service's SNI, the target's
// certificate checked for that name), turns on outlier detection, without
// which Envoy never leaves priority 0, and orders the tiers.
func (r *renderer) destinationRule(p *render.ServicePlan) (*unstructured.Unstructured, error) {
	s := p.Service
	sni := render.FailoverSNI(s)
	dr := &networkingv1.DestinationRule{
		ObjectMeta: meta(r.Gateway.Namespace, r.names.Name(KindDestinationRule, r.Gateway.Namespace, s.Metadata.Namespace, s.Metadata.Name)),
	}
	dr.Spec.Host = tiersHost(s)
	dr.Spec.ExportTo = []string{"."}
	tp := &networking.TrafficPolicy{
		Tls: &networking.ClientTLSSettings{
			Mode:            networking.ClientTLSSettings_MUTUAL,
			CredentialName:  render.FailoverUpstreamSecret,
			Sni:             sni,
			SubjectAltNames: []string{sni},
		},
		OutlierDetection: r.outlierDetection(s),
	}
	if n := len(p.Tiers); n > 1 {
		tp.LoadBalancer = &networking.LoadBalancerSettings{
			LocalityLbSetting: &networking.LocalityLoadBalancerSetting{
				Enabled:          wrapperspb.Bool(true),
				FailoverPriority: failoverPriority(n),
			},
		}
	}
	dr.Spec.TrafficPolicy = tp
	obj, err := destinationRuleObject(dr)
	obj, err = stamp(obj, err, r.Cluster, fleet.KindGlobalService, s.Metadata.Namespace, s.Metadata.Name)
	if err != nil {
		return nil, err
	}
	render.AnnotateService(obj, p)
	return obj, nil
}

// outlierDetection is the service's outlier detection, with
// maxEjectionPercent 100 unless given. Istio has no active health check: a
// service with only healthCheck gets outlier detection that ejects a tier
// after unhealthyThreshold consecutive errors (connection failures count),
// checked every healthCheck.interval, and a warning.
func (r *renderer) outlierDetection(s *fleet.GlobalService) *networking.OutlierDetection {
	out := &networking.OutlierDetection{MaxEjectionPercent: fleet.DefaultMaxEjectionPercent}
	if od := s.Spec.OutlierDetection; od != nil {
		if od.Consecutive5xx > 0 {
			out.Consecutive_5XxErrors = wrapperspb.UInt32(uint32(od.Consecutive5xx))
		}
		out.Interval = duration(od.Interval)
		out.BaseEjectionTime = duration(od.BaseEjectionTime)
		out.MaxEjectionPercent = od.MaxEjection()
		return out
	}
	if hc := s.Spec.HealthCheck; hc != nil {
		threshold := hc.UnhealthyThreshold
		if threshold <= 0 {
			threshold = fleet.DefaultUnhealthyThreshold
		}
		out.Consecutive_5XxErrors = wrapperspb.UInt32(uint32(threshold))
		out.Interval = duration(hc.Interval)
		r.Warnf("GlobalService %s: Istio has no active health check; its tiers are ejected by outlier detection instead (%d consecutive 5xx or connection failures of real requests, checked every %s), not by probing %s",
			s.Key(), threshold, render.OrDefault(string(hc.Interval), string(fleet.DefaultHealthCheckInterval)), hc.Path)
	}
	return out
}

// duration converts a fleet duration; empty or non-positive gives nil.
// Istio refuses durations under a millisecond: those round up to 1ms.
func duration(d fleet.Duration) *durationpb.Duration {
	v := d.Std()
	if v <= 0 {
		return nil
	}
	if v < time.Millisecond {
		v = time.Millisecond
	}
	return durationpb.New(v)
}
