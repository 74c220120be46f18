package testfleet

import (
	"github.com/gatefed/gatefed/internal/providers"
	"os"
	"testing"

	"github.com/gatefed/gatefed/internal/localfleet"
)

// shared is the fleet every test of this package uses unless it needs its own.
var shared *Fleet

const sharedClusters = 3

func TestMain(m *testing.M) {
	providers.Register()
	if pidFile := os.Getenv(helperEnv); pidFile != "" {
		os.Exit(runFleetHelper(pidFile))
	}
	Main(m, localfleet.Options{Count: sharedClusters}, &shared)
}
