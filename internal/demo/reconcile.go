package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

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
	desc := provider.Lookup(c.Spec.Gateway.Provider)
	if desc == nil || desc.Install.StandIn == nil {
		return counts, nil
	}
	gw := c.Spec.Gateway.Gateway()
	refused := map[string]string{} // Kind namespace/name -> why the controller refuses it
	selector := render.LabelManagedBy + "=" + render.ManagedByValue
	in := desc.Install.StandIn(gw, c.FailoverPort())
	for _, a := range in.Accepts {
		gvr := a.Kind.GroupVersionResource()
		list, err := sim.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if apierrors.IsNotFound(err) {
			continue // kind not served in this cluster
		}
		if err != nil {
			return counts, fmt.Errorf("list %s: %w", gvr.Resource, err)
		}
		for i := range list.Items {
			obj := &list.Items[i]
			why := ""
			if a.Refuses != nil {
				why = a.Refuses(obj)
			}
			if err := accept(ctx, sim, gw, in, a, obj, why, refused); err != nil {
				return counts, err
			}
			if why != "" {
				refused[objectKey(obj.GetKind(), obj.GetNamespace(), obj.GetName())] = why
				counts[refusedPrefix+obj.GetKind()]++
			} else {
				counts[obj.GetKind()]++
			}
		}
	}
	return counts, nil
}

// accept writes the status the controller writes on an object it accepts,
// or refuses for why; a route's references resolve unless refused holds them.
func accept(ctx context.Context, sim *localfleet.Sim, gw provider.Gateway, in provider.StandIn, a provider.Acceptance, obj *unstructured.Unstructured, why string, refused map[string]string) error {
	gvr, ns, name := a.Kind.GroupVersionResource(), obj.GetNamespace(), obj.GetName()
	if a.Status != nil {
		return sim.MergeStatus(ctx, gvr, ns, name, a.Status(gw, obj, why))
	}
	switch a.Style {
	case provider.StyleConditions:
		conds := trueConditions(a.Conditions)
		if why != "" {
			conds = []localfleet.Condition{refusal("Accepted", "Invalid", why)}
		}
		return sim.Conditions(ctx, gvr, ns, name, conds...)
	case provider.StyleRouteParents:
		return sim.RouteStatus(ctx, gvr, ns, name, parentsOf(obj, ns, in.Controller, refusedRef(obj, ns, refused))...)
	case provider.StylePolicyAncestors:
		return sim.PolicyStatus(ctx, gvr, ns, name, localfleet.ParentStatus{
			ControllerName: in.Controller, Gateway: gw.Namespace + "/" + gw.Name, Conditions: trueConditions([]string{"Accepted"}),
		})
	}
	return fmt.Errorf("%s %s/%s: unknown status style %d", a.Kind.Kind, ns, name, a.Style)
}

// objectKey names an object of a kind.
func objectKey(kind, namespace, name string) string { return kind + " " + namespace + "/" + name }

// refusal is a condition with status False, as a controller that refuses writes it.
func refusal(typ, reason, message string) localfleet.Condition {
	return localfleet.Condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason, Message: message}
}

// refusedRef is why a route's reference to a refused object does not
// resolve, or "".
func refusedRef(route *unstructured.Unstructured, namespace string, refused map[string]string) string {
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	for _, r := range rules {
		refs, _, _ := unstructured.NestedSlice(r.(map[string]any), "backendRefs")
		for _, ref := range refs {
			m := ref.(map[string]any)
			kind, _ := m["kind"].(string)
			ns, _ := m["namespace"].(string)
			if ns == "" {
				ns = namespace
			}
			name, _ := m["name"].(string)
			if why := refused[objectKey(cmp.Or(kind, "Service"), ns, name)]; why != "" {
				return why
			}
		}
	}
	return ""
}

// parentsOf returns controller's accepted status for each Gateway in
// spec.parentRefs, resolved unless unresolved says why not.
func parentsOf(route *unstructured.Unstructured, namespace, controller, unresolved string) []localfleet.ParentStatus {
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
			ControllerName: controller, Gateway: ns + "/" + name, SectionName: section,
			Conditions: []localfleet.Condition{localfleet.True("Accepted", ""), resolved},
		})
	}
	return out
}
