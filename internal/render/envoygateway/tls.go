package envoygateway

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/gatefed/gatefed/internal/fleet"
)

// httpsPort is the port of the HTTPS listeners gatefed adds for a route's hosts.
const httpsPort = 443

// httpsRedirectSuffix names the HTTPRoute that redirects a TLS route's plain HTTP.
const httpsRedirectSuffix = "https-redirect"

// A GlobalRoute with tls is served through a ListenerSet attached to the
// cluster's Gateway: one HTTPS listener per host, terminating TLS with the
// route's Secret (in the gateway namespace). Its HTTPRoute attaches to that
// ListenerSet only, so the hosts are not served over plain HTTP; with
// httpsRedirect a second HTTPRoute on the Gateway answers plain HTTP on the
// hosts with a 301 to https. The Gateway must admit ListenerSets from its
// namespace (spec.allowedListeners).

func (r *renderer) listenerSetName(route *fleet.GlobalRoute) string {
	return r.names.Name(kindListenerSet, r.Gateway.Namespace, route.Metadata.Namespace, route.Metadata.Name)
}

// routeParents are an HTTPRoute's parents: the route's ListenerSet when it
// has tls, else the cluster's Gateway.
func (r *renderer) routeParents(route *fleet.GlobalRoute) []gwapiv1.ParentReference {
	if route.Spec.TLS != nil {
		return []gwapiv1.ParentReference{{
			Group: ptrTo(gatewayGroup),
			Kind:  ptrTo(gwapiv1.Kind(kindListenerSet)),
			Name:  gwapiv1.ObjectName(r.listenerSetName(route)),
		}}
	}
	return []gwapiv1.ParentReference{{
		Group: ptrTo(gatewayGroup),
		Kind:  ptrTo(kindGateway),
		Name:  gwapiv1.ObjectName(r.Gateway.Name),
	}}
}

// tlsObjects renders a TLS route's ListenerSet and, with httpsRedirect, its
// redirect HTTPRoute.
func (r *renderer) tlsObjects(route *fleet.GlobalRoute) (listenerSet, redirect *unstructured.Unstructured, err error) {
	t := route.Spec.TLS
	if t == nil {
		return nil, nil, nil
	}
	ls := &gwapiv1.ListenerSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: kindListenerSet},
		ObjectMeta: metav1.ObjectMeta{Name: r.listenerSetName(route), Namespace: r.Gateway.Namespace},
	}
	ls.Spec.ParentRef = gwapiv1.ParentGatewayReference{
		Group: ptrTo(gatewayGroup),
		Kind:  ptrTo(kindGateway),
		Name:  gwapiv1.ObjectName(r.Gateway.Name),
	}
	for i, h := range route.Spec.Hosts {
		var hostname *gwapiv1.Hostname
		if !route.CatchAll() { // a listener without a hostname takes every host
			hostname = ptrTo(gwapiv1.Hostname(h))
		}
		ls.Spec.Listeners = append(ls.Spec.Listeners, gwapiv1.ListenerEntry{
			Name:     gwapiv1.SectionName(fmt.Sprintf("https-%d", i)),
			Hostname: hostname,
			Port:     httpsPort,
			Protocol: gwapiv1.HTTPSProtocolType,
			TLS: &gwapiv1.ListenerTLSConfig{
				Mode: ptrTo(gwapiv1.TLSModeTerminate),
				CertificateRefs: []gwapiv1.SecretObjectReference{{
					Group: ptrTo(coreGroup), Kind: ptrTo(kindSecret), Name: gwapiv1.ObjectName(t.SecretName),
				}},
			},
		})
	}
	if listenerSet, err = r.object(ls, fleet.KindGlobalRoute, route.Metadata.Namespace, route.Metadata.Name); err != nil {
		return nil, nil, err
	}
	if !t.HTTPSRedirect {
		return listenerSet, nil, nil
	}
	hr := &gwapiv1.HTTPRoute{
		TypeMeta: metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: kindHTTPRoute},
		ObjectMeta: metav1.ObjectMeta{
			Name:      r.names.Name(kindHTTPRoute, r.Gateway.Namespace, route.Metadata.Namespace, route.Metadata.Name, httpsRedirectSuffix),
			Namespace: r.Gateway.Namespace,
		},
	}
	hr.Spec.ParentRefs = []gwapiv1.ParentReference{{Group: ptrTo(gatewayGroup), Kind: ptrTo(kindGateway), Name: gwapiv1.ObjectName(r.Gateway.Name)}}
	hr.Spec.Hostnames = hostnames(route)
	hr.Spec.Rules = []gwapiv1.HTTPRouteRule{{
		Filters: []gwapiv1.HTTPRouteFilter{{
			Type:            gwapiv1.HTTPRouteFilterRequestRedirect,
			RequestRedirect: &gwapiv1.HTTPRequestRedirectFilter{Scheme: ptrTo("https"), StatusCode: ptrTo(301)},
		}},
	}}
	if redirect, err = r.object(hr, fleet.KindGlobalRoute, route.Metadata.Namespace, route.Metadata.Name); err != nil {
		return nil, nil, err
	}
	return listenerSet, redirect, nil
}
