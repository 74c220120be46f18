package cmd

import (
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/render/istio"
)

func init() {
	render.Register(gloo.New())
	render.Register(envoygateway.New())
	render.Register(istio.New())
}
