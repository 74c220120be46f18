package gloo

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/provider"
)

// The status the demo's stand-in writes reads back as Gloo's verdict: the
// controller in the gateway namespace accepts, or rejects with the reason.
func TestStandInStatusReadsBack(t *testing.T) {
	gw := provider.Gateway{Namespace: "gloo-east", Name: "gateway-proxy"}
	vs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": "shop", "namespace": "gloo-east", "generation": int64(1)},
	}}
	for _, c := range []struct {
		refusal string
		want    provider.Status
	}{
		{"", provider.Status{State: provider.Accepted, Final: true}},
		{"domain conflict", provider.Status{State: provider.Rejected, Reason: "domain conflict", Final: true}},
	} {
		vs.Object["status"] = acceptedStatus(gw, vs, c.refusal)
		if _, ok := vs.Object["status"].(map[string]any)["statuses"].(map[string]any)["gloo-east"]; !ok {
			t.Errorf("status %v is not keyed by the gateway namespace", vs.Object["status"])
		}
		got, ok := Descriptor.ReadStatus(vs)
		if !ok || got != c.want {
			t.Errorf("refusal %q: read %+v, %v; want %+v", c.refusal, got, ok, c.want)
		}
	}
	delete(vs.Object, "status")
	if got, ok := Descriptor.ReadStatus(vs); ok {
		t.Errorf("no status: read %+v, want none", got)
	}
}

func TestStateNames(t *testing.T) {
	for s := StatePending; s <= StateWarning; s++ {
		for _, raw := range []string{s.String(), string(rune('0' + s))} {
			if got, ok := parseState(raw); !ok || got != s {
				t.Errorf("parseState(%q) = %v, %v; want %v", raw, got, ok, s)
			}
		}
	}
	for _, raw := range []string{"4", "Unknown", "<nil>"} {
		if _, ok := parseState(raw); ok {
			t.Errorf("parseState(%q) took an unknown state", raw)
		}
	}
	if got := State(7).String(); got != "State(7)" {
		t.Errorf("State(7) = %q", got)
	}
}
