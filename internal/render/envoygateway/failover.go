package envoygateway

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// failoverGateway renders the Gateway other clusters fail over to: one TLS
// listener on the failover port terminating with the failover-downstream
// certificate, and the ClientTrafficPolicy that makes it require a client
// certificate signed by the CA in that same Secret.
//
// Envoy Gateway applies the Gateway API's spec.tls.frontend client
// validation to HTTPS listeners only, so a TLS listener gets its client
// validation from a ClientTrafficPolicy.
func (r *renderer) failoverGateway() (ctp, gw *unstructured.Unstructured, err error) {
	c := r.In.Cluster
	downstream := gwapiv1.SecretObjectReference{
		Group: ptrTo(coreGroup),
		Kind:  ptrTo(kindSecret),
		Name:  render.FailoverDownstreamSecret,
	}
	g := &gwapiv1.Gateway{
		TypeMeta: metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: string(kindGateway)},
		ObjectMeta: metav1.ObjectMeta{
			Name:      FailoverGatewayName,
			Namespace: r.Gateway.Namespace,
		},
		Spec: gwapiv1.GatewaySpec{
			GatewayClassName: gwapiv1.ObjectName(r.Gateway.ClassName),
			Listeners: []gwapiv1.Listener{{
				Name:     FailoverListenerName,
				Port:     gwapiv1.PortNumber(c.FailoverPort()),
				Protocol: gwapiv1.TLSProtocolType,
				TLS: &gwapiv1.ListenerTLSConfig{
					Mode:            ptrTo(gwapiv1.TLSModeTerminate),
					CertificateRefs: []gwapiv1.SecretObjectReference{downstream},
				},
				AllowedRoutes: &gwapiv1.AllowedRoutes{
					Namespaces: &gwapiv1.RouteNamespaces{From: ptrTo(gwapiv1.NamespacesFromSame)},
					Kinds:      []gwapiv1.RouteGroupKind{{Group: ptrTo(gatewayGroup), Kind: kindTLSRoute}},
				},
			}},
		},
	}
	if gw, err = r.object(g, fleet.KindCluster, "", r.Cluster); err != nil {
		return nil, nil, err
	}

	p := &egv1a1.ClientTrafficPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindClientTrafficPolicy},
		ObjectMeta: metav1.ObjectMeta{
			Name:      FailoverPolicyName,
			Namespace: r.Gateway.Namespace,
		},
	}
	p.Spec.TargetRefs = []gwapiv1.LocalPolicyTargetReferenceWithSectionName{{
		LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{
			Group: gatewayGroup,
			Kind:  kindGateway,
			Name:  FailoverGatewayName,
		},
		SectionName: ptrTo(gwapiv1.SectionName(FailoverListenerName)),
	}}
	p.Spec.TLS = &egv1a1.ClientTLSSettings{
		ClientValidation: &egv1a1.ClientValidationContext{
			Mode:              ptrTo(egv1a1.ClientValidationRequireAndVerify),
			CACertificateRefs: []gwapiv1.SecretObjectReference{downstream},
		},
	}
	if ctp, err = r.object(p, fleet.KindCluster, "", r.Cluster); err != nil {
		return nil, nil, err
	}
	return ctp, gw, nil
}

// tlsRoutes renders one TLSRoute per served service: the service's SNI on the
// failover listener goes to the local Service only, never to a Backend, so
// failover traffic cannot fail over again.
func (r *renderer) tlsRoutes() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, s := range r.served {
		tr := &gwapiv1.TLSRoute{
			TypeMeta: metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: kindTLSRoute},
			ObjectMeta: metav1.ObjectMeta{
				Name:      r.names.Name(kindTLSRoute, r.Gateway.Namespace, s.Metadata.Namespace, s.Metadata.Name),
				Namespace: r.Gateway.Namespace,
			},
		}
		tr.Spec.ParentRefs = []gwapiv1.ParentReference{{
			Group:       ptrTo(gatewayGroup),
			Kind:        ptrTo(kindGateway),
			Name:        FailoverGatewayName,
			SectionName: ptrTo(gwapiv1.SectionName(FailoverListenerName)),
		}}
		tr.Spec.Hostnames = []gwapiv1.Hostname{gwapiv1.Hostname(render.FailoverSNI(s))}
		tr.Spec.Rules = []gwapiv1.TLSRouteRule{{
			BackendRefs: []gwapiv1.BackendRef{{
				BackendObjectReference: gwapiv1.BackendObjectReference{
					Group:     ptrTo(coreGroup),
					Kind:      ptrTo(kindService),
					Name:      gwapiv1.ObjectName(s.ServiceName()),
					Namespace: ptrTo(gwapiv1.Namespace(s.Metadata.Namespace)),
					Port:      ptrTo(gwapiv1.PortNumber(s.Spec.Port)),
				},
				Weight: ptrTo(int32(1)),
			}},
		}}
		obj, err := r.object(tr, fleet.KindGlobalService, s.Metadata.Namespace, s.Metadata.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}
