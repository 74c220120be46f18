package rollout

import (
	"os"
	"testing"

	"github.com/gatefed/gatefed/internal/providers"
)

// TestMain registers the providers gatefed is built with, as the binary does.
func TestMain(m *testing.M) {
	providers.Register()
	os.Exit(m.Run())
}
