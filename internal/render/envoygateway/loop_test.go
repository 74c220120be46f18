package envoygateway

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
)

// Traffic that arrives on a failover listener must end at the target's own
// Service: every TLSRoute attaches only to the failover listener and sends
// only to core Services of services placed on that cluster, the failover
// listener admits nothing but TLSRoutes, and no HTTPRoute (which may hold
// Backends) attaches to the failover Gateway. So a request crosses clusters
// at most once.
func TestFailoverListenerIsLoopFree(t *testing.T) {
	checked := 0
	for name, f := range sampleFleets() {
		for _, c := range f.Clusters {
			objs, _ := renderCluster(t, f, c.Name())
			ns := c.Spec.Gateway.Namespace
			placed := map[string]bool{}
			for _, s := range f.Services {
				if s.Spec.Clusters.Matches(c) {
					placed[s.Metadata.Namespace+"/"+s.ServiceName()] = true
				}
			}

			for _, gw := range ofKind(objs, "Gateway") {
				if gw.GetName() != FailoverGatewayName {
					t.Errorf("%s/%s: unexpected Gateway %s", name, c.Name(), gw.GetName())
				}
				listeners, _ := unstructuredSlice(gw, "spec", "listeners")
				for i := range listeners {
					kinds, ok := fieldAt(gw.Object, "spec", "listeners", itoa(i), "allowedRoutes", "kinds")
					if !ok {
						t.Errorf("%s/%s: failover listener %d admits every route kind", name, c.Name(), i)
						continue
					}
					for _, k := range kinds.([]any) {
						if k.(map[string]any)["kind"] != "TLSRoute" {
							t.Errorf("%s/%s: failover listener admits %v", name, c.Name(), k)
						}
					}
				}
			}

			for _, hr := range ofKind(objs, "HTTPRoute") {
				for _, p := range parentRefs(hr) {
					if p["name"] == FailoverGatewayName {
						t.Errorf("%s/%s: HTTPRoute %s attaches to the failover Gateway", name, c.Name(), hr.GetName())
					}
				}
			}

			for _, tr := range ofKind(objs, "TLSRoute") {
				checked++
				for _, p := range parentRefs(tr) {
					if p["name"] != FailoverGatewayName || p["sectionName"] != FailoverListenerName || p["kind"] != "Gateway" {
						t.Errorf("%s/%s: TLSRoute %s attaches to %v", name, c.Name(), tr.GetName(), p)
					}
				}
				rules, _ := unstructuredSlice(tr, "spec", "rules")
				if len(rules) == 0 {
					t.Errorf("%s/%s: TLSRoute %s has no rules", name, c.Name(), tr.GetName())
				}
				for _, rule := range rules {
					refs, _ := rule.(map[string]any)["backendRefs"].([]any)
					if len(refs) == 0 {
						t.Errorf("%s/%s: TLSRoute %s rule without backends", name, c.Name(), tr.GetName())
					}
					for _, r := range refs {
						ref := r.(map[string]any)
						if ref["group"] != "" || ref["kind"] != "Service" {
							t.Errorf("%s/%s: TLSRoute %s sends to %v/%v %v, not a core Service", name, c.Name(), tr.GetName(), ref["group"], ref["kind"], ref["name"])
						}
						refNs, _ := ref["namespace"].(string)
						if refNs == "" {
							refNs = ns
						}
						if !placed[refNs+"/"+ref["name"].(string)] {
							t.Errorf("%s/%s: TLSRoute %s sends to Service %s/%v, which does not run here", name, c.Name(), tr.GetName(), refNs, ref["name"])
						}
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("sample fleets render no TLSRoute")
	}
}

// Every failover target serving a service renders exactly one TLSRoute for
// it, so each source's SNI has somewhere to land.
func TestEveryServedServiceHasATLSRoute(t *testing.T) {
	for name, f := range sampleFleets() {
		for _, c := range f.Clusters {
			objs, _ := renderCluster(t, f, c.Name())
			hosts := map[string]int{}
			for _, tr := range ofKind(objs, "TLSRoute") {
				hs, _ := unstructuredSlice(tr, "spec", "hostnames")
				for _, h := range hs {
					hosts[h.(string)]++
				}
			}
			for _, s := range f.Services {
				want := 0
				if c.FailoverTarget() && s.Spec.Clusters.Matches(c) {
					want = 1
				}
				if got := hosts[sni(s)]; got != want {
					t.Errorf("%s/%s: %d TLSRoutes for %s, want %d", name, c.Name(), got, sni(s), want)
				}
			}
		}
	}
}

func sni(s *fleet.GlobalService) string {
	return s.ServiceName() + "-" + itoa(int(s.Spec.Port)) + "." + s.Metadata.Namespace + ".failover.gatefed.internal"
}

func parentRefs(obj *unstructured.Unstructured) []map[string]any {
	refs, _ := unstructuredSlice(obj, "spec", "parentRefs")
	out := make([]map[string]any, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.(map[string]any))
	}
	return out
}
