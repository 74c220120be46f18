// Command gatefed runs one API-gateway configuration across a fleet of Kubernetes clusters.
package main

import (
	"os"
	"runtime/debug"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/render"
)

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(render.GCPercent)
	}
	os.Exit(cmd.Main(os.Args[1:], iostreams.System()))
}
