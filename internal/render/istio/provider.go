// Package istio renders a cluster's gatefed objects for an Istio ingress
// gateway (networking.istio.io/v1): a Gateway for the routes' hosts, a
// VirtualService per GlobalRoute, and for every service that can fail over a
// MESH_EXTERNAL ServiceEntry holding each tier at its failover address with a
// DestinationRule that originates the failover mutual TLS and orders the
// tiers by priority. On failover targets it renders a Gateway with one
// mutual-TLS server per served SNI and a VirtualService per SNI to the local
// Service only.
package istio

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// FailoverGatewayName is the Gateway that accepts failover traffic.
const FailoverGatewayName = "gatefed-failover"

// Endpoint labels that order a service's tiers. Istio overwrites
// topology.istio.io/cluster on ServiceEntry endpoints, so gatefed uses its own.
const (
	// TierLabel is a tier's index, for people reading the ServiceEntry.
	TierLabel = "gatefed.dev/tier"
	// BeforeTierLabel + "N" is "true" on every tier before tier N;
	// failoverPriority lists them from the last tier down, so tier i
	// matches exactly the first n-1-i entries and gets priority i.
	BeforeTierLabel = "gatefed.dev/before-tier-"
)

// TiersDomain ends the ServiceEntry host of a GlobalService's tiers:
// <name>.<namespace>.tiers.gatefed.internal.
const TiersDomain = "tiers.gatefed.internal"

// Ports of the routes' servers.
const (
	httpPort  = 80
	httpsPort = 443
)

// New returns the istio provider.
func New() render.Provider { return render.NewProvider(Descriptor, newRenderer) }

type renderer struct {
	render.Base
	names *render.Namer
	// served are the services the failover Gateway accepts, one per SNI.
	served []*fleet.GlobalService
}

func newRenderer(base render.Base) *renderer {
	return &renderer{Base: base}
}

// Run renders the cluster.
func (r *renderer) Run() ([]*unstructured.Unstructured, error) {
	r.served = r.servedBySNI()
	r.names = render.NewNamer(r.nameRequests())
	var out []*unstructured.Unstructured
	add := func(o *unstructured.Unstructured, err error) error {
		if err != nil {
			return err
		}
		if o != nil {
			out = append(out, o)
		}
		return nil
	}
	for _, key := range r.In.UsedKeys() {
		p := r.In.Used[key]
		if !throughTiers(p) {
			continue
		}
		if err := add(r.serviceEntry(p)); err != nil {
			return nil, err
		}
		if err := add(r.destinationRule(p)); err != nil {
			return nil, err
		}
	}
	if len(r.In.Routes) > 0 {
		if err := add(r.routesGateway()); err != nil {
			return nil, err
		}
	}
	for _, route := range r.In.Routes {
		if err := add(r.virtualService(route)); err != nil {
			return nil, err
		}
	}
	if len(r.served) > 0 {
		if err := add(r.failoverGateway()); err != nil {
			return nil, err
		}
		for _, s := range r.served {
			if err := add(r.failoverVirtualService(s)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// throughTiers reports whether a service is reached through failover
// addresses (a ServiceEntry of its tiers): whenever it has a remote tier.
// A service whose only tier is this cluster goes to its local Service.
func throughTiers(p *render.ServicePlan) bool {
	return len(p.Tiers) > 1 || (len(p.Tiers) == 1 && !p.Tiers[0].Local)
}

func (r *renderer) nameRequests() []render.NameRequest {
	var reqs []render.NameRequest
	for _, route := range r.In.Routes {
		reqs = append(reqs, render.NameOf(KindVirtualService, r.Gateway.Namespace, []string{route.Metadata.Namespace, route.Metadata.Name}))
	}
	for _, key := range r.In.UsedKeys() {
		p := r.In.Used[key]
		if throughTiers(p) {
			parts := []string{p.Service.Metadata.Namespace, p.Service.Metadata.Name}
			reqs = append(reqs, render.NameOf(KindServiceEntry, r.Gateway.Namespace, parts), render.NameOf(KindDestinationRule, r.Gateway.Namespace, parts))
		}
	}
	for _, s := range r.served {
		reqs = append(reqs, render.NameOf(KindVirtualService, r.Gateway.Namespace, failoverParts(s)))
	}
	return reqs
}

func failoverParts(s *fleet.GlobalService) []string {
	return []string{"failover", s.Metadata.Namespace, s.Metadata.Name}
}

// servedBySNI returns the served services, one per SNI.
func (r *renderer) servedBySNI() []*fleet.GlobalService {
	return r.In.ServedBySNI(func(kept, dropped *fleet.GlobalService, sni string) {
		r.Warnf("GlobalServices %s and %s name the same Service port (SNI %s); failover traffic for both reaches it through %s's server", kept.Key(), dropped.Key(), sni, kept.Key())
	})
}

// tiersHost is the ServiceEntry host of a service's tiers.
func tiersHost(s *fleet.GlobalService) string {
	return s.Metadata.Name + "." + s.Metadata.Namespace + "." + TiersDomain
}

// localHost is the cluster-local DNS name of a service's Kubernetes Service.
func (r *renderer) localHost(s *fleet.GlobalService) string {
	return s.ServiceName() + "." + s.Metadata.Namespace + ".svc." + r.In.Cluster.Domain()
}

// stamp sets the labels and source annotation every object carries.
func stamp(obj *unstructured.Unstructured, err error, cluster, sourceKind, sourceNamespace, sourceName string) (*unstructured.Unstructured, error) {
	if err != nil {
		return nil, err
	}
	render.Stamp(obj, cluster, sourceKind, sourceNamespace, sourceName)
	return obj, nil
}
