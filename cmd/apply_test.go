package cmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/iostreams"
)

// confirmFleet is two gloo clusters with a route each.
func confirmFleet(host string) string {
	return fleettest.YAML(
		fleettest.Cluster("c1", "gloo").GatewayNamespace("apply-confirm"),
		fleettest.Cluster("c2", "gloo").GatewayNamespace("apply-confirm"),
		fleettest.Service("shop", "checkout", 8080),
		fleettest.Route("shop", "shop", host).To("checkout"),
	)
}

// On a terminal apply asks before writing (unless --yes, or when nothing
// would change); off a terminal it never asks.
func TestApplyConfirmation(t *testing.T) {
	f, err := sharedTestFleet()
	if err != nil {
		t.Fatal(err)
	}
	if err := testFleetNamespace(f, "apply-confirm"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	fleetFile := filepath.Join(dir, "fleet.yaml")
	write := func(doc string) {
		if err := os.WriteFile(fleetFile, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(confirmFleet("shop.example.com"))
	run := func(stdin string, tty bool, args ...string) (int, string, string) {
		ios, in, out, errOut := iostreams.Test()
		in.WriteString(stdin)
		ios.InTTY, ios.OutTTY = tty, tty
		code := cmd.Main(append([]string{"--kubeconfig", f.Kubeconfig, "-f", fleetFile}, args...), ios)
		return code, out.String(), errOut.String()
	}
	const question = "Apply these changes to 2 clusters? [y/N] "

	code, out, errOut := run("n\n", true, "apply")
	if code != 2 || !strings.Contains(errOut, question) || !strings.Contains(errOut, "Apply cancelled; nothing was written.") || out != "" {
		t.Fatalf("declined: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if code, _, errOut = run("", false, "diff"); code != 1 {
		t.Fatalf("after declining, diff must still find changes: exit %d\n%s", code, errOut)
	}

	code, out, errOut = run("y\n", true, "apply")
	if code != 0 || !strings.Contains(errOut, question) || !strings.Contains(out, "CREATED") {
		t.Fatalf("accepted: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if code, _, errOut = run("", false, "diff"); code != 0 {
		t.Fatalf("after applying, diff must be in sync: exit %d\n%s", code, errOut)
	}

	// Nothing to change: no question.
	if code, _, errOut = run("", true, "apply"); code != 0 || strings.Contains(errOut, "Apply these changes") {
		t.Fatalf("in sync: exit %d, stderr:\n%s", code, errOut)
	}

	// --yes, and off a terminal: no question.
	write(confirmFleet("www.example.com"))
	if code, _, errOut = run("", true, "apply", "--yes"); code != 0 || strings.Contains(errOut, "Apply these changes") {
		t.Fatalf("--yes: exit %d, stderr:\n%s", code, errOut)
	}
	write(confirmFleet("shop.example.com"))
	code, out, errOut = run("", false, "apply")
	if code != 0 || strings.Contains(errOut, "Apply these changes") || !strings.Contains(out, "c1\t0\t1\t0\t1\t0\t") {
		t.Fatalf("off a terminal: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
