// Package configmap is the smallest gateway provider, for tests only: it
// shows that a provider is one package plus one entry in providers.All. Its
// "gateway" reads one ConfigMap per GlobalRoute served by the cluster,
// holding the route's hosts and each backend's tiers; it needs no CRD and
// runs no proxy.
//
// Only tests import it (fleettest's TestOnlyTestsImportIt enforces that).
package configmap

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// Name is the provider's name in spec.gateway.provider.
const Name = "configmap"

// Descriptor is all the rest of gatefed knows about the provider.
var Descriptor = &provider.Descriptor{
	Name:     Name,
	Title:    "The ConfigMap gateway",
	Defaults: provider.Defaults{Namespace: "configmap-gateway", GatewayName: "configmap"},
	Kinds:    []provider.Kind{{Version: "v1", Kind: "ConfigMap", Resource: "configmaps", Rank: 1}},
	Install:  provider.Install{Hint: "nothing to install: ConfigMaps are core Kubernetes objects"},
	Limits: provider.Limits{
		RateLimit:   "has no rate limit: leave rateLimit out",
		NoRouteWasm: "it runs no proxy, so no WebAssembly filter",
	},
}

// Provider renders ConfigMaps.
type Provider struct{}

// New returns the provider.
func New() Provider { return Provider{} }

// Descriptor returns the provider's descriptor.
func (Provider) Descriptor() *provider.Descriptor { return Descriptor }

// Render returns one ConfigMap per route the cluster serves.
func (Provider) Render(in *render.ClusterInput) ([]*unstructured.Unstructured, []string, error) {
	gw := in.Cluster.Spec.Gateway
	var out []*unstructured.Unstructured
	for _, r := range in.Routes {
		cm := &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Namespace: gw.Namespace, Name: "gatefed-" + r.Metadata.Namespace + "-" + r.Metadata.Name},
			Data:       map[string]string{"hosts": strings.Join(r.Spec.Hosts, ",")},
		}
		for i, rule := range r.Spec.Rules {
			var backends []string
			for _, b := range rule.Backends {
				key := r.BackendRef(b)
				backends = append(backends, key+"="+render.TierList(in.Used[key]))
			}
			cm.Data[fmt.Sprintf("rule-%d", i)] = strings.Join(backends, " ")
		}
		obj, err := render.ToUnstructured(cm)
		if err != nil {
			return nil, nil, err
		}
		render.Stamp(obj, in.Cluster.Name(), fleet.KindGlobalRoute, r.Metadata.Namespace, r.Metadata.Name)
		out = append(out, obj)
	}
	return out, nil, nil
}
