package check

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/status"
)

func checkGatewayInstall(ctx context.Context, env *clusterEnv, res *result) {
	desc := env.provider()
	var missing []string
	for _, c := range desc.CRDs {
		if env.mapping(c.GroupKind()) == nil {
			missing = append(missing, c.CRDName())
		}
	}
	if len(missing) > 0 {
		res.fail(fmt.Sprintf("the %s CRDs %s are not installed: the API does not serve them", desc.Name, strings.Join(missing, ", ")),
			desc.Install.Hint)
	} else {
		res.info(fmt.Sprintf("the %s CRDs are installed", desc.Name))
	}
	steps := installSteps(ctx, env, desc.Install)
	if st := desc.Options.StrictTiers; st != nil && env.cluster.Spec.Gateway.StrictTiers {
		steps = append(steps, func(r *result) { strictTiersSetting(ctx, env, r, desc.Title, st) })
	}
	if e := desc.Failover.Edition; e != nil && failsOver(env) {
		steps = append(steps, func(r *result) { gatewayEdition(ctx, env, r, desc.Title, e) })
	}
	if len(steps) > 0 {
		res.inParallel(steps...)
	}
}

// installSteps check the Deployments and verdicts that show the gateway runs.
func installSteps(ctx context.Context, env *clusterEnv, in provider.Install) []func(*result) {
	gw := env.cluster.Spec.Gateway
	ns := env.gatewayNamespace()
	var steps []func(*result)
	for _, d := range in.Deployments {
		name := d.Name
		if name == "" {
			name = gw.Name
		}
		steps = append(steps, func(r *result) { deploymentAvailable(ctx, env, r, ns, name, d.What) })
	}
	for _, v := range in.Verdicts {
		vns, name := ns, gw.Name
		if v.Of == provider.ObjectClass {
			vns, name = "", gw.ClassName
		}
		steps = append(steps, func(r *result) {
			if m := env.mapping(v.Kind.GroupKind()); m != nil {
				verdict(ctx, env, r, m.Resource, vns, name, v.Kind.Kind, v.Condition, v.Hint)
			}
		})
	}
	return steps
}

// deploymentAvailable needs the Deployment to exist with condition Available=True.
func deploymentAvailable(ctx context.Context, env *clusterEnv, res *result, ns, name, what string) {
	ref := objRef("Deployment", ns, name)
	d, err := env.deployment(ctx, ns, name)
	if err != nil {
		if isNotFound(err) {
			res.objFail(ref, fmt.Sprintf("%s (Deployment %s/%s) does not exist", what, ns, name),
				fmt.Sprintf("install the gateway, or correct spec.gateway.namespace/name of Cluster %s", env.cluster.Name()))
			return
		}
		res.objFail(ref, fmt.Sprintf("read Deployment %s/%s: %v", ns, name, err), rbacHint("get deployments", ns))
		return
	}
	cond := deploymentCondition(d, appsv1.DeploymentAvailable)
	switch {
	case cond != nil && cond.Status == corev1.ConditionTrue:
		res.objInfo(ref, fmt.Sprintf("%s is Available (%d/%d replicas ready)", what, d.Status.ReadyReplicas, replicas(d)))
	case cond == nil:
		res.objFail(ref, fmt.Sprintf("%s (Deployment %s/%s) reports no Available condition yet", what, ns, name),
			fmt.Sprintf("kubectl -n %s rollout status deployment/%s", ns, name))
	default:
		msg := fmt.Sprintf("%s (Deployment %s/%s) is not Available", what, ns, name)
		if cond.Reason != "" {
			msg += " (" + cond.Reason + ")"
		}
		if cond.Message != "" {
			msg += ": " + cond.Message
		}
		res.objFail(ref, msg, fmt.Sprintf("kubectl -n %s describe deployment %s; look at its pods' events", ns, name))
	}
}

func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// verdict reads a Gateway API object and needs its controller to have set
// the condition to True.
func verdict(ctx context.Context, env *clusterEnv, res *result, gvr schema.GroupVersionResource, ns, name, kind, cond, hint string) {
	ref := objRef(kind, ns, name)
	var ri dynamic.ResourceInterface = env.dyn.Resource(gvr)
	if ns != "" {
		ri = env.dyn.Resource(gvr).Namespace(ns)
	}
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		reportVerdict(res, ref, cond, status.Of(u), hint)
		return
	}
	if err != nil {
		if isNotFound(err) {
			res.objFail(ref, fmt.Sprintf("%s %s does not exist", kind, strings.TrimPrefix(ref, kind+" ")),
				fmt.Sprintf("create it, or correct spec.gateway of Cluster %s", env.cluster.Name()))
			return
		}
		res.objFail(ref, fmt.Sprintf("read %s: %v", ref, err), rbacHint("get "+gvr.Resource, ns))
	}
}

func reportVerdict(res *result, ref, cond string, v status.Result, hint string) {
	switch v.State {
	case status.Accepted:
		res.objInfo(ref, fmt.Sprintf("%s is %s", ref, cond))
	case status.Rejected:
		res.objFail(ref, fmt.Sprintf("%s is not %s: %s", ref, cond, v.Reason), hint)
	default:
		reason := v.Reason
		if reason == "" {
			reason = "no controller has reported on it"
		}
		res.objFail(ref, fmt.Sprintf("%s is not %s yet: %s", ref, cond, reason), hint)
	}
}

func rbacHint(verb, ns string) string {
	where := "cluster-wide"
	if ns != "" {
		where = "in namespace " + ns
	}
	return fmt.Sprintf("the identity in the kubeconfig needs %q %s (see docs/checks.md for the RBAC each check needs)", verb, where)
}
