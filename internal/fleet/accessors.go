package fleet

import (
	"sort"
	"strings"
	"time"

	"github.com/gatefed/gatefed/internal/provider"
)

// Duration is a Go duration string such as "5s"; validation checks it parses.
type Duration string

// Std returns the duration, or 0 when empty or invalid.
func (d Duration) Std() time.Duration {
	v, _ := time.ParseDuration(string(d))
	return v
}

// DefaultNamespace is the namespace of a GlobalService or GlobalRoute that names none.
const DefaultNamespace = "default"

// Name returns the cluster's name.
func (c *Cluster) Name() string { return c.Metadata.Name }

// Context returns the kubeconfig context, defaulting to the cluster's name.
func (c *Cluster) Context() string {
	if c.Spec.Context != "" {
		return c.Spec.Context
	}
	return c.Metadata.Name
}

// Domain returns the DNS domain of the cluster's Services.
func (c *Cluster) Domain() string {
	if c.Spec.ClusterDomain != "" {
		return c.Spec.ClusterDomain
	}
	return DefaultClusterDomain
}

// FailoverTarget reports whether other clusters may fail over to this one.
func (c *Cluster) FailoverTarget() bool { return c.Spec.Failover != nil }

// FailoverPort is the port other clusters reach this one on.
func (c *Cluster) FailoverPort() int32 {
	if c.Spec.Failover == nil || c.Spec.Failover.Port == 0 {
		return DefaultFailoverPort
	}
	return c.Spec.Failover.Port
}

// Gateway is spec.gateway as its provider reads it.
func (g *GatewaySpec) Gateway() provider.Gateway {
	return provider.Gateway{Namespace: g.Namespace, Name: g.Name, ClassName: g.ClassName, Selector: g.Selector}
}

func (c *Cluster) source() *Source         { return &c.Source }
func (s *GlobalService) source() *Source   { return &s.Source }
func (r *GlobalRoute) source() *Source     { return &r.Source }
func (e *GlobalExtension) source() *Source { return &e.Source }

// Ref is "namespace/name" of a namespaced document.
func Ref(namespace, name string) string { return namespace + "/" + name }

// Key is "namespace/name".
func (s *GlobalService) Key() string { return Ref(s.Metadata.Namespace, s.Metadata.Name) }

// ServiceName is the Kubernetes Service's name.
func (s *GlobalService) ServiceName() string {
	if s.Spec.ServiceName != "" {
		return s.Spec.ServiceName
	}
	return s.Metadata.Name
}

// Policy is the failover policy, defaulting to locality.
func (s *GlobalService) Policy() string {
	if s.Spec.Failover == nil || s.Spec.Failover.Policy == "" {
		return PolicyLocality
	}
	return s.Spec.Failover.Policy
}

// MaxTiers is how many tiers each source keeps, tier 0 included:
// failover.maxTiers, else DefaultLocalityMaxTiers for locality; 0 (no
// limit) for ordered.
func (s *GlobalService) MaxTiers() int {
	switch {
	case s.Spec.Failover != nil && s.Spec.Failover.MaxTiers > 0:
		return int(s.Spec.Failover.MaxTiers)
	case s.Policy() == PolicyLocality:
		return DefaultLocalityMaxTiers
	}
	return 0
}

// TierCount is how many tiers source cluster src sees of s when every
// cluster can serve it: its own cluster when s runs there and every other
// failover target s runs in, up to MaxTiers.
func (s *GlobalService) TierCount(placed []*Cluster, src *Cluster) int {
	n := 0
	for _, c := range placed {
		if c.Metadata.Name == src.Metadata.Name || c.FailoverTarget() {
			n++
		}
	}
	if max := s.MaxTiers(); max > 0 && n > max {
		return max
	}
	return n
}

// HasHealthSignal reports whether a health check or outlier detection is set.
func (s *GlobalService) HasHealthSignal() bool {
	return s.Spec.HealthCheck != nil || s.Spec.OutlierDetection != nil
}

// DefaultMaxEjectionPercent is the share of a tier's hosts outlier detection
// may eject when outlierDetection leaves maxEjectionPercent out. Envoy's own
// default, 10% (at least one host), keeps a tier with many hosts from ever
// failing over on outlier detection alone.
const DefaultMaxEjectionPercent int32 = 100

// MaxEjection is maxEjectionPercent, DefaultMaxEjectionPercent when not set.
func (od *OutlierDetection) MaxEjection() int32 {
	if od.MaxEjectionPercent > 0 {
		return od.MaxEjectionPercent
	}
	return DefaultMaxEjectionPercent
}

// CatchAllHost is the GlobalRoute host that serves every host no other
// route on the gateway serves.
const CatchAllHost = "*"

// CatchAll reports whether the route serves every host (its only host is "*").
func (r *GlobalRoute) CatchAll() bool {
	return len(r.Spec.Hosts) == 1 && r.Spec.Hosts[0] == CatchAllHost
}

// Key is "namespace/name".
func (r *GlobalRoute) Key() string { return Ref(r.Metadata.Namespace, r.Metadata.Name) }

// BackendRef resolves a backend's service to "namespace/name" in the route's namespace.
func (r *GlobalRoute) BackendRef(b Backend) string {
	if strings.Contains(b.Service, "/") {
		return b.Service
	}
	return Ref(r.Metadata.Namespace, b.Service)
}

// WeightOf returns a backend's weight (default 1).
func (b Backend) WeightOf() int32 {
	if b.Weight == nil {
		return 1
	}
	return *b.Weight
}

// Cluster returns the named cluster, or nil.
func (f *Fleet) Cluster(name string) *Cluster {
	if f.clusterIndex != nil {
		return f.clusterIndex[name]
	}
	for _, c := range f.Clusters {
		if c.Metadata.Name == name {
			return c
		}
	}
	return nil
}

// Service returns the GlobalService "namespace/name", or nil.
func (f *Fleet) Service(key string) *GlobalService {
	if f.serviceIndex != nil {
		return f.serviceIndex[key]
	}
	for _, s := range f.Services {
		if s.Key() == key {
			return s
		}
	}
	return nil
}

// Route returns the GlobalRoute "namespace/name", or nil.
func (f *Fleet) Route(key string) *GlobalRoute {
	if f.routeIndex != nil {
		return f.routeIndex[key]
	}
	for _, r := range f.Routes {
		if r.Key() == key {
			return r
		}
	}
	return nil
}

// Placed returns the clusters a placement picks, sorted by name. A nil or
// empty placement picks all. The slice may be shared: do not modify it.
func (f *Fleet) Placed(p *Placement) []*Cluster {
	if cached, ok := f.placed[p]; ok {
		return cached
	}
	var out []*Cluster
	for _, c := range f.Clusters {
		if p.Matches(c) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Metadata.Name < out[j].Metadata.Name })
	return out
}

// ServiceClusters returns the clusters a service runs in, sorted by name.
func (f *Fleet) ServiceClusters(s *GlobalService) []*Cluster { return f.Placed(s.Spec.Clusters) }

// RouteClusters returns the clusters whose gateways serve a route, sorted by name.
func (f *Fleet) RouteClusters(r *GlobalRoute) []*Cluster { return f.Placed(r.Spec.Clusters) }

// Matches reports whether a placement picks the cluster.
func (p *Placement) Matches(c *Cluster) bool {
	if p == nil || (len(p.Names) == 0 && p.Selector == nil) {
		return true
	}
	for _, n := range p.Names {
		if n == c.Metadata.Name {
			return true
		}
	}
	return p.Selector != nil && p.Selector.Matches(c.Metadata.Labels)
}

// Matches reports whether labels satisfy the selector. An empty selector matches everything.
func (s *LabelSelector) Matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, e := range s.MatchExpressions {
		v, has := labels[e.Key]
		in := false
		for _, want := range e.Values {
			if has && v == want {
				in = true
			}
		}
		switch e.Operator {
		case "In":
			if !in {
				return false
			}
		case "NotIn":
			if in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}
