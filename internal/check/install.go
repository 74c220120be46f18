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

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/status"
)

// crd is a CustomResourceDefinition a provider needs.
type crd struct {
	Group, Kind, Plural string
}

func (c crd) name() string         { return c.Plural + "." + c.Group }
func (c crd) gk() schema.GroupKind { return schema.GroupKind{Group: c.Group, Kind: c.Kind} }

// Groups of the kinds gatefed reads and writes.
const (
	groupGloo       = "gloo.solo.io"
	groupGlooGW     = "gateway.solo.io"
	groupGatewayAPI = "gateway.networking.k8s.io"
	groupEG         = "gateway.envoyproxy.io"
	groupIstio      = "networking.istio.io"
)

// providerCRDs are the CRDs each provider's objects need.
var providerCRDs = map[string][]crd{
	fleet.ProviderGloo: {
		{groupGloo, "Upstream", "upstreams"},
		{groupGlooGW, "VirtualService", "virtualservices"},
		{groupGlooGW, "Gateway", "gateways"},
	},
	fleet.ProviderEnvoyGateway: {
		{groupGatewayAPI, "GatewayClass", "gatewayclasses"},
		{groupGatewayAPI, "Gateway", "gateways"},
		{groupGatewayAPI, "HTTPRoute", "httproutes"},
		{groupGatewayAPI, "TLSRoute", "tlsroutes"},
		{groupGatewayAPI, "ReferenceGrant", "referencegrants"},
		{groupEG, "Backend", "backends"},
		{groupEG, "BackendTrafficPolicy", "backendtrafficpolicies"},
		{groupEG, "ClientTrafficPolicy", "clienttrafficpolicies"},
		{groupEG, "EnvoyExtensionPolicy", "envoyextensionpolicies"},
	},
	fleet.ProviderIstio: {
		{groupIstio, "Gateway", "gateways"},
		{groupIstio, "VirtualService", "virtualservices"},
		{groupIstio, "DestinationRule", "destinationrules"},
		{groupIstio, "ServiceEntry", "serviceentries"},
	},
}

// installHint says how to install each provider.
var installHint = map[string]string{
	fleet.ProviderGloo:         "install Gloo Edge in the cluster (helm install gloo gloo/gloo -n gloo-system --create-namespace), which installs its CRDs",
	fleet.ProviderEnvoyGateway: "install Envoy Gateway (helm install eg oci://docker.io/envoyproxy/gateway-helm -n envoy-gateway-system --create-namespace), which installs the Gateway API and Envoy Gateway CRDs; TLSRoute needs the experimental Gateway API channel",
	fleet.ProviderIstio:        "install Istio with an ingress gateway (istioctl install), which installs the networking.istio.io CRDs",
}

// GlooControllerDeployment is the Deployment of Gloo's control plane.
const GlooControllerDeployment = "gloo"

func checkGatewayInstall(ctx context.Context, env *clusterEnv, res *result) {
	provider := env.cluster.Spec.Gateway.Provider
	var missing []string
	for _, c := range providerCRDs[provider] {
		if env.mapping(c.gk()) == nil {
			missing = append(missing, c.name())
		}
	}
	if len(missing) > 0 {
		res.fail(fmt.Sprintf("the %s CRDs %s are not installed: the API does not serve them", provider, strings.Join(missing, ", ")),
			installHint[provider])
	} else {
		res.info(fmt.Sprintf("the %s CRDs are installed", provider))
	}

	ns := env.gatewayNamespace()
	switch provider {
	case fleet.ProviderGloo:
		res.inParallel(
			func(r *result) {
				deploymentAvailable(ctx, env, r, ns, GlooControllerDeployment, "Gloo's control plane")
			},
			func(r *result) {
				deploymentAvailable(ctx, env, r, ns, env.cluster.Spec.Gateway.Name, "the gateway proxy")
			},
		)
	case fleet.ProviderEnvoyGateway:
		className := env.cluster.Spec.Gateway.ClassName
		gc := crd{groupGatewayAPI, "GatewayClass", "gatewayclasses"}
		gw := crd{groupGatewayAPI, "Gateway", "gateways"}
		res.inParallel(
			func(r *result) {
				if m := env.mapping(gc.gk()); m != nil {
					verdict(ctx, env, r, m.Resource, "", className, "GatewayClass", "Accepted",
						"check the Envoy Gateway controller's logs and that the GatewayClass's spec.controllerName is gateway.envoyproxy.io/gatewayclass-controller")
				}
			},
			func(r *result) {
				if m := env.mapping(gw.gk()); m != nil {
					verdict(ctx, env, r, m.Resource, ns, env.cluster.Spec.Gateway.Name, "Gateway", "Programmed",
						"describe the Gateway (kubectl describe gateway) and check that its class is accepted and its listeners are valid")
				}
			},
		)
	}
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
