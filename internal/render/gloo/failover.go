package gloo

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/gloo/gloov1"
)

// failoverGateway renders, on a failover target, a local-only Upstream per
// served service and the TCP Gateway that terminates failover TLS and sends
// each SNI to its local-only Upstream. A local-only Upstream never has a
// failover block, so failover traffic is never sent on to another cluster.
func (r *renderer) failoverGateway() error {
	c := r.In.Cluster
	if !c.FailoverTarget() || len(r.In.Served) == 0 {
		return nil
	}
	if c.Spec.Gateway.Name == "" {
		return fmt.Errorf("spec.gateway.name is empty")
	}
	served := r.In.ServedBySNI(func(kept, dropped *fleet.GlobalService, sni string) {
		r.Warnf("GlobalServices %s and %s name the same Service port (SNI %s); failover traffic for both reaches %s's local Upstream",
			kept.Key(), dropped.Key(), sni, kept.Key())
	})
	var hosts []gloov1.TCPHost
	for _, s := range served {
		sni := render.FailoverSNI(s)
		twin := &gloov1.Upstream{
			TypeMeta: metav1.TypeMeta{APIVersion: gloov1.GlooGroupVersion, Kind: gloov1.KindUpstream},
			ObjectMeta: r.meta(LocalUpstreamName(s), map[string]string{
				render.AnnotationTiers: r.Cluster,
			}),
			Spec: gloov1.UpstreamSpec{Kube: kubeUpstream(s)},
		}
		if _, err := r.emit(twin, gloov1.KindUpstream, twin.Name, fleet.KindGlobalService, s.Metadata.Namespace, s.Metadata.Name); err != nil {
			return err
		}
		hosts = append(hosts, gloov1.TCPHost{
			Name: twin.Name,
			SslConfig: &gloov1.DownstreamSslConfig{
				SecretRef:  &gloov1.ResourceRef{Name: render.FailoverDownstreamSecret, Namespace: r.ns},
				SniDomains: []string{sni},
			},
			Destination: gloov1.TCPDestination{Single: &gloov1.Destination{
				Upstream: gloov1.ResourceRef{Name: twin.Name, Namespace: r.ns},
			}},
		})
	}
	gw := &gloov1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gloov1.GatewayGroupVersion, Kind: gloov1.KindGateway},
		ObjectMeta: r.meta(FailoverGatewayName, nil),
		Spec: gloov1.GatewaySpec{
			BindAddress: bindAddress(c.Spec.Gateway),
			BindPort:    uint32(c.FailoverPort()),
			ProxyNames:  []string{c.Spec.Gateway.Name},
			TCPGateway:  &gloov1.TCPGateway{TCPHosts: hosts},
		},
	}
	_, err := r.emit(gw, gloov1.KindGateway, gw.Name, fleet.KindCluster, "", r.Cluster)
	return err
}
