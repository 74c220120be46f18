//go:build tools

package istio

import (
	_ "istio.io/istio/istioctl/cmd/istioctl"
)
