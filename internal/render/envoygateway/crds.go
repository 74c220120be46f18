package envoygateway

import "embed"

// crdFiles are Envoy Gateway's own CRDs (gateway.envoyproxy.io) of the
// version go.mod requires, with full schemas and without descriptions; the
// Gateway API CRDs it also needs are shared with other providers and kept
// by the local fleet. hack/crds (make crds) derives them; do not edit them.
//
//go:embed crds/*.yaml
var crdFiles embed.FS
