package check

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// holdsLabels reports whether labels has every key and value of want (and
// want is not empty).
func holdsLabels(have, want map[string]string) bool {
	return len(want) > 0 && labels.SelectorFromSet(want).Matches(labels.Set(have))
}

func selectorText(m map[string]string) string { return labels.Set(m).String() }

// installedFirst orders names with the Service and Deployment of the
// provider's default install (Failover.InstalledService) first, then by name.
func installedFirst(env *clusterEnv) func(a, b string) bool {
	installed := env.provider().Failover.InstalledService
	return func(a, b string) bool {
		if (a == installed) != (b == installed) {
			return a == installed
		}
		return a < b
	}
}

// selectedServicePort needs a Service of the ingress gateway pods (its
// selector holds spec.gateway.selector) to expose the failover port.
func selectedServicePort(ctx context.Context, env *clusterEnv, res *result) {
	c := env.cluster
	ns, sel := env.gatewayNamespace(), c.Spec.Gateway.Selector
	want := c.FailoverPort()
	list, err := env.kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		res.fail(fmt.Sprintf("list Services in %s: %v", ns, err), rbacHint("list services", ns))
		return
	}
	var ours []*corev1.Service
	for i := range list.Items {
		if holdsLabels(list.Items[i].Spec.Selector, sel) {
			ours = append(ours, &list.Items[i])
		}
	}
	first := installedFirst(env)
	sort.Slice(ours, func(i, j int) bool { return first(ours[i].Name, ours[j].Name) })
	if len(ours) == 0 {
		res.fail(fmt.Sprintf("no Service in %s selects the ingress gateway pods (%s): other clusters cannot reach its failover port", ns, selectorText(sel)),
			fmt.Sprintf("expose the ingress gateway with a LoadBalancer Service with port %d%s, or correct spec.gateway.selector of Cluster %s", want, exposeHint(env, ""), c.Name()))
		return
	}
	for _, s := range ours {
		for _, p := range s.Spec.Ports {
			if p.Port == want {
				res.objInfo(objRef("Service", s.Namespace, s.Name), fmt.Sprintf("the ingress gateway Service %s/%s exposes port %d (%q)", s.Namespace, s.Name, want, p.Name))
				return
			}
		}
	}
	s := ours[0]
	res.objFail(objRef("Service", s.Namespace, s.Name), fmt.Sprintf("the ingress gateway Service %s/%s does not expose port %d, which Cluster %s registers as its failover port", s.Namespace, s.Name, want, c.Name()),
		fmt.Sprintf("add port %d (name %s, targetPort the gateway pods' %d) to the Service, or set spec.failover.port of Cluster %s to a port it exposes", want, env.provider().Failover.InstalledPortName, want, c.Name()))
}

// selectedProxyDeployment is the ingress gateway's Deployment: in the gateway
// namespace, pods labelled with spec.gateway.selector, the default
// install's (Failover.InstalledService) first.
func selectedProxyDeployment(ctx context.Context, env *clusterEnv) (*appsv1.Deployment, error) {
	gw := env.cluster.Spec.Gateway
	list, err := env.kube.AppsV1().Deployments(gw.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var found []*appsv1.Deployment
	for i := range list.Items {
		if holdsLabels(list.Items[i].Spec.Template.Labels, gw.Selector) {
			found = append(found, &list.Items[i])
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	first := installedFirst(env)
	sort.Slice(found, func(i, j int) bool { return first(found[i].Name, found[j].Name) })
	return found[0], nil
}
