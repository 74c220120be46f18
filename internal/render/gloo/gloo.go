// Package gloo renders a cluster's part of the fleet as Gloo Edge objects:
// an Upstream per service its routes use (with failover to other clusters),
// a VirtualService per route (and, for a TLS route that redirects plain
// HTTP, a second one that answers with the redirect), and on failover targets a TCP Gateway that
// accepts failover traffic and sends it to local endpoints only. Its
// descriptor also says what Gloo is besides: defaults, CRDs, the statuses
// Gloo writes (status.statuses[<namespace>]) and how they read, its install
// and the demo's stand-in for it.
package gloo

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// New returns the Gloo Edge provider. It renders a cluster's Upstreams,
// VirtualServices, local-only Upstreams and failover Gateway, in that order.
func New() render.Provider { return render.NewProvider(Descriptor, newRenderer) }

func newRenderer(base render.Base) *renderer {
	return &renderer{Base: base, ns: base.In.Cluster.Spec.Gateway.Namespace, names: map[string]string{}}
}

type renderer struct {
	render.Base
	ns   string
	objs []*unstructured.Unstructured
	// names maps "Kind/name" to the document it was rendered for, to catch two documents sharing a name.
	names map[string]string
}

// Run renders the cluster.
func (r *renderer) Run() ([]*unstructured.Unstructured, error) {
	if r.ns == "" {
		return nil, fmt.Errorf("spec.gateway.namespace is empty")
	}
	for _, step := range []func() error{r.upstreams, r.virtualServices, r.failoverGateway} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return r.objs, nil
}

// emit converts, stamps and keeps an object, refusing a second one of the same kind and name.
func (r *renderer) emit(typed any, kind, name, sourceKind, sourceNs, sourceName string) (*unstructured.Unstructured, error) {
	key := kind + "/" + name
	source := sourceKind + " " + fleet.Ref(sourceNs, sourceName)
	if prev, dup := r.names[key]; dup {
		return nil, fmt.Errorf("%s and %s both render %s %s/%s; rename one", prev, source, kind, r.ns, name)
	}
	r.names[key] = source
	obj, err := render.Convert(typed, r.Cluster, sourceKind, sourceNs, sourceName)
	if err != nil {
		return nil, err
	}
	r.objs = append(r.objs, obj)
	return obj, nil
}

func (r *renderer) meta(name string, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: r.ns, Annotations: annotations}
}
