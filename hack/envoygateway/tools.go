//go:build tools

package envoygateway

import (
	_ "github.com/envoyproxy/gateway/cmd/egctl"
	_ "github.com/envoyproxy/gateway/cmd/envoy-gateway"
)
