// Command gatefed runs one API-gateway configuration across a fleet of Kubernetes clusters.
package main

import (
	"os"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/render"
)

func main() {
	render.UseBinaryGC()
	os.Exit(cmd.Main(os.Args[1:], iostreams.System()))
}
