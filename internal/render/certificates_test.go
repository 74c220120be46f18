package render_test

import (
	"reflect"
	"testing"

	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
)

// spec.failoverCertificates makes every provider's cluster render two
// cert-manager Certificates in its gateway namespace, the serving one for
// the SNIs the cluster serves; without it none is rendered.
func TestFailoverCertificates(t *testing.T) {
	issuer := "{issuerRef: {name: fleet-ca, kind: ClusterIssuer}, duration: 2160h, renewBefore: 360h}"
	f := fleettest.Load(t, fleettest.YAML(
		fleettest.Cluster("gloo-1", "gloo").Failover("203.0.113.1", 0).Spec("failoverCertificates", issuer),
		fleettest.Cluster("eg-1", "envoy-gateway").Failover("203.0.113.2", 0).Spec("failoverCertificates", issuer),
		fleettest.Cluster("plain", "envoy-gateway").Failover("203.0.113.3", 0),
		fleettest.Service("shop", "checkout", 8080).On("gloo-1", "eg-1").HealthCheck(),
		fleettest.Service("shop", "cart", 80).On("eg-1").HealthCheck(),
		fleettest.Route("shop", "shop", "shop.example.com").To("checkout"),
	))
	res, err := render.Render(f, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"gloo-1": {"checkout-8080.shop.failover.gatefed.internal"},
		"eg-1":   {"cart-80.shop.failover.gatefed.internal", "checkout-8080.shop.failover.gatefed.internal"},
	}
	for _, out := range res.Clusters {
		var got []map[string]any
		for _, o := range out.Objects {
			if o.GetKind() == render.KindCertificate {
				if o.GetNamespace() != out.Cluster.Spec.Gateway.Namespace || o.GetLabels()[render.LabelManagedBy] != render.ManagedByValue {
					t.Errorf("%s: Certificate %s/%s labels %v", out.Cluster.Name(), o.GetNamespace(), o.GetName(), o.GetLabels())
				}
				got = append(got, o.Object["spec"].(map[string]any))
			}
		}
		name := out.Cluster.Name()
		if name == "plain" {
			if len(got) != 0 {
				t.Errorf("plain has no failoverCertificates but renders %v", got)
			}
			continue
		}
		if len(got) != 2 {
			t.Fatalf("%s: %d Certificates", name, len(got))
		}
		byName := map[string]map[string]any{}
		for _, s := range got {
			byName[s["secretName"].(string)] = s
		}
		up, down := byName[render.FailoverUpstreamSecret], byName[render.FailoverDownstreamSecret]
		if !reflect.DeepEqual(up["usages"], []any{"digital signature", "key encipherment", "client auth"}) || up["commonName"] != name || up["dnsNames"] != nil {
			t.Errorf("%s: upstream %v", name, up)
		}
		var dns []string
		for _, d := range down["dnsNames"].([]any) {
			dns = append(dns, d.(string))
		}
		if !reflect.DeepEqual(dns, want[name]) || down["duration"] != "2160h" || down["renewBefore"] != "360h" ||
			!reflect.DeepEqual(down["issuerRef"], map[string]any{"name": "fleet-ca", "kind": "ClusterIssuer"}) {
			t.Errorf("%s: downstream %v", name, down)
		}
	}
}
