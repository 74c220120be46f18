// Package status reads whether a gateway accepted an object from the status
// its controller wrote: Gloo's namespaced statuses (or the older flat state)
// and Gateway API conditions (Accepted, ResolvedRefs, Programmed); for
// cert-manager's Certificate, its Ready condition.
package status

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/provider"
)

// State is a gateway's verdict on an object.
type State string

const (
	// Accepted: the gateway took the object (Gloo Warning counts, with a reason).
	Accepted State = "Accepted"
	// Pending: no verdict yet for the object's current generation.
	Pending State = "Pending"
	// Rejected: the gateway refused the object or could not resolve its references.
	Rejected State = "Rejected"
	// None: the object carries no gateway status (Secrets, ReferenceGrants, ...).
	None State = "None"
)

// Result is the verdict on one object.
type Result struct {
	State State `json:"state"`
	// Reason explains a Rejected or Pending state, or warnings on an Accepted one.
	Reason string `json:"reason,omitempty"`
	// Final is true when the verdict is about the object's current generation,
	// so waiting longer will not change it unless the controller changes its mind.
	Final bool `json:"final"`
}

// Gloo status states, as the int enum or its name.
var glooStates = map[string]State{
	"0": Pending, "Pending": Pending,
	"1": Accepted, "Accepted": Accepted,
	"2": Rejected, "Rejected": Rejected,
	"3": Accepted, "Warning": Accepted,
}

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
	st, _ := obj.Object["status"].(map[string]any)
	gen := obj.GetGeneration()
	if statuses, ok := st["statuses"].(map[string]any); ok && len(statuses) > 0 {
		return glooNamespaced(statuses, gen)
	}
	if _, ok := st["state"]; ok {
		return glooStatus(st, gen)
	}
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

func glooNamespaced(statuses map[string]any, gen int64) Result {
	keys := make([]string, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := Result{State: Accepted, Final: true}
	var warnings []string
	for _, ns := range keys {
		st, _ := statuses[ns].(map[string]any)
		r := glooStatus(st, gen)
		if len(keys) > 1 && r.Reason != "" {
			r.Reason = "reported by " + ns + ": " + r.Reason
		}
		switch r.State {
		case Rejected:
			return r
		case Pending:
			out = r
		case Accepted:
			if r.Reason != "" {
				warnings = append(warnings, r.Reason)
			}
			out.Final = out.Final && r.Final
		}
	}
	if out.State == Accepted && len(warnings) > 0 {
		out.Reason = strings.Join(warnings, "; ")
	}
	return out
}

func glooStatus(st map[string]any, gen int64) Result {
	raw := fmt.Sprint(st["state"])
	state, ok := glooStates[raw]
	if !ok {
		return Result{State: Pending, Reason: fmt.Sprintf("unknown state %q", raw)}
	}
	reason, _ := st["reason"].(string)
	if state == Accepted && (raw == "3" || raw == "Warning") && reason == "" {
		reason = "accepted with warnings"
	}
	final := true
	if og, ok := Int64(st["observedGeneration"]); ok && gen > 0 && og < gen {
		if state != Pending {
			return Result{State: Pending, Reason: fmt.Sprintf("status is for generation %d, object is at %d", og, gen)}
		}
		final = false
	}
	if state == Pending {
		if reason == "" {
			reason = "pending"
		}
		return Result{State: Pending, Reason: reason}
	}
	return Result{State: state, Reason: reason, Final: final}
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
