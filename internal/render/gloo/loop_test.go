package gloo

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
	"github.com/gatefed/gatefed/internal/render"
)

// TestLoopFreedom checks, for every cluster of several fleets, that failover
// traffic arriving at a target only reaches local endpoints: every tcpHost of
// a failover Gateway sends to a kube Upstream without failover, for the
// Service its SNI names. It also follows every failover hop a source cluster
// renders to the target's Gateway, so each hop ends on such a tcpHost.
func TestLoopFreedom(t *testing.T) {
	for name, tc := range map[string]struct {
		fleet *fleet.Fleet
		avail plan.Availability
	}{
		"shop":             {fleet: shopFleet()},
		"shop, east2 down": {fleet: shopFleet(), avail: unavailable{{"shop/checkout", "east2"}: "down", {"shop/payments", "east2"}: "down"}},
		"everything everywhere": {fleet: func() *fleet.Fleet {
			f := shopFleet()
			for _, s := range f.Services {
				s.Spec.Clusters = nil
			}
			return f
		}()},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := render.Render(tc.fleet, render.Options{Availability: tc.avail})
			if err != nil {
				t.Fatal(err)
			}
			gateways := map[string]map[string]bool{} // "address:port" -> SNIs accepted there
			hops := 0
			for _, out := range res.Clusters {
				c := out.Cluster
				for _, gw := range byKind(out.Objects, "Gateway") {
					port, _, _ := unstructured.NestedInt64(gw.Object, "spec", "bindPort")
					accepted := map[string]bool{}
					hosts, _, _ := unstructured.NestedSlice(gw.Object, "spec", "tcpGateway", "tcpHosts")
					if len(hosts) == 0 {
						t.Errorf("%s: Gateway %s has no tcpHosts", c.Name(), gw.GetName())
					}
					for _, h := range hosts {
						host := h.(map[string]any)
						snis, _, _ := unstructured.NestedStringSlice(host, "sslConfig", "sniDomains")
						name, _, _ := unstructured.NestedString(host, "destination", "single", "upstream", "name")
						ns, _, _ := unstructured.NestedString(host, "destination", "single", "upstream", "namespace")
						up := lookupObject(out.Objects, "Upstream", ns, name)
						if up == nil {
							t.Errorf("%s: tcpHost %v sends to missing Upstream %s/%s", c.Name(), snis, ns, name)
							continue
						}
						if _, has := up.Object["spec"].(map[string]any)["failover"]; has {
							t.Errorf("%s: tcpHost %v sends to Upstream %s, which fails over again", c.Name(), snis, name)
						}
						kube, isKube, _ := unstructured.NestedMap(up.Object, "spec", "kube")
						if !isKube {
							t.Errorf("%s: tcpHost %v sends to Upstream %s, which is not a kube Upstream", c.Name(), snis, name)
							continue
						}
						if _, static := up.Object["spec"].(map[string]any)["static"]; static {
							t.Errorf("%s: Upstream %s is both kube and static", c.Name(), name)
						}
						want := fmt.Sprintf("%s-%d.%s.%s", kube["serviceName"], kube["servicePort"], kube["serviceNamespace"], render.FailoverDomain)
						if len(snis) != 1 || snis[0] != want {
							t.Errorf("%s: tcpHost for %s accepts %v, want [%s]", c.Name(), name, snis, want)
						}
						for _, s := range snis {
							accepted[s] = true
						}
					}
					gateways[fmt.Sprintf("%s:%d", c.Spec.Failover.Address, port)] = accepted
				}
			}
			for _, out := range res.Clusters {
				for _, up := range byKind(out.Objects, "Upstream") {
					for _, hop := range failoverHops(up) {
						hops++
						accepted, ok := gateways[hop.target]
						if !ok {
							t.Errorf("%s: Upstream %s fails over to %s, where no failover Gateway listens", out.Cluster.Name(), up.GetName(), hop.target)
							continue
						}
						if !accepted[hop.sni] {
							t.Errorf("%s: Upstream %s fails over to %s with SNI %s, which that Gateway does not accept", out.Cluster.Name(), up.GetName(), hop.target, hop.sni)
						}
					}
				}
			}
			if hops == 0 || len(gateways) == 0 {
				t.Fatalf("fleet rendered %d failover hops and %d Gateways; nothing was checked", hops, len(gateways))
			}
		})
	}
}

type hop struct{ target, sni string }

// failoverHops are the remote endpoints an Upstream sends to: a static host
// and every failover endpoint.
func failoverHops(up *unstructured.Unstructured) []hop {
	var hops []hop
	sni, _, _ := unstructured.NestedString(up.Object, "spec", "sslConfig", "sni")
	hosts, _, _ := unstructured.NestedSlice(up.Object, "spec", "static", "hosts")
	for _, h := range hosts {
		host := h.(map[string]any)
		hops = append(hops, hop{target: fmt.Sprintf("%s:%d", host["addr"], host["port"]), sni: sni})
	}
	prios, _, _ := unstructured.NestedSlice(up.Object, "spec", "failover", "prioritizedLocalities")
	for _, p := range prios {
		les, _, _ := unstructured.NestedSlice(p.(map[string]any), "localityEndpoints")
		for _, le := range les {
			eps, _, _ := unstructured.NestedSlice(le.(map[string]any), "lbEndpoints")
			for _, e := range eps {
				ep := e.(map[string]any)
				epSNI, _, _ := unstructured.NestedString(ep, "upstreamSslConfig", "sni")
				hops = append(hops, hop{target: fmt.Sprintf("%s:%d", ep["address"], ep["port"]), sni: epSNI})
			}
		}
	}
	return hops
}

func byKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func lookupObject(objs []*unstructured.Unstructured, kind, ns, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	return nil
}
