package demo

import (
	"context"
	"fmt"
	"sync"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/provider"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// seed writes into every cluster what a real one would hold: the Service and
// ready endpoints of each GlobalService placed there, and the gateway install
// its provider describes (Deployments Available; for Envoy Gateway, an
// Accepted GatewayClass and a Programmed Gateway).
func seed(ctx context.Context, tf *localfleet.Fleet, f *fleet.Fleet) error {
	errs := make([]error, len(f.Clusters))
	var wg sync.WaitGroup
	for i, c := range f.Clusters {
		wg.Go(func() {
			tc := tf.Cluster(c.Name())
			if tc == nil {
				errs[i] = fmt.Errorf("cluster %s not started", c.Name())
				return
			}
			if err := seedCluster(ctx, tc.Sim(), f, c); err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", c.Name(), err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func seedCluster(ctx context.Context, sim *localfleet.Sim, f *fleet.Fleet, c *fleet.Cluster) error {
	for _, s := range f.Services {
		placed := false
		for _, pc := range f.ServiceClusters(s) {
			placed = placed || pc.Name() == c.Name()
		}
		if !placed {
			continue
		}
		svc := localfleet.Service{Namespace: s.Metadata.Namespace, Name: s.ServiceName(), Port: s.Spec.Port, Ready: 2}
		if err := sim.Service(ctx, svc); err != nil {
			return err
		}
	}
	gw := c.Spec.Gateway
	if err := sim.EnsureNamespace(ctx, gw.Namespace); err != nil {
		return err
	}
	desc := provider.Lookup(gw.Provider)
	if desc == nil || desc.Install.StandIn == nil {
		return nil
	}
	return installStandIn(ctx, sim, gw.Namespace, desc.Install.StandIn(gw.Gateway(), c.FailoverPort()))
}

// installStandIn writes what a running gateway install holds, as its
// provider describes it.
func installStandIn(ctx context.Context, sim *localfleet.Sim, namespace string, in provider.StandIn) error {
	for _, d := range in.Deployments {
		dep := localfleet.Deployment{Namespace: namespace, Name: d.Name, Replicas: d.Replicas, Available: true,
			Container: d.Container, Image: d.Image, Labels: d.Labels}
		if err := sim.Deployment(ctx, dep); err != nil {
			return err
		}
	}
	for _, o := range in.Objects {
		if err := apply(ctx, sim, o.Kind.GroupVersionResource(), o.Object); err != nil {
			return err
		}
	}
	for _, c := range in.Conditions {
		if err := sim.Conditions(ctx, c.Kind.GroupVersionResource(), c.Namespace, c.Name, trueConditions(c.Types)...); err != nil {
			return err
		}
	}
	return nil
}

// trueConditions are conditions of these types, True.
func trueConditions(types []string) []localfleet.Condition {
	var out []localfleet.Condition
	for _, typ := range types {
		out = append(out, localfleet.True(typ, ""))
	}
	return out
}

// apply server-side applies an object as the demo's installer.
func apply(ctx context.Context, sim *localfleet.Sim, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) error {
	data, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	_, err = sim.Dynamic.Resource(gvr).Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: "gatefed-demo", Force: &force, FieldValidation: metav1.FieldValidationStrict})
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvr.Resource, obj.GetName(), err)
	}
	return nil
}
