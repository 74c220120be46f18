package apply

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/status"
)

// Wait: a rejection of a route the apply left unchanged, while it wrote
// what the route refers to, is the controller's old verdict: the wait takes
// the verdict the controller writes next, and believes the rejection only
// once it has held for RejectionSettle, or at once when nothing was written.
func TestWaitSettlesRejectionsOfUnchangedObjects(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	oldInterval, oldSettle := WaitInterval, RejectionSettle
	WaitInterval, RejectionSettle = 100*time.Millisecond, 3*time.Second
	t.Cleanup(func() { WaitInterval, RejectionSettle = oldInterval, oldSettle })
	sim := tf.Cluster("c1").Sim()
	write := func(accepted bool) error {
		cond := localfleet.Condition{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "InvalidAddress", Message: "loopback"}
		conds := []localfleet.Condition{cond}
		if accepted {
			conds = []localfleet.Condition{localfleet.True("Accepted", ""), localfleet.True("ResolvedRefs", "")}
		}
		return sim.RouteStatus(ctx, gvrHTTPRoute, e.ns, "api", localfleet.ParentStatus{
			ControllerName: envoygateway.ControllerName, Gateway: "eg", Conditions: conds,
		})
	}
	reject := func() {
		t.Helper()
		if err := write(false); err != nil {
			t.Fatal(err)
		}
	}
	eng := e.engine()
	apply := func(version string, want [5]int) (*Plan, *Result) {
		t.Helper()
		objs := []*unstructured.Unstructured{
			secret("c1", e.ns, "backend", map[string]string{"tls.crt": version, "tls.key": version}),
			httpRoute("c1", e.ns, "api", e.svcNS, "api.example.com"),
		}
		p, res := e.apply(ctx, eng, []Target{{Cluster: e.cluster("c1"), Objects: objs}})
		expectCounts(t, res, want)
		return p, res
	}
	wait := func(p *Plan, res *Result) *WaitReport { return eng.Wait(ctx, p, res, time.Minute) }

	apply("a", [5]int{2, 0, 0, 0, 0})
	reject()
	// The Secret changes, the route does not; the controller accepts the
	// route a moment later.
	p, res := apply("b", [5]int{0, 1, 0, 1, 0})
	accepted := make(chan error, 1)
	time.AfterFunc(time.Second, func() { accepted <- write(true) })
	if wr := wait(p, res); !wr.OK() || wr.Accepted != 1 {
		t.Fatalf("wait ended on the old rejection: %+v", wr)
	}
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}

	// The controller rejects it again and says nothing more: the rejection
	// ends the wait once settled, before the timeout.
	reject()
	p, res = apply("c", [5]int{0, 1, 0, 1, 0})
	wr := wait(p, res)
	if wr.OK() || wr.TimedOut || len(wr.NotAccepted) != 1 || wr.NotAccepted[0].Status.State != status.Rejected {
		t.Fatalf("settled rejection: %+v", wr)
	}
	// Nothing written: the rejection is current.
	p, res = apply("c", [5]int{0, 0, 0, 2, 0})
	if wr := wait(p, res); wr.TimedOut || len(wr.NotAccepted) != 1 || wr.NotAccepted[0].Status.Reason == "" {
		t.Fatalf("current rejection: %+v", wr)
	}
}
