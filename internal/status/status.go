// Package status reads whether a gateway accepted an object from the status
// its controller wrote: in the provider's own shape, which its descriptor
// reads (Gloo's namespaced statuses), or in the Gateway API's (conditions
// Accepted, ResolvedRefs, Programmed on the object, its route parents or
// policy ancestors); for cert-manager's Certificate, its Ready condition.
package status

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/provider"
)

// State is a gateway's verdict on an object.
type State = provider.StatusState

// States of a verdict.
const (
	// Accepted: the gateway took the object (Gloo Warning counts, with a reason).
	Accepted = provider.Accepted
	// Pending: no verdict yet for the object's current generation.
	Pending = provider.Pending
	// Rejected: the gateway refused the object or could not resolve its references.
	Rejected = provider.Rejected
	// None: the object carries no gateway status (Secrets, ReferenceGrants, ...).
	None = provider.NoStatus
)

// Result is the verdict on one object.
type Result = provider.Status

// Expects reports whether a gateway writes a status verdict on objects of
// this kind (so that waiting for it makes sense): the providers'
// StatusKinds, and cert-manager's Certificate (its Ready condition).
func Expects(gk schema.GroupKind) bool {
	return provider.ExpectsStatus(gk) || gk == certificateKind
}

var certificateKind = schema.GroupKind{Group: "cert-manager.io", Kind: "Certificate"}

// orDefault is the provider's conditions for a kind, or def.
func orDefault(want []string, def ...string) []string {
	if len(want) > 0 {
		return want
	}
	return def
}

// Of returns the gateway's verdict on obj.
func Of(obj *unstructured.Unstructured) Result {
	if r, ok := provider.ReadStatus(obj); ok {
		return r
	}
	st, _ := obj.Object["status"].(map[string]any)
	gen := obj.GetGeneration()
	gk := obj.GroupVersionKind().GroupKind()
	want := provider.StatusConditions(gk)
	if parents, ok := st["parents"].([]any); ok {
		return fromParents(parents, gen, "parent", "parentRef", orDefault(want, "Accepted", "ResolvedRefs"))
	}
	if ancestors, ok := st["ancestors"].([]any); ok {
		return fromParents(ancestors, gen, "ancestor", "ancestorRef", orDefault(want, "Accepted"))
	}
	if conds, ok := st["conditions"].([]any); ok {
		if gk == certificateKind {
			want = []string{"Ready"}
		}
		return fromConditions(conds, gen, orDefault(want, "Accepted"), "")
	}
	if Expects(gk) {
		return Result{State: Pending, Reason: "no status yet"}
	}
	return Result{State: None}
}

// fromParents reads routes' status.parents or policies' status.ancestors:
// every entry must hold the wanted conditions.
func fromParents(entries []any, gen int64, what, refField string, want []string) Result {
	if len(entries) == 0 {
		return Result{State: Pending, Reason: "no " + what + " has reported yet"}
	}
	out := Result{State: Accepted, Final: true}
	for _, e := range entries {
		m, _ := e.(map[string]any)
		conds, _ := m["conditions"].([]any)
		r := fromConditions(conds, gen, want, refName(m[refField]))
		switch r.State {
		case Rejected:
			return r
		case Pending:
			out = r
		}
	}
	return out
}

func refName(ref any) string {
	m, ok := ref.(map[string]any)
	if !ok {
		return ""
	}
	name, _ := m["name"].(string)
	if ns, _ := m["namespace"].(string); ns != "" {
		name = ns + "/" + name
	}
	if s, ok := m["sectionName"].(string); ok && s != "" {
		name += "/" + s
	}
	return name
}

// fromConditions needs every wanted condition True at the current generation.
func fromConditions(conds []any, gen int64, want []string, parent string) Result {
	prefix := ""
	if parent != "" {
		prefix = parent + ": "
	}
	byType := map[string]map[string]any{}
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			if t, _ := m["type"].(string); t != "" {
				byType[t] = m
			}
		}
	}
	for _, t := range want {
		c, ok := byType[t]
		if !ok {
			return Result{State: Pending, Reason: prefix + t + " not reported yet"}
		}
		stale := false
		if og, ok := Int64(c["observedGeneration"]); ok && gen > 0 && og < gen {
			stale = true
		}
		status, _ := c["status"].(string)
		if stale {
			return Result{State: Pending, Reason: fmt.Sprintf("%s%s is for an older generation", prefix, t)}
		}
		switch status {
		case "True":
		case "False":
			if reason, _ := c["reason"].(string); waiting(t, reason) {
				return Result{State: Pending, Reason: conditionText(prefix, t, c)}
			}
			return Result{State: Rejected, Reason: conditionText(prefix, t, c), Final: true}
		default:
			return Result{State: Pending, Reason: conditionText(prefix, t, c)}
		}
	}
	return Result{State: Accepted, Final: true}
}

// waiting reports whether a False condition only waits for something that
// comes by itself: the Gateway API's Pending reason, and a Gateway not yet
// Programmed because its load balancer has no address or its proxies are not
// up yet (a new Gateway's usual state for a while).
func waiting(conditionType, reason string) bool {
	switch {
	case reason == "Pending":
		return true
	case conditionType == "Programmed":
		return reason == "AddressNotAssigned" || reason == "NoResources"
	}
	return false
}

func conditionText(prefix, t string, c map[string]any) string {
	status, _ := c["status"].(string)
	s := fmt.Sprintf("%s%s=%s", prefix, t, status)
	if r, _ := c["reason"].(string); r != "" {
		s += " (" + r + ")"
	}
	if m, _ := c["message"].(string); m != "" {
		s += ": " + m
	}
	return s
}

// Int64 reads a number of an unstructured object, whatever its Go type.
func Int64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}
