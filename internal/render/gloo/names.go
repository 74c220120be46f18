package gloo

import (
	"strings"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// Object names. Gloo's discovery names the Upstreams it creates
// "<namespace>-<service>-<port>"; every name gatefed renders starts with
// "gatefed-" so the two never meet.
const (
	namePrefix      = "gatefed"
	localNamePrefix = "gatefed-local"
	// FailoverGatewayName is the Gateway that accepts failover traffic on a target.
	FailoverGatewayName = "gatefed-failover"
	// maxNameLength keeps names valid as DNS labels and label values.
	maxNameLength = render.MaxNameLen
)

// UpstreamName is the Upstream a cluster's routes use to reach a service.
func UpstreamName(s *fleet.GlobalService) string {
	return objectName(namePrefix, s.Metadata.Namespace, s.Metadata.Name)
}

// LocalUpstreamName is the local-only Upstream failover traffic for a service reaches on a target.
func LocalUpstreamName(s *fleet.GlobalService) string {
	return objectName(localNamePrefix, s.Metadata.Namespace, s.Metadata.Name)
}

// VirtualServiceName is the VirtualService of a route.
func VirtualServiceName(r *fleet.GlobalRoute) string {
	return objectName(namePrefix, r.Metadata.Namespace, r.Metadata.Name)
}

// HTTPSRedirectName is the VirtualService that answers plain HTTP on the
// hosts of a TLS route with a redirect to https.
func HTTPSRedirectName(r *fleet.GlobalRoute) string {
	return objectName(VirtualServiceName(r), "https-redirect")
}

// objectName joins parts with "-"; a name longer than a DNS label is cut and
// ends in a hash of the whole name, so it stays unique and stable.
func objectName(parts ...string) string {
	return render.FitName(strings.ToLower(strings.Join(parts, "-")))
}
