package render

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/provider"
)

// What every provider's renderer does the same way: defaults, warnings,
// the used services in order, the failover SNIs, and converting a typed
// object into a stamped one.

// OrDefault returns v, or def when v is the zero value.
func OrDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Warnings are a renderer's warnings for the user; Render prefixes each
// with its cluster.
type Warnings []string

// Warnf adds a warning.
func (w *Warnings) Warnf(format string, args ...any) {
	*w = append(*w, fmt.Sprintf(format, args...))
}

// Base is what every provider's renderer holds: its input, the cluster's
// name, its spec.gateway with the provider's defaults filled in (so a
// hand-built fleet renders too) and the warnings it collects.
type Base struct {
	In      *ClusterInput
	Cluster string
	Gateway provider.Gateway
	Warnings
}

func (b *Base) base() *Base { return b }

// Renderer is a provider's renderer of one cluster: a type that embeds
// Base and renders with Run.
type Renderer interface {
	Run() ([]*unstructured.Unstructured, error)
	base() *Base
}

// NewProvider is a provider made of its descriptor and the renderer it
// builds for each cluster.
func NewProvider[R Renderer](d *provider.Descriptor, newRenderer func(Base) R) Provider {
	return skeleton[R]{descriptor: d, newRenderer: newRenderer}
}

type skeleton[R Renderer] struct {
	descriptor  *provider.Descriptor
	newRenderer func(Base) R
}

func (s skeleton[R]) Descriptor() *provider.Descriptor { return s.descriptor }

// Render is the frame of every provider's render: it refuses an input
// without a cluster, builds the provider's renderer on a new Base and
// returns what it renders and warns about.
func (s skeleton[R]) Render(in *ClusterInput) ([]*unstructured.Unstructured, []string, error) {
	if in == nil || in.Cluster == nil {
		return nil, nil, fmt.Errorf("%s: no cluster to render", s.descriptor.Name)
	}
	r := s.newRenderer(Base{In: in, Cluster: in.Cluster.Name(), Gateway: s.gateway(in.Cluster)})
	objs, err := r.Run()
	if err != nil {
		return nil, nil, err
	}
	return objs, r.base().Warnings, nil
}

// gateway is the cluster's spec.gateway with the provider's defaults.
func (s skeleton[R]) gateway(c *fleet.Cluster) provider.Gateway {
	gw, d := c.Spec.Gateway.Gateway(), s.descriptor.Defaults
	gw.Namespace = OrDefault(gw.Namespace, d.Namespace)
	gw.Name = OrDefault(gw.Name, d.GatewayName)
	gw.ClassName = OrDefault(gw.ClassName, d.ClassName)
	if len(gw.Selector) == 0 {
		gw.Selector = d.Selector
	}
	return gw
}

// UsedKeys returns the keys of in.Used, sorted.
func (in *ClusterInput) UsedKeys() []string { return sortedPlanKeys(in.Used) }

// ServedBySNI returns the services the cluster accepts failover traffic
// for, sorted by key, keeping the first of any that share an SNI (the same
// Service port); shared is called with each one left out and the service
// it shares with. It is empty unless the cluster is a failover target.
func (in *ClusterInput) ServedBySNI(shared func(kept, dropped *fleet.GlobalService, sni string)) []*fleet.GlobalService {
	if !in.Cluster.FailoverTarget() || len(in.Served) == 0 {
		return nil
	}
	served := append([]*fleet.GlobalService(nil), in.Served...)
	sort.SliceStable(served, func(i, j int) bool { return served[i].Key() < served[j].Key() })
	owner := map[string]*fleet.GlobalService{}
	var out []*fleet.GlobalService
	for _, s := range served {
		sni := FailoverSNI(s)
		if prev, dup := owner[sni]; dup {
			shared(prev, s, sni)
			continue
		}
		owner[sni] = s
		out = append(out, s)
	}
	return out
}

// Convert turns a typed object into an unstructured one without status and
// stamps it (see Stamp) as rendered for cluster from the named source.
func Convert(typed any, cluster, sourceKind, sourceNamespace, sourceName string) (*unstructured.Unstructured, error) {
	obj, err := ToUnstructured(typed)
	if err != nil {
		return nil, err
	}
	delete(obj.Object, "status")
	Stamp(obj, cluster, sourceKind, sourceNamespace, sourceName)
	return obj, nil
}
