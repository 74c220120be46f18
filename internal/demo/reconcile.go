package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// How reconcile reports on each kind, as its controller would.
type statusKind int

const (
	glooStatus   statusKind = iota // status.statuses[<gloo namespace>] Accepted
	conditions                     // status.conditions Accepted (and Programmed for Gateways)
	routeParents                   // status.parents[] per spec.parentRefs
	ancestors                      // status.ancestors[] for the cluster's Gateway
)

var reconciledKinds = []struct {
	gvr  schema.GroupVersionResource
	kind statusKind
}{
	{localfleet.UpstreamGVR, glooStatus},
	{localfleet.UpstreamGroupGVR, glooStatus},
	{localfleet.VirtualServiceGVR, glooStatus},
	{localfleet.RouteTableGVR, glooStatus},
	{localfleet.GlooGatewayGVR, glooStatus},
	{localfleet.GatewayGVR, conditions},
	{localfleet.BackendGVR, conditions},
	{localfleet.HTTPRouteGVR, routeParents},
	{localfleet.TLSRouteGVR, routeParents},
	{localfleet.GRPCRouteGVR, routeParents},
	{localfleet.BackendTrafficPolicyGVR, ancestors},
	{schema.GroupVersionResource{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Resource: "clienttrafficpolicies"}, ancestors},
	{schema.GroupVersionResource{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Resource: "securitypolicies"}, ancestors},
}

// Reconcile writes, on every object gatefed manages in each running demo
// cluster, the status its controller would write once it accepted it. No
// controllers run in the demo; this stands in for them so check has statuses to read.
func Reconcile(ctx context.Context, opts Options) error {
	st, err := opts.LoadState()
	if err != nil {
		return err
	}
	f, err := fleet.Load([]string{opts.FleetDir()}, nil)
	if err != nil {
		return fmt.Errorf("demo fleet documents: %w", err)
	}
	var errs []error
	for _, c := range st.Fleet.Clusters {
		fc := f.Cluster(c.Name)
		if fc == nil {
			continue
		}
		if !localfleet.ProcessRuns(c.APIServer.Pid, c.APIServer.Exe) {
			fmt.Fprintf(opts.IO.Out, "  %s: stopped, skipped\n", c.Name)
			continue
		}
		cfg, err := opts.restConfig(c.Context)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sim, err := localfleet.NewSim(cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		counts, err := reconcileCluster(ctx, sim, fc)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", c.Name, err))
		}
		fmt.Fprintf(opts.IO.Out, "  %s: %s\n", c.Name, describeCounts(counts))
	}
	return errors.Join(errs...)
}

// refusedPrefix marks the counts of objects reconcile refused.
const refusedPrefix = "refused "

func describeCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return "no managed objects (run apply first)"
	}
	var parts, refused []string
	for k, n := range counts {
		if kind, ok := strings.CutPrefix(k, refusedPrefix); ok {
			refused = append(refused, fmt.Sprintf("%d %s", n, kind))
		} else {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	sort.Strings(parts)
	sort.Strings(refused)
	out := "accepted " + strings.Join(parts, ", ")
	if len(refused) > 0 {
		out += "; refused, as the gateway's controller would: " + strings.Join(refused, ", ")
	}
	return out
}

func reconcileCluster(ctx context.Context, sim *localfleet.Sim, c *fleet.Cluster) (map[string]int, error) {
	counts := map[string]int{}
	refused := map[string]string{} // Backend namespace/name -> why the controller refuses it
	gw := c.Spec.Gateway
	desc := provider.Lookup(gw.Provider)
	selector := render.LabelManagedBy + "=" + render.ManagedByValue
	for _, k := range reconciledKinds {
		list, err := sim.Dynamic.Resource(k.gvr).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if apierrors.IsNotFound(err) {
			continue // kind not served in this cluster
		}
		if err != nil {
			return counts, fmt.Errorf("list %s: %w", k.gvr.Resource, err)
		}
		for i := range list.Items {
			obj := &list.Items[i]
			ns, name := obj.GetNamespace(), obj.GetName()
			switch k.kind {
			case glooStatus:
				err = sim.GlooStatus(ctx, k.gvr, ns, name, localfleet.GlooStatus{State: localfleet.GlooAccepted, Namespace: gw.Namespace})
			case conditions:
				conds := []localfleet.Condition{localfleet.True("Accepted", "")}
				if k.gvr == localfleet.GatewayGVR {
					conds = append(conds, localfleet.True("Programmed", ""))
				}
				if why := backendRefusal(desc, k.gvr, obj); why != "" {
					refused[ns+"/"+name] = why
					conds = []localfleet.Condition{refusal("Accepted", "Invalid", why)}
				}
				err = sim.Conditions(ctx, k.gvr, ns, name, conds...)
			case routeParents:
				err = sim.RouteStatus(ctx, k.gvr, ns, name, parentsOf(obj, ns, refusedRef(obj, ns, refused))...)
			case ancestors:
				err = sim.PolicyStatus(ctx, k.gvr, ns, name, localfleet.ParentStatus{
					Gateway: gw.Namespace + "/" + gw.Name, Conditions: []localfleet.Condition{localfleet.True("Accepted", "")},
				})
			}
			if err != nil {
				return counts, err
			}
			if refused[ns+"/"+name] != "" && k.gvr == localfleet.BackendGVR {
				counts[refusedPrefix+obj.GetKind()]++
			} else {
				counts[obj.GetKind()]++
			}
		}
	}
	return counts, nil
}

// backendRefusal is why the controller of a gateway whose descriptor says
// it refuses a loopback failover target refuses a Backend, or "": Envoy
// Gateway refuses a loopback address (outside its Host infrastructure).
func backendRefusal(desc *provider.Descriptor, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) string {
	if desc == nil || desc.Failover.LoopbackRefused == "" || gvr != localfleet.BackendGVR {
		return ""
	}
	endpoints, _, _ := unstructured.NestedSlice(obj.Object, "spec", "endpoints")
	for _, e := range endpoints {
		addr, _, _ := unstructured.NestedString(e.(map[string]any), "ip", "address")
		if ip := net.ParseIP(addr); ip != nil && ip.IsLoopback() {
			return fmt.Sprintf("IP address %s in the loopback range is only supported when using the Host infrastructure", addr)
		}
	}
	return ""
}

// refusal is a condition with status False, as a controller that refuses writes it.
func refusal(typ, reason, message string) localfleet.Condition {
	return localfleet.Condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason, Message: message}
}

// refusedRef is why a route's reference to a refused Backend does not
// resolve, or "".
func refusedRef(route *unstructured.Unstructured, namespace string, refused map[string]string) string {
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	for _, r := range rules {
		refs, _, _ := unstructured.NestedSlice(r.(map[string]any), "backendRefs")
		for _, ref := range refs {
			m := ref.(map[string]any)
			if kind, _ := m["kind"].(string); kind != "Backend" {
				continue
			}
			ns, _ := m["namespace"].(string)
			if ns == "" {
				ns = namespace
			}
			name, _ := m["name"].(string)
			if why := refused[ns+"/"+name]; why != "" {
				return why
			}
		}
	}
	return ""
}

// parentsOf returns an accepted status for each Gateway in spec.parentRefs,
// resolved unless unresolved says why not.
func parentsOf(route *unstructured.Unstructured, namespace, unresolved string) []localfleet.ParentStatus {
	refs, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
	var out []localfleet.ParentStatus
	for _, r := range refs {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		if kind, _ := m["kind"].(string); kind != "" && kind != "Gateway" {
			continue
		}
		ns, _ := m["namespace"].(string)
		if ns == "" {
			ns = namespace
		}
		name, _ := m["name"].(string)
		section, _ := m["sectionName"].(string)
		resolved := localfleet.True("ResolvedRefs", "")
		if unresolved != "" {
			resolved = refusal("ResolvedRefs", "InvalidBackendRef", unresolved)
		}
		out = append(out, localfleet.ParentStatus{
			Gateway: ns + "/" + name, SectionName: section,
			Conditions: []localfleet.Condition{localfleet.True("Accepted", ""), resolved},
		})
	}
	return out
}
