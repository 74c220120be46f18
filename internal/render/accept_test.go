package render_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/istio"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// TestRenderedObjectsAcceptedByRealSchemas starts three real kube-apiservers
// serving the real Gloo, Gateway API, Envoy Gateway and Istio CRDs and server-side
// applies every object of every example fleet to each, with strict field
// validation. A field the schema does not declare, a wrong type or a broken
// CEL rule fails the apply.
func TestRenderedObjectsAcceptedByRealSchemas(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Count: 3, CRDs: localfleet.DefaultCRDs().With(istio.Name)})
	for _, tc := range tf.Clusters {
		t.Run(tc.Name, func(t *testing.T) { acceptAll(t, tc) })
	}
}

// strictApplier returns a server-side apply to a test cluster with strict
// field validation (a dry run when dryRun), and a function that creates a
// namespace if it is missing.
func strictApplier(t *testing.T, tc *testfleet.Cluster) (apply func(o *unstructured.Unstructured, dryRun bool) error, namespace func(string)) {
	cfg := tc.Config
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	ctx := context.Background()
	apply = func(o *unstructured.Unstructured, dryRun bool) error {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return err
		}
		data, err := o.MarshalJSON()
		if err != nil {
			return err
		}
		opts := metav1.PatchOptions{FieldManager: "gatefed", FieldValidation: "Strict"}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		_, err = dyn.Resource(m.Resource).Namespace(o.GetNamespace()).Patch(ctx, o.GetName(), types.ApplyPatchType, data, opts)
		return err
	}
	namespace = func(ns string) {
		if ns == "" {
			return
		}
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	return apply, namespace
}

func acceptAll(t *testing.T, tc *testfleet.Cluster) {
	apply, namespace := strictApplier(t, tc)

	applied := map[string]int{}
	for _, dir := range fleetDirs(t) {
		res, _ := renderDir(t, dir)
		for _, c := range res.Clusters {
			for _, o := range c.Objects {
				namespace(o.GetNamespace())
				// Each example fleet is applied as if it were the only one:
				// dry runs, so that fleets reusing a name do not meet.
				if err := apply(o, true); err != nil {
					t.Errorf("%s: cluster %s: %s %s/%s rejected: %v", dir, c.Cluster.Name(), o.GetKind(), o.GetNamespace(), o.GetName(), err)
					continue
				}
				applied[o.GroupVersionKind().String()]++
			}
		}
	}
	// The kinds every provider renders must all have been seen.
	for _, kind := range []string{
		"gloo.solo.io/v1, Kind=Upstream",
		"gateway.solo.io/v1, Kind=VirtualService",
		"gateway.solo.io/v1, Kind=Gateway",
		"gateway.networking.k8s.io/v1, Kind=HTTPRoute",
		"gateway.networking.k8s.io/v1, Kind=Gateway",
		"gateway.networking.k8s.io/v1, Kind=TLSRoute",
		"gateway.networking.k8s.io/v1, Kind=ReferenceGrant",
		"gateway.envoyproxy.io/v1alpha1, Kind=Backend",
		"gateway.envoyproxy.io/v1alpha1, Kind=BackendTrafficPolicy",
		"gateway.envoyproxy.io/v1alpha1, Kind=ClientTrafficPolicy",
		"gateway.envoyproxy.io/v1alpha1, Kind=HTTPRouteFilter",
		"gateway.envoyproxy.io/v1alpha1, Kind=EnvoyExtensionPolicy",
		"gateway.networking.k8s.io/v1, Kind=ListenerSet",
		"networking.istio.io/v1, Kind=Gateway",
		"networking.istio.io/v1, Kind=VirtualService",
		"networking.istio.io/v1, Kind=DestinationRule",
		"networking.istio.io/v1, Kind=ServiceEntry",
	} {
		if applied[kind] == 0 {
			t.Errorf("no %s was applied; applied: %v", kind, applied)
		}
	}
	t.Logf("accepted: %v", applied)

	// The same path rejects a misspelt field: strict validation is on, for
	// one object of every API group rendered.
	checked := map[string]bool{}
	for _, dir := range fleetDirs(t) {
		res, _ := renderDir(t, dir)
		for _, c := range res.Clusters {
			for _, o := range c.Objects {
				group := o.GroupVersionKind().Group
				if checked[group] {
					continue
				}
				checked[group] = true
				bad := o.DeepCopy()
				if err := unstructured.SetNestedField(bad.Object, "x", "spec", "hostnamez"); err != nil {
					t.Fatal(err)
				}
				err := apply(bad, true)
				if err == nil || !strings.Contains(err.Error(), ".spec.hostnamez: field not declared in schema") {
					t.Errorf("%s %s with spec.hostnamez: got %v, want \".spec.hostnamez: field not declared in schema\"", bad.GetKind(), bad.GetName(), err)
				}
			}
		}
	}
	if !checked["networking.istio.io"] {
		t.Errorf("no Istio object checked for strict validation; groups: %v", checked)
	}
}
