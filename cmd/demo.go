package cmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/demo"
)

// DemoOptions are the flags of gatefed demo and its subcommands.
type DemoOptions struct {
	*GlobalOptions
	StateDir string
	Clusters int
	NoBuild  bool
	Output   string
}

func newDemoCmd(g *GlobalOptions) *cobra.Command {
	o := &DemoOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a local demo fleet of real Kubernetes API servers",
		Long: `demo runs a fleet of local kube-apiservers (sharing one etcd) in the
background, with the Gateway API, Envoy Gateway and Gloo Edge CRDs installed,
a kubeconfig with one context per cluster, a fleet directory describing them,
and seeded Services and EndpointSlices. No gateway controllers run: "demo
reconcile" writes the statuses they would write (refusing what they would
refuse). The demo's clusters alternate the gloo and envoy-gateway providers;
istio clusters are not part of the demo (see gatefed init for a fleet of
every provider).

` + providersHelp() + `
Everything lives under the state directory (default
$XDG_STATE_HOME/gatefed/demo): state.json, kubeconfig, fleet/, logs/ and data.
The directory belongs to the demo: "demo down" removes what "demo up" made.

` + exitStatusHelp,
		Args: cobra.NoArgs,
	}
	c.PersistentFlags().StringVar(&o.StateDir, "state-dir", demo.DefaultStateDir(), "directory holding the demo's processes' state, kubeconfig, fleet documents and data")
	c.AddCommand(o.upCmd(), o.downCmd(), o.statusCmd(), o.reconcileCmd(), o.stopClusterCmd(), o.startClusterCmd(), o.listenerCmd())
	return c
}

func (o *DemoOptions) upCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "up",
		Short: "Start the demo fleet in the background",
		Long: `up builds kube-apiserver, kubectl and etcd when they are missing (with
hack/build-kube.sh --demo, when run inside a gatefed source tree; elsewhere it
names the missing binaries and how to build them), starts the clusters
detached, writes the kubeconfig and fleet documents, seeds each cluster and
prints commands to try.

` + exitStatusHelp,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var names []string
			for _, sub := range c.Root().Commands() {
				names = append(names, sub.Name())
			}
			return o.Up(c.Context(), names)
		},
	}
	c.Flags().IntVar(&o.Clusters, "clusters", 3, fmt.Sprintf("number of clusters (1-%d): pairs share a region, providers alternate gloo and envoy-gateway", demo.MaxClusters))
	c.Flags().BoolVar(&o.NoBuild, "no-build", false, "fail instead of building missing binaries")
	return c
}

func (o *DemoOptions) downCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the demo fleet's processes and remove its state",
		Long: `down stops exactly the processes the state directory records (a recorded pid
now running another program is left alone), verifies they are gone and
removes what up created.

` + exitStatusHelp,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return o.Down(c.Context()) },
	}
}

func (o *DemoOptions) statusCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "Show whether each demo cluster runs and is ready",
		Long: `status shows etcd and each cluster's API server: its pid, address and state
(ready, not-ready or stopped). With no demo fleet it fails with status 2.

` + exitStatusHelp,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return o.Status(c.Context()) },
	}
	addOutputFlag(c.Flags(), &o.Output, "text", "json")
	return c
}

func (o *DemoOptions) reconcileCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reconcile",
		Short: "Write the statuses Gloo and Envoy Gateway would write on applied objects",
		Long: `reconcile stands in for the gateway controllers, which the demo does not run:
on every object gatefed manages in each running cluster it writes an accepted
status (Gloo status.statuses, Gateway API conditions, route parents and policy
ancestors), except where the controller would refuse: Envoy Gateway refuses a
Backend with a loopback address (Accepted False), and a route referring to it
does not resolve (ResolvedRefs False), so check fails them. Run it after
apply, before check.

` + exitStatusHelp,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return o.Reconcile(c.Context()) },
	}
}

func (o *DemoOptions) stopClusterCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stop-cluster NAME",
		Short: "Stop one demo cluster's API server (it keeps its data)",
		Long: `stop-cluster stops one cluster's kube-apiserver, so commands see the cluster
go away; start-cluster brings it back with the same address and data.

` + exitStatusHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return o.StopCluster(c.Context(), args[0]) },
	}
}

func (o *DemoOptions) startClusterCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "start-cluster NAME",
		Short: "Start a stopped demo cluster's API server again",
		Long: `start-cluster starts a cluster stopped with stop-cluster again, on the same
port with the same data, and waits until it is ready.

` + exitStatusHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return o.StartCluster(c.Context(), args[0]) },
	}
}

func (o *DemoOptions) listenerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "failover-listener",
		Short:  "Answer mutual TLS on every demo cluster's failover port (started by demo up)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(c *cobra.Command, _ []string) error { return o.ServeFailover(c.Context()) },
	}
}

// options are the demo's options, with the state directory made absolute.
func (o *DemoOptions) options() demo.Options {
	dir := o.StateDir
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	// A closed terminal or pipe must not kill a command half way through
	// starting or stopping processes: writes then just fail.
	signal.Ignore(syscall.SIGPIPE)
	return demo.Options{IO: o.IO, StateDir: dir}
}

// demoError gives a demo failure exit status 2.
func demoError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitError, err: err}
}

// Up starts the demo fleet; commands are gatefed's, for the hints it prints.
func (o *DemoOptions) Up(ctx context.Context, commands []string) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	return demoError(demo.Up(ctx, demo.UpOptions{
		Options:  o.options(),
		Clusters: o.Clusters,
		Build:    !o.NoBuild,
		Command:  selfCommand(),
		Commands: commands,
	}))
}

// Down stops the demo fleet and removes its state.
func (o *DemoOptions) Down(context.Context) error { return demoError(demo.Down(o.options())) }

// Status prints the demo fleet's processes.
func (o *DemoOptions) Status(ctx context.Context) error {
	if err := checkOutput(o.Output, "text", "json"); err != nil {
		return err
	}
	rep, err := demo.Status(ctx, o.options())
	if err != nil {
		return demoError(err)
	}
	return demoError(printDemoStatus(o.GlobalOptions, rep, o.Output))
}

// Reconcile writes the statuses the gateway controllers would write.
func (o *DemoOptions) Reconcile(ctx context.Context) error {
	return demoError(demo.Reconcile(ctx, o.options()))
}

// StopCluster stops one cluster's API server.
func (o *DemoOptions) StopCluster(_ context.Context, name string) error {
	return demoError(demo.StopCluster(o.options(), name))
}

// StartCluster starts a stopped cluster's API server again.
func (o *DemoOptions) StartCluster(ctx context.Context, name string) error {
	return demoError(demo.StartCluster(ctx, o.options(), name))
}

// ServeFailover answers mutual TLS on the demo clusters' failover ports.
func (o *DemoOptions) ServeFailover(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return demoError(demo.ServeFailover(ctx, o.options()))
}

// selfCommand is how the user ran gatefed, for printed hints.
func selfCommand() string {
	arg0 := os.Args[0]
	if filepath.Base(arg0) == arg0 {
		return arg0
	}
	if p, err := exec.LookPath(filepath.Base(arg0)); err == nil {
		if a, err1 := filepath.Abs(arg0); err1 == nil && a == p {
			return filepath.Base(arg0)
		}
	}
	return arg0
}

func printDemoStatus(g *GlobalOptions, rep *demo.Report, output string) error {
	if output == "json" {
		return writeJSON(g.IO.Out, rep)
	}
	header := []string{"CLUSTER", "PROVIDER", "REGION", "ZONE", "URL", "PID", "STATE"}
	rows := [][]string{}
	row := func(s demo.ClusterStatus) []string {
		pid := "-"
		if s.Pid != 0 {
			pid = strconv.Itoa(s.Pid)
		}
		state := s.State
		if s.Detail != "" {
			state += " (" + s.Detail + ")"
		}
		return []string{s.Name, dash(s.Provider), dash(s.Region), dash(s.Zone), s.URL, pid, state}
	}
	for _, c := range rep.Clusters {
		rows = append(rows, row(c))
	}
	rows = append(rows, row(rep.Etcd), row(rep.Listener))
	if g.IO.ColorEnabled() {
		t := table.New().Border(lipgloss.NormalBorder()).Headers(header...).Rows(rows...).
			StyleFunc(func(r, col int) lipgloss.Style {
				s := lipgloss.NewStyle().Padding(0, 1)
				if r == table.HeaderRow {
					return s.Bold(true)
				}
				if col == 6 && r >= 0 && r < len(rows) {
					if strings.HasPrefix(rows[r][6], demo.StateReady) {
						return s.Foreground(lipgloss.Color("2"))
					}
					return s.Foreground(lipgloss.Color("1"))
				}
				return s
			})
		fmt.Fprintln(g.IO.Out, t)
	} else {
		for _, r := range append([][]string{header}, rows...) {
			fmt.Fprintln(g.IO.Out, strings.Join(r, "\t"))
		}
	}
	fmt.Fprintf(g.IO.Out, "kubeconfig: %s\nfleet:      %s\n", rep.Kubeconfig, rep.FleetDir)
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
