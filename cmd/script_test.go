package cmd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/providers"
)

func TestMain(m *testing.M) {
	providers.Register()
	testscript.Main(stopTestFleetAfter(m), map[string]func(){
		"gatefed": func() { os.Exit(cmd.Main(os.Args[1:], iostreams.System())) },
	})
}

// TestScripts runs the CLI end to end as a user types it: testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("..", "testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, ".config"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(env.WorkDir, ".cache"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(env.WorkDir, ".state"))
			env.Setenv("NO_COLOR", "")
			env.Setenv("KUBECONFIG", filepath.Join(env.WorkDir, "no-kubeconfig"))
			if err := useTestFleet(filepath.Join("..", "testdata", "script"), env); err != nil {
				return err
			}
			return nil
		},
	})
}
