package render_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestFailoverNeverLoops checks the wire contract on every example fleet
// (the mixed ones included), for every provider: whatever a failover
// listener accepts goes to local endpoints only, never to a destination with
// failover tiers of its own.
func TestFailoverNeverLoops(t *testing.T) {
	listeners := 0
	for _, dir := range fleetDirs(t) {
		res, _ := renderDir(t, dir)
		for _, c := range res.Clusters {
			byKey := map[string]*unstructured.Unstructured{}
			for _, o := range c.Objects {
				byKey[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = o
			}
			for _, o := range c.Objects {
				switch {
				case o.GetKind() == "Gateway" && o.GroupVersionKind().Group == "gateway.solo.io":
					hosts, _, _ := unstructured.NestedSlice(o.Object, "spec", "tcpGateway", "tcpHosts")
					for _, h := range hosts {
						listeners++
						name, _, _ := unstructured.NestedString(h.(map[string]any), "destination", "single", "upstream", "name")
						ns, _, _ := unstructured.NestedString(h.(map[string]any), "destination", "single", "upstream", "namespace")
						up := byKey["Upstream/"+ns+"/"+name]
						if up == nil {
							t.Errorf("%s %s: tcpHost sends to missing Upstream %s/%s", dir, c.Cluster.Name(), ns, name)
							continue
						}
						if _, has := up.Object["spec"].(map[string]any)["failover"]; has {
							t.Errorf("%s %s: tcpHost sends to Upstream %s with failover: a loop", dir, c.Cluster.Name(), name)
						}
						if _, kube := up.Object["spec"].(map[string]any)["kube"]; !kube {
							t.Errorf("%s %s: tcpHost sends to Upstream %s that is not a local kube upstream", dir, c.Cluster.Name(), name)
						}
					}
				case o.GetKind() == "VirtualService" && o.GroupVersionKind().Group == "networking.istio.io":
					gws, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "gateways")
					if len(gws) != 1 || !strings.HasSuffix(gws[0], "/gatefed-failover") {
						continue
					}
					listeners++
					if _, has := o.Object["spec"].(map[string]any)["http"]; has {
						t.Errorf("%s %s: failover VirtualService %s has http routes", dir, c.Cluster.Name(), o.GetName())
					}
					routes, _, _ := unstructured.NestedSlice(o.Object, "spec", "tcp")
					for _, r := range routes {
						dests, _, _ := unstructured.NestedSlice(r.(map[string]any), "route")
						for _, d := range dests {
							host, _, _ := unstructured.NestedString(d.(map[string]any), "destination", "host")
							if !strings.HasSuffix(host, ".svc."+c.Cluster.Domain()) {
								t.Errorf("%s %s: failover VirtualService %s sends to %s: not a local Service", dir, c.Cluster.Name(), o.GetName(), host)
							}
						}
						if len(dests) != 1 {
							t.Errorf("%s %s: failover VirtualService %s has %d destinations, want the one local Service", dir, c.Cluster.Name(), o.GetName(), len(dests))
						}
					}
				case o.GetKind() == "TLSRoute":
					listeners++
					rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
					for _, r := range rules {
						refs, _, _ := unstructured.NestedSlice(r.(map[string]any), "backendRefs")
						for _, ref := range refs {
							m := ref.(map[string]any)
							if m["kind"] != "Service" || m["group"] != "" {
								t.Errorf("%s %s: TLSRoute %s sends to %v %v: not a local Service", dir, c.Cluster.Name(), o.GetName(), m["group"], m["kind"])
							}
						}
					}
				}
			}
		}
	}
	if listeners < 10 {
		t.Fatalf("only %d failover destinations checked", listeners)
	}
}
