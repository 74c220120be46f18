package testfleet

import (
	"cmp"
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/render/gloo"
)

// GlooStatus is the status Gloo Edge writes on an Upstream, VirtualService,
// RouteTable, UpstreamGroup or Gateway, in the forms Gloo has written it:
// write its Body with localfleet's Sim.MergeStatus.
type GlooStatus struct {
	State  gloo.State
	Reason string
	// Namespace is the key under status.statuses: the namespace the Gloo
	// controller runs in (default gloo-system).
	Namespace string
	// ReportedBy names the reporter (default "gloo").
	ReportedBy string
	// StateAsString writes the state as "Accepted", "Rejected", ... instead of 1, 2, ...
	StateAsString bool
	// Flat writes the older form status.state/status.reason/status.reportedBy.
	Flat bool
}

// Body is the status: status.statuses[Namespace], or the flat form.
func (st GlooStatus) Body() map[string]any {
	entry := gloo.StatusEntry(st.State, st.Reason)
	if st.ReportedBy != "" {
		entry["reportedBy"] = st.ReportedBy
	}
	if st.StateAsString {
		entry["state"] = st.State.String()
	}
	if st.Flat {
		return entry
	}
	return map[string]any{"statuses": map[string]any{cmp.Or(st.Namespace, gloo.Descriptor.Defaults.Namespace): entry}}
}

// GlooStatus writes a Gloo status onto the object, as Gloo does (its CRDs
// have no status subresource: status is part of the object). Statuses under
// other namespace keys are kept.
func (s *Sim) GlooStatus(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, st GlooStatus) error {
	return s.MergeStatus(ctx, gvr, namespace, name, st.Body())
}
