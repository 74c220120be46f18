package istio

import (
	networking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// failoverGateway renders the Gateway other clusters fail over to: on the
// failover port, one server per served SNI, each terminating mutual TLS with
// the failover-downstream credential (its ca.crt verifies the clients). One
// server per SNI, never a wildcard: Istio builds one filter chain per server,
// and with a shared server the first VirtualService would take every SNI.
func (r *renderer) failoverGateway() (*unstructured.Unstructured, error) {
	c := r.In.Cluster
	gw := &networkingv1.Gateway{
		ObjectMeta: meta(r.Gateway.Namespace, FailoverGatewayName),
	}
	gw.Spec.Selector = r.Gateway.Selector
	for _, s := range r.served {
		gw.Spec.Servers = append(gw.Spec.Servers, &networking.Server{
			Port: &networking.Port{
				Number:   uint32(c.FailoverPort()),
				Name:     "tls-" + render.DNSLabel(s.ServiceName()+"-"+itoa(s.Spec.Port)+"-"+s.Metadata.Namespace),
				Protocol: "TLS",
			},
			Hosts: []string{render.FailoverSNI(s)},
			Tls: &networking.ServerTLSSettings{
				Mode:           networking.ServerTLSSettings_MUTUAL,
				CredentialName: render.FailoverDownstreamSecret,
			},
		})
	}
	obj, err := gatewayObject(gw)
	return stamp(obj, err, r.Cluster, fleet.KindCluster, "", r.Cluster)
}

// serversOnPort counts the servers of a Gateway listening on port.
func serversOnPort(gw *unstructured.Unstructured, port int32) int {
	servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
	n := 0
	for _, s := range servers {
		sm, _ := s.(map[string]any)
		if p, _, _ := unstructured.NestedInt64(sm, "port", "number"); p == int64(port) {
			n++
		}
	}
	return n
}

// failoverVirtualService sends a served SNI, once its TLS is terminated, to
// the local Service only (a tcp route: Istio routes terminated TLS as TCP),
// never to a ServiceEntry of tiers, so failover traffic cannot fail over again.
func (r *renderer) failoverVirtualService(s *fleet.GlobalService) (*unstructured.Unstructured, error) {
	vs := &networkingv1.VirtualService{
		ObjectMeta: meta(r.Gateway.Namespace, r.names.Name(KindVirtualService, r.Gateway.Namespace, failoverParts(s)...)),
	}
	vs.Spec.Hosts = []string{render.FailoverSNI(s)}
	vs.Spec.Gateways = []string{r.Gateway.Namespace + "/" + FailoverGatewayName}
	vs.Spec.ExportTo = []string{"."}
	vs.Spec.Tcp = []*networking.TCPRoute{{
		Route: []*networking.RouteDestination{{
			Destination: &networking.Destination{
				Host: r.localHost(s),
				Port: &networking.PortSelector{Number: uint32(s.Spec.Port)},
			},
		}},
	}}
	obj, err := virtualServiceObject(vs)
	return stamp(obj, err, r.Cluster, fleet.KindGlobalService, s.Metadata.Namespace, s.Metadata.Name)
}
