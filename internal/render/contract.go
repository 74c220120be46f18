package render

import (
	"fmt"
	"sort"

	"github.com/gatefed/gatefed/internal/fleet"
)

// The failover wire contract, the same for every provider: a source cluster
// opens mutual TLS to the target's failover address and port with SNI
// FailoverSNI(service), presenting the client certificate in Secret
// FailoverUpstreamSecret; the target terminates it with Secret
// FailoverDownstreamSecret (which also holds the CA that verifies clients)
// and sends the bytes to that service's local endpoints only.
const (
	FailoverUpstreamSecret   = "failover-upstream"
	FailoverDownstreamSecret = "failover-downstream"
	FailoverDomain           = "failover.gatefed.internal"
)

// FailoverSNI is the SNI naming a service's port on the failover port,
// for example checkout-8080.shop.failover.gatefed.internal.
func FailoverSNI(s *fleet.GlobalService) string {
	return fmt.Sprintf("%s-%d.%s.%s", s.ServiceName(), s.Spec.Port, s.Metadata.Namespace, FailoverDomain)
}

// What a rule means on every provider, whatever its objects look like.
const (
	// RetryOn is what a rule with retries retries on, in Envoy's words.
	RetryOn = "5xx,reset,connect-failure,refused-stream"
	// NoBackendStatus answers a rule none of whose backends can be served,
	// with NoBackendBody.
	NoBackendStatus = 503
	NoBackendBody   = "no cluster can serve this route\n"
)

// FailoverDNSNames are the names a cluster's failover serving certificate
// must carry: the SNI of every service it accepts failover traffic for,
// sorted; a cluster that accepts none gets <cluster>.FailoverDomain, so
// that its certificate always names something.
func FailoverDNSNames(in *ClusterInput) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in.Served {
		if n := FailoverSNI(s); !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return []string{in.Cluster.Name() + "." + FailoverDomain}
	}
	sort.Strings(out)
	return out
}
