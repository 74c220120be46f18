package demo

import (
	"context"
	"fmt"
	"sync"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// seed writes into every cluster what a real one would hold: the Service and
// ready endpoints of each GlobalService placed there, and the gateway install
// (Deployments Available; for Envoy Gateway, an Accepted GatewayClass and a
// Programmed Gateway).
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
	switch gw.Provider {
	case gloo.Name:
		// Failover on Gloo is Gloo Edge Enterprise's: its image is gloo-ee.
		if err := sim.Deployment(ctx, localfleet.Deployment{Namespace: gw.Namespace, Name: gloo.ControllerDeployment, Available: true, Container: "gloo", Image: "quay.io/solo-io/gloo-ee:" + gloo.NewestVersion + ".0"}); err != nil {
			return err
		}
		if err := sim.Deployment(ctx, localfleet.Deployment{Namespace: gw.Namespace, Name: gw.Name, Replicas: 2, Available: true, Container: "gateway-proxy"}); err != nil {
			return err
		}
		// The proxy's Service exposes the failover port, as Gloo's Helm
		// values (gatewayProxies.<name>.service.extraPorts) would.
		proxySvc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: gw.Namespace, Name: gw.Name, Labels: map[string]string{"gloo": "gateway-proxy"}},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeLoadBalancer,
				Selector: map[string]string{"app": gw.Name},
				Ports: []corev1.ServicePort{
					{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
					{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443), Protocol: corev1.ProtocolTCP},
					{Name: "failover", Port: c.FailoverPort(), TargetPort: intstr.FromInt32(c.FailoverPort()), Protocol: corev1.ProtocolTCP},
				},
			},
		}
		if _, err := sim.Kube.CoreV1().Services(gw.Namespace).Create(ctx, proxySvc, metav1.CreateOptions{FieldManager: "gatefed-demo"}); err != nil {
			return fmt.Errorf("service %s/%s: %w", gw.Namespace, gw.Name, err)
		}
	case envoygateway.Name:
		if err := sim.Deployment(ctx, localfleet.Deployment{Namespace: gw.Namespace, Name: "envoy-gateway", Available: true, Container: "envoy-gateway"}); err != nil {
			return err
		}
		proxy := localfleet.Deployment{
			Namespace: gw.Namespace, Name: "envoy-" + gw.Namespace + "-" + gw.Name, Replicas: 2, Available: true, Container: "envoy",
			Labels: map[string]string{envoygateway.OwningGatewayNameLabel: gw.Name, envoygateway.OwningGatewayNamespaceLabel: gw.Namespace},
		}
		if err := sim.Deployment(ctx, proxy); err != nil {
			return err
		}
		class := fmt.Sprintf(`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"GatewayClass","metadata":{"name":%q},"spec":{"controllerName":%q}}`,
			gw.ClassName, localfleet.EnvoyGatewayControllerName)
		if err := applyJSON(ctx, sim, localfleet.GatewayClassGVR, "", gw.ClassName, class); err != nil {
			return err
		}
		gateway := fmt.Sprintf(`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":%q,"namespace":%q},"spec":{"gatewayClassName":%q,"listeners":[{"name":"http","port":80,"protocol":"HTTP","allowedRoutes":{"namespaces":{"from":"All"}}}]}}`,
			gw.Name, gw.Namespace, gw.ClassName)
		if err := applyJSON(ctx, sim, localfleet.GatewayGVR, gw.Namespace, gw.Name, gateway); err != nil {
			return err
		}
		if err := sim.Conditions(ctx, localfleet.GatewayClassGVR, "", gw.ClassName, localfleet.True("Accepted", "")); err != nil {
			return err
		}
		if err := sim.Conditions(ctx, localfleet.GatewayGVR, gw.Namespace, gw.Name, localfleet.True("Accepted", ""), localfleet.True("Programmed", "")); err != nil {
			return err
		}
	}
	return nil
}

// applyJSON server-side applies an object as the demo's installer.
func applyJSON(ctx context.Context, sim *localfleet.Sim, gvr schema.GroupVersionResource, namespace, name, obj string) error {
	force := true
	_, err := sim.Dynamic.Resource(gvr).Namespace(namespace).Patch(ctx, name, types.ApplyPatchType, []byte(obj),
		metav1.PatchOptions{FieldManager: "gatefed-demo", Force: &force, FieldValidation: metav1.FieldValidationStrict})
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvr.Resource, name, err)
	}
	return nil
}
