// Package demo runs a local demo fleet: real kube-apiservers (one etcd) in the
// background, a kubeconfig with one context per cluster, a fleet directory
// describing them, and the Services, EndpointSlices and gateway installs the
// demo's commands need, all under one state directory.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/localfleet"
)

// DefaultStateDir is $XDG_STATE_HOME/gatefed/demo (default ~/.local/state/gatefed/demo).
func DefaultStateDir() string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "gatefed", "demo")
}

// Options are shared by every demo command.
type Options struct {
	IO       *iostreams.IOStreams
	StateDir string
	// Attached ties started processes to this one, which must then live
	// until Down: they get SIGKILL when it dies. For tests; the CLI detaches them.
	Attached bool
}

// Files of a state directory.
const (
	stateFile   = "state.json"
	fleetDir    = "fleet"
	kubeconfig  = "kubeconfig"
	stateFormat = 1
)

// stateEntries are what Up creates in the state directory and Down removes.
var stateEntries = []string{stateFile, fleetDir, kubeconfig, failoverDir, localfleet.JournalFile, "etcd", "clusters", "logs", "users"}

// State is what the state directory records about a running demo.
type State struct {
	Format   int              `json:"format"`
	Started  time.Time        `json:"started"`
	Fleet    localfleet.State `json:"fleet"`
	Clusters []ClusterInfo    `json:"clusters"`
	// Listener answers on every cluster's failover port (gatefed demo failover-listener).
	Listener localfleet.ProcessState `json:"listener"`
}

// ClusterInfo is a demo cluster as its Cluster document describes it.
type ClusterInfo struct {
	Name         string `json:"name"`
	Provider     string `json:"provider"`
	Region       string `json:"region"`
	Zone         string `json:"zone"`
	FailoverPort int32  `json:"failoverPort"`
}

func (o *Options) path(name string) string { return filepath.Join(o.StateDir, name) }

// FleetDir is the directory of the demo's fleet documents.
func (o *Options) FleetDir() string { return o.path(fleetDir) }

// Kubeconfig is the demo's admin kubeconfig.
func (o *Options) Kubeconfig() string { return o.path(kubeconfig) }

// ErrNoDemo means the state directory records no demo fleet.
var ErrNoDemo = errors.New("no demo fleet")

// LoadState reads the state directory's record.
func (o *Options) LoadState() (*State, error) {
	data, err := os.ReadFile(o.path(stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (start one with: gatefed demo up)", ErrNoDemo, o.StateDir)
	}
	if err != nil {
		return nil, err
	}
	st := &State{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("%s: %w", o.path(stateFile), err)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("%s: unknown format %d", o.path(stateFile), st.Format)
	}
	return st, nil
}

func (o *Options) saveState(st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := o.path(stateFile + ".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, o.path(stateFile))
}

// anyRunning reports whether a recorded process still runs.
func (st *State) anyRunning() bool {
	if localfleet.ProcessRuns(st.Fleet.Etcd.Pid, st.Fleet.Etcd.Exe) || localfleet.ProcessRuns(st.Listener.Pid, st.Listener.Exe) {
		return true
	}
	for _, c := range st.Fleet.Clusters {
		if localfleet.ProcessRuns(c.APIServer.Pid, c.APIServer.Exe) {
			return true
		}
	}
	return false
}

// UpOptions configure Up.
type UpOptions struct {
	Options
	// Clusters is the number of clusters (1-MaxClusters).
	Clusters int
	// Build runs the build script when binaries are missing.
	Build bool
	// Command is how the user runs gatefed, for the printed hints.
	Command string
	// Commands are the gatefed subcommands that exist, for the printed hints.
	Commands []string
}

// Up starts the demo fleet in the background and seeds it.
func Up(ctx context.Context, opts UpOptions) error {
	if opts.Clusters < 1 || opts.Clusters > MaxClusters {
		return fmt.Errorf("--clusters %d: want 1 to %d", opts.Clusters, MaxClusters)
	}
	errOut := opts.IO.ErrOut
	if st, err := opts.LoadState(); err == nil {
		if st.anyRunning() {
			return fmt.Errorf("a demo fleet is already running from %s (stop it with: gatefed demo down)", opts.StateDir)
		}
		fmt.Fprintf(errOut, "removing the stopped demo fleet left in %s\n", opts.StateDir)
		if err := removeState(opts.StateDir); err != nil {
			return err
		}
	} else if errors.Is(err, ErrNoDemo) {
		// An interrupted start may have left processes and data behind.
		if err := stopLeftovers(opts.Options); err != nil {
			return err
		}
	} else {
		return err
	}
	if err := ensureBinaries(opts.Build, errOut); err != nil {
		return err
	}
	if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
		return err
	}

	plans, err := layout(opts.Clusters)
	if err != nil {
		return err
	}
	if err := pickFailoverPorts(plans); err != nil {
		return err
	}
	if err := writeFleetDocs(opts.FleetDir(), plans); err != nil {
		return err
	}
	f, err := fleet.Load([]string{opts.FleetDir()}, nil)
	if err != nil {
		return fmt.Errorf("the demo's fleet documents do not load: %w", err)
	}

	if err := opts.newFailoverCA(f); err != nil {
		return err
	}

	begin := time.Now()
	specs := make([]localfleet.ClusterOptions, len(plans))
	for i, p := range plans {
		specs[i] = localfleet.ClusterOptions{Name: p.Name}
	}
	fmt.Fprintf(errOut, "starting %d kube-apiservers and etcd in the background\n", len(plans))
	tf, err := localfleet.Start(ctx, localfleet.Options{
		Clusters: specs,
		Dir:      opts.StateDir,
		Detached: !opts.Attached,
		Progress: prefixWriter{errOut, "  "},
	})
	if err != nil {
		return err
	}
	st := &State{Format: stateFormat, Started: time.Now().UTC(), Fleet: tf.State()}
	for _, p := range plans {
		st.Clusters = append(st.Clusters, ClusterInfo{Name: p.Name, Provider: p.Provider, Region: p.Region, Zone: p.Zone, FailoverPort: p.FailoverPort})
	}
	abort := func(err error) error {
		if st.Listener.Pid != 0 {
			_ = localfleet.Terminate(st.Listener.Pid, st.Listener.Exe, 5*time.Second)
		}
		tf.Stop()
		removeState(opts.StateDir)
		return err
	}
	if err := opts.saveState(st); err != nil {
		return abort(err)
	}
	fmt.Fprintln(errOut, "seeding services, endpoints, gateway installs and failover Secrets")
	if err := seed(ctx, tf, f); err != nil {
		return abort(fmt.Errorf("seed the demo fleet: %w", err))
	}
	if err := opts.issueFailoverSecrets(ctx, f); err != nil {
		return abort(fmt.Errorf("issue the failover Secrets: %w", err))
	}
	fmt.Fprintln(errOut, "starting the failover listener on 127.0.0.1 (stands in for the gateways' failover ports)")
	if st.Listener, err = startFailoverListener(opts, st); err != nil {
		return abort(err)
	}
	if err := opts.saveState(st); err != nil {
		return abort(err)
	}

	out := opts.IO.Out
	var desc []string
	for _, p := range plans {
		desc = append(desc, p.Name+" "+p.Provider)
	}
	fmt.Fprintf(out, "Demo fleet up in %s: %s\n", time.Since(begin).Round(100*time.Millisecond), strings.Join(desc, ", "))
	fmt.Fprintf(out, "  kubeconfig: %s (one context per cluster)\n", opts.Kubeconfig())
	fmt.Fprintf(out, "  fleet:      %s\n", opts.FleetDir())
	fmt.Fprintf(out, "  state:      %s\n\n", opts.StateDir)
	printHints(out, opts, plans)
	return nil
}

func printHints(out io.Writer, opts UpOptions, plans []clusterPlan) {
	cmd := opts.Command
	if cmd == "" {
		cmd = "gatefed"
	}
	has := map[string]bool{}
	for _, c := range opts.Commands {
		has[c] = true
	}
	base := fmt.Sprintf("%s -f %s --kubeconfig %s", cmd, opts.FleetDir(), opts.Kubeconfig())
	stateFlag := ""
	if opts.StateDir != DefaultStateDir() {
		stateFlag = " --state-dir " + opts.StateDir
	}
	fmt.Fprintln(out, "Try:")
	for _, c := range []string{"validate", "render", "diff", "apply", "check"} {
		if len(opts.Commands) > 0 && !has[c] {
			continue
		}
		if c == "check" {
			fmt.Fprintf(out, "  %s demo reconcile%s    # write the statuses Gloo and Envoy Gateway would write\n", cmd, stateFlag)
		}
		fmt.Fprintf(out, "  %s %s\n", base, c)
	}
	last := plans[len(plans)-1].Name
	fmt.Fprintf(out, "  kubectl --kubeconfig %s --context %s -n %s get services,endpointslices\n", opts.Kubeconfig(), plans[0].Name, ServiceNamespace)
	fmt.Fprintf(out, "  %s demo stop-cluster %s%s    # a cluster goes away (demo start-cluster brings it back)\n", cmd, last, stateFlag)
	fmt.Fprintf(out, "  %s demo status%s\n", cmd, stateFlag)
	fmt.Fprintf(out, "  %s demo down%s\n", cmd, stateFlag)
}

// ensureBinaries builds missing binaries with the build script, or says how.
func ensureBinaries(build bool, progress io.Writer) error {
	if err := localfleet.CheckBinaries(); err == nil {
		return nil
	} else if !build {
		return err
	}
	script, err := localfleet.BuildScript()
	if err != nil {
		// No source tree to build from: say what is missing and how to get it.
		return localfleet.CheckBinaries()
	}
	fmt.Fprintf(progress, "kube-apiserver, kubectl or etcd missing: building them with %s %s (several minutes the first time)\n",
		script, strings.Join(localfleet.DemoBuildArgs, " "))
	c := exec.Command(script, localfleet.DemoBuildArgs...)
	c.Stdout, c.Stderr = progress, progress
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s: %w", script, err)
	}
	return localfleet.CheckBinaries()
}

// Down stops exactly the recorded processes, verifies they are gone and
// removes what Up created in the state directory.
func Down(opts Options) error {
	st, err := opts.LoadState()
	if errors.Is(err, ErrNoDemo) {
		if err := stopLeftovers(opts); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "no demo fleet in %s\n", opts.StateDir)
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range st.Fleet.Clusters {
		if err := stopProcess(opts.IO.Out, "kube-apiserver "+c.Name, c.APIServer); err != nil {
			errs = append(errs, err)
		}
	}
	if err := stopProcess(opts.IO.Out, "etcd", st.Fleet.Etcd); err != nil {
		errs = append(errs, err)
	}
	if st.Listener.Pid != 0 {
		if err := stopProcess(opts.IO.Out, "failover listener", st.Listener); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := removeState(opts.StateDir); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "Demo fleet down: every process stopped, %s cleaned\n", opts.StateDir)
	return nil
}

func stopProcess(out io.Writer, what string, p localfleet.ProcessState) error {
	if !localfleet.ProcessRuns(p.Pid, p.Exe) {
		fmt.Fprintf(out, "  %s (pid %d) was not running\n", what, p.Pid)
		return nil
	}
	if err := localfleet.Terminate(p.Pid, p.Exe, 10*time.Second); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !localfleet.ProcessGone(p.Pid) {
		return fmt.Errorf("%s (pid %d) still runs", what, p.Pid)
	}
	fmt.Fprintf(out, "  stopped %s (pid %d)\n", what, p.Pid)
	return nil
}

// stopLeftovers stops what an interrupted Up started (recorded in the
// state directory's process journal) and removes its files.
func stopLeftovers(opts Options) error {
	stopped, err := localfleet.StopJournaled(opts.StateDir, 10*time.Second)
	for _, s := range stopped {
		fmt.Fprintf(opts.IO.ErrOut, "stopped %s left by an interrupted demo up\n", s)
	}
	if err != nil {
		return err
	}
	return removeState(opts.StateDir)
}

// removeState removes what Up created, and the directory when it is then empty.
func removeState(dir string) error {
	for _, e := range stateEntries {
		if err := os.RemoveAll(filepath.Join(dir, e)); err != nil {
			return err
		}
	}
	_ = os.Remove(dir) // only succeeds when empty
	return nil
}

type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	lines := strings.SplitAfter(string(b), "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		if _, err := io.WriteString(p.w, p.prefix+l); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
