// Package providers is the list of gateway providers gatefed is built with.
// Adding a provider is writing its package and adding it here.
package providers

import (
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/render/istio"
)

// All returns every provider, in the order messages list them.
func All() []render.Provider {
	return []render.Provider{gloo.New(), envoygateway.New(), istio.New()}
}

// Register makes every provider of All available to render and its
// descriptor to the rest of gatefed. Calling it again changes nothing.
func Register() {
	for _, p := range All() {
		render.Register(p)
	}
}
