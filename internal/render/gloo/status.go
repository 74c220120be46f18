package gloo

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/status"
)

// State is the state Gloo writes in a resource's status, as its number or
// its name.
type State int

// Gloo's states.
const (
	StatePending State = iota
	StateAccepted
	StateRejected
	StateWarning
)

var stateNames = []string{"Pending", "Accepted", "Rejected", "Warning"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// verdicts are gatefed's verdicts for Gloo's states: Warning accepts.
var verdicts = []provider.StatusState{provider.Pending, provider.Accepted, provider.Rejected, provider.Accepted}

// parseState reads a state written as its number or its name.
func parseState(raw string) (State, bool) {
	for s := range State(len(stateNames)) {
		if raw == strconv.Itoa(int(s)) || raw == s.String() {
			return s, true
		}
	}
	return 0, false
}

// readStatus reads Gloo's status.statuses[<namespace>], or the older flat
// status.state; false when the object holds neither.
func readStatus(obj *unstructured.Unstructured) (provider.Status, bool) {
	st, _ := obj.Object["status"].(map[string]any)
	gen := obj.GetGeneration()
	if statuses, ok := st["statuses"].(map[string]any); ok && len(statuses) > 0 {
		return namespacedStatus(statuses, gen), true
	}
	if _, ok := st["state"]; ok {
		return oneStatus(st, gen), true
	}
	return provider.Status{}, false
}

// namespacedStatus is the worst of the statuses each Gloo namespace
// reported, and their warnings together.
func namespacedStatus(statuses map[string]any, gen int64) provider.Status {
	keys := make([]string, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := provider.Status{State: provider.Accepted, Final: true}
	var warnings []string
	for _, ns := range keys {
		st, _ := statuses[ns].(map[string]any)
		r := oneStatus(st, gen)
		if len(keys) > 1 && r.Reason != "" {
			r.Reason = "reported by " + ns + ": " + r.Reason
		}
		switch r.State {
		case provider.Rejected:
			return r
		case provider.Pending:
			out = r
		case provider.Accepted:
			if r.Reason != "" {
				warnings = append(warnings, r.Reason)
			}
			out.Final = out.Final && r.Final
		}
	}
	if out.State == provider.Accepted && len(warnings) > 0 {
		out.Reason = strings.Join(warnings, "; ")
	}
	return out
}

// oneStatus reads one reporter's state, reason and observed generation.
func oneStatus(st map[string]any, gen int64) provider.Status {
	raw := fmt.Sprint(st["state"])
	gs, ok := parseState(raw)
	if !ok {
		return provider.Status{State: provider.Pending, Reason: fmt.Sprintf("unknown state %q", raw)}
	}
	state := verdicts[gs]
	reason, _ := st["reason"].(string)
	if gs == StateWarning && reason == "" {
		reason = "accepted with warnings"
	}
	final := true
	if og, ok := status.Int64(st["observedGeneration"]); ok && gen > 0 && og < gen {
		if state != provider.Pending {
			return provider.Status{State: provider.Pending, Reason: fmt.Sprintf("status is for generation %d, object is at %d", og, gen)}
		}
		final = false
	}
	if state == provider.Pending {
		if reason == "" {
			reason = "pending"
		}
		return provider.Status{State: provider.Pending, Reason: reason}
	}
	return provider.Status{State: state, Reason: reason, Final: final}
}

// StatusEntry is one reporter's status as Gloo writes it: its state as a
// number, its reason when it has one, reported by "gloo".
func StatusEntry(state State, reason string) map[string]any {
	entry := map[string]any{"state": int64(state), "reportedBy": "gloo"}
	if reason != "" {
		entry["reason"] = reason
	}
	return entry
}

// acceptedStatus is the status Gloo, running in the gateway namespace,
// writes on an object it accepts, or rejects for refusal.
func acceptedStatus(gw provider.Gateway, _ *unstructured.Unstructured, refusal string) map[string]any {
	entry := StatusEntry(StateAccepted, "")
	if refusal != "" {
		entry = StatusEntry(StateRejected, refusal)
	}
	return map[string]any{"statuses": map[string]any{gw.Namespace: entry}}
}
