package istio

import (
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
)

// check failover-readiness counts the rendered failover Gateway's servers on
// the cluster's failover port, and none on another port.
func TestFailoverListenerServersOnPort(t *testing.T) {
	objs, _ := renderA(t)
	l := Descriptor.Failover.Listener
	gw := objs[l.Kind.Kind+"/"+l.Name]
	if gw == nil {
		t.Fatalf("no %s %s rendered", l.Kind.Kind, l.Name)
	}
	servers, _ := field(t, gw, "spec", "servers").([]any)
	if len(servers) == 0 {
		t.Fatal("the failover Gateway has no servers")
	}
	if got := l.OnPort(gw, fleet.DefaultFailoverPort); got != len(servers) {
		t.Errorf("servers on port %d: got %d, want %d", fleet.DefaultFailoverPort, got, len(servers))
	}
	if got := l.OnPort(gw, fleet.DefaultFailoverPort+1); got != 0 {
		t.Errorf("servers on port %d: got %d, want 0", fleet.DefaultFailoverPort+1, got)
	}
}
