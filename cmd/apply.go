package cmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// fleetRunFlags are the flags diff and apply share: which clusters, how
// much in parallel, prune and conflicts.
type fleetRunFlags struct {
	Output         string
	Clusters       []string
	Selector       string
	Concurrency    int
	Parallel       int
	Prune          bool
	ForceConflicts bool
	RequestTimeout time.Duration
	Discover       discoverFlags
}

func (r *fleetRunFlags) addTo(f *pflag.FlagSet, verb string) {
	addOutputFlag(f, &r.Output, "text", "json")
	f.StringArrayVar(&r.Clusters, "cluster", nil, verb+" only this cluster (repeatable)")
	f.StringVarP(&r.Selector, "selector", "l", "", verb+" only clusters whose labels match this selector")
	f.IntVar(&r.Concurrency, "concurrency", apply.DefaultConcurrency, "requests in flight per cluster")
	f.IntVar(&r.Parallel, "parallel", apply.DefaultParallel, "clusters worked on at once")
	f.BoolVar(&r.Prune, "prune", true, "delete objects gatefed applied before (its ApplySet members) that are no longer rendered")
	f.BoolVar(&r.ForceConflicts, "force-conflicts", false, "take over fields another field manager owns instead of reporting a conflict")
	f.DurationVar(&r.RequestTimeout, "request-timeout", apply.DefaultRequestTimeout, "time limit of each attempt of one API request; a request that is safe to retry is retried")
	r.Discover.addTo(f)
}

func (r *fleetRunFlags) validate() error {
	if err := checkOutput(r.Output, "text", "json"); err != nil {
		return err
	}
	if r.Concurrency < 1 {
		return &exitError{code: ExitError, err: fmt.Errorf("--concurrency must be at least 1, not %d", r.Concurrency)}
	}
	if r.Parallel < 1 {
		return &exitError{code: ExitError, err: fmt.Errorf("--parallel must be at least 1, not %d", r.Parallel)}
	}
	if r.RequestTimeout <= 0 {
		return &exitError{code: ExitError, err: fmt.Errorf("--request-timeout must be positive, not %s", r.RequestTimeout)}
	}
	return r.Discover.validate()
}

// targets loads and renders the fleet: every selected cluster with its objects.
func (r *fleetRunFlags) targets(ctx context.Context, g *GlobalOptions) ([]apply.Target, error) {
	_, targets, err := r.fleetTargets(ctx, g)
	return targets, err
}

// fleetTargets is targets with the fleet they were rendered from.
func (r *fleetRunFlags) fleetTargets(ctx context.Context, g *GlobalOptions) (*fleet.Fleet, []apply.Target, error) {
	f, err := g.loadFleet()
	if err != nil {
		return nil, nil, err
	}
	opts := render.Options{Clusters: r.Clusters, Selector: r.Selector}
	selected, err := render.Select(f, opts)
	if err != nil {
		return nil, nil, &exitError{code: ExitError, err: err}
	}
	if r.Discover.Enabled {
		names := make([]string, len(selected))
		for i, c := range selected {
			names[i] = c.Name()
		}
		if opts.Availability, err = r.Discover.availability(ctx, g, f, names); err != nil {
			return nil, nil, err
		}
	}
	res, err := render.Render(f, opts)
	if err != nil {
		return nil, nil, &exitError{code: ExitError, err: err}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(g.IO.ErrOut, "Warning: %s\n", w)
	}
	if r.Discover.Enabled {
		printSkips(g.IO.ErrOut, res.Skips)
	}
	targets := make([]apply.Target, len(res.Clusters))
	for i, co := range res.Clusters {
		targets[i] = apply.Target{Cluster: co.Cluster, Objects: co.Objects}
	}
	return f, targets, nil
}

func (r *fleetRunFlags) engineOptions(g *GlobalOptions) apply.Options {
	return apply.Options{
		Kubeconfig:     g.Kubeconfig,
		Concurrency:    r.Concurrency,
		Parallel:       r.Parallel,
		Prune:          r.Prune,
		ForceConflicts: r.ForceConflicts,
		RequestTimeout: r.RequestTimeout,
		Tooling:        "gatefed/" + version,
	}
}

// progressFor shows progress on stderr: live lines when stderr is a
// terminal, else plain event lines when plain is set, else nothing.
func progressFor(g *GlobalOptions, targets []apply.Target, plain bool) *apply.Progress {
	live := isTerminalWriter(g.IO.ErrOut)
	if !live && !plain {
		return nil
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Cluster.Name()
	}
	return apply.NewProgress(g.IO.ErrOut, live, names)
}

// planningEngine is an engine for planning and diffing: its events drive
// the live progress lines on a terminal and print only retries elsewhere.
// stop ends the progress lines.
func planningEngine(g *GlobalOptions, targets []apply.Target, opts apply.Options) (eng *apply.Engine, stop func()) {
	progress := progressFor(g, targets, false)
	if progress == nil {
		return apply.New(withEvents(opts, retryLines(g.IO.ErrOut))), func() {}
	}
	return apply.New(withEvents(opts, progress.Event)), progress.Stop
}

// retryLines prints the retry events only, one line each: off a terminal,
// planning and diffing show no other progress (their failures are listed
// at the end).
func retryLines(w io.Writer) func(apply.Event) {
	return func(ev apply.Event) {
		if ev.Stage == apply.StageRetrying {
			fmt.Fprintf(w, "%s: %s\n", ev.Cluster, ev.Message)
		}
	}
}

func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// signalContext ends on Ctrl-C or SIGTERM: requests in flight are abandoned
// and the run reports what was not done.
func signalContext(c *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := c.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// ApplyOptions are the flags of gatefed apply.
type ApplyOptions struct {
	*GlobalOptions
	fleetRunFlags
	AllowEmpty bool
	FailFast   bool
	DryRun     bool
	Yes        bool
	Wait       bool
	Timeout    time.Duration
	Rollout    waveFlags
}

func newApplyCmd(g *GlobalOptions) *cobra.Command {
	o := &ApplyOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "apply",
		Short: "Apply the rendered objects to every cluster, in parallel, and prune what is no longer rendered",
		Long: `Apply renders the fleet and applies each cluster's objects with server-side apply
(field manager "gatefed", strict field validation), clusters in parallel
(--parallel) and requests in parallel within a cluster (--concurrency).
Objects go in dependency order, each phase in parallel:
` + applyPhasesHelp() + `
Objects already holding what gatefed would apply are not written at all: a
second apply of the same input sends no write request. Before writing, apply
prints the plan (to create, update, delete, unchanged) per cluster; on a
terminal it asks for confirmation unless -y; off a terminal it never asks.

Pruning (on by default) follows the ApplySet convention (KEP-3659) that kubectl
understands: a ConfigMap "gatefed-applyset" in each cluster's gateway namespace
lists the kinds and namespaces of gatefed's objects, each labelled
applyset.kubernetes.io/part-of. Only objects so labelled that are no longer
rendered are deleted; nothing else, ever. A cluster that would lose every
object (nothing rendered for it) is refused unless --allow-empty.

A field another field manager owns with a different value is a conflict: it
is reported with the field paths and the other manager's name, and the object
is left alone unless --force-conflicts. Requests that are safe to send again
(reads, server-side apply, deletes) are retried a few times when the API
server or the network fails in a way that may pass; each attempt is bounded
by --request-timeout. One failing cluster (unreachable, rejected object,
conflict, rejected credentials) does not stop the others unless --fail-fast; the
run ends with a table per cluster (CLUSTER, CREATED, UPDATED, DELETED,
UNCHANGED, FAILED, TIME) and each failure with its cause. Rerunning after a
fault converges. Progress goes to stderr: live lines on a terminal, one line
per event otherwise.

--wait then polls until each object is accepted by its gateway, and lists
those rejected or not accepted within --timeout, with a hint line for a
pending kind whose controller is known to lose a verdict. It waits, on each
provider, for:
` + waitHelp() + `
--dry-run prints the plan as gatefed diff does (same output and exit status:
0 in sync, 1 changes pending, 2 error) and writes nothing.

--discover renders as gatefed render --discover does: before rendering, it
reads which clusters actually run each service (the Service, its port, ready
endpoints in the EndpointSlices) and leaves the clusters where it is not
there out of the service's tiers, so traffic goes to the next cluster instead
of an HTTP 500. The objects applied say why in the annotation
gatefed.dev/skipped-clusters, and stderr has one "Skipped:" line per source
cluster and service. A cluster that cannot be read is an error (exit 2,
nothing written) unless --discover-unreachable is skip or keep.

--waves applies in waves ordered from the failover topology: a cluster and
the cluster it fails over to first (for any routed service) are never in the
same wave, and no wave, failing entirely, may leave a routed service without
a cluster to serve it or a route without a gateway (as explain --down would
find); a plan that cannot keep to this is refused, and a route one cluster
alone serves is named in a note (no wave order protects it). --canary NAME (repeatable) or --canary-selector make the
first wave; --max-wave-size bounds the waves. After each wave the gates run
(--gates wait,check by default): the gateways' verdicts on what was written,
then check's config-status, drift and failover-readiness on the wave's
clusters and failover-readiness on the clusters that fail over to them; then
--bake waits and the check gate runs again. --gates none applies wave by wave
only. The first failure stops the rollout (exit 2, naming the wave, cluster,
gate and finding, and its hint when one is known) and leaves the later waves untouched; running the same
command again continues (clusters in sync are not written; the gates run
again). --waves --dry-run prints the plan (-o json: {"waves":[...],"notes":[...]}) and
writes nothing; with --waves, -o json streams one event a line.

Exit status: 0 applied (and accepted, with --wait); 2 anything failed, was
refused, rejected, or not accepted in time, or the confirmation was declined.
See docs/apply.md.

` + exitStatusHelp,
		Example: `  gatefed apply -f fleet/
  gatefed apply -f fleet/ --cluster us-east --yes
  gatefed apply -f fleet/ -l env=prod --wait --timeout 3m
  gatefed apply -f fleet/ --dry-run -o json
  gatefed apply -f fleet/ --discover --discover-unreachable=skip
  gatefed apply -f fleet/ --waves --dry-run
  gatefed apply -f fleet/ --waves --canary us-east-1a --max-wave-size 3 --bake 2m`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signalContext(c)
			defer stop()
			return o.Run(ctx)
		},
	}
	f := c.Flags()
	o.fleetRunFlags.addTo(f, "apply to")
	f.BoolVar(&o.AllowEmpty, "allow-empty", false, "let prune delete every object gatefed manages in a cluster that has nothing rendered")
	f.BoolVar(&o.FailFast, "fail-fast", false, "stop every cluster at the first failure")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan as gatefed diff does and write nothing")
	f.BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation on a terminal")
	f.BoolVar(&o.Wait, "wait", false, "after applying, wait until every object is accepted by its gateway")
	f.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "how long --wait waits (with --waves: each wave's wait and check gates)")
	o.Rollout.addTo(f)
	return c
}

// Run applies the fleet.
func (o *ApplyOptions) Run(ctx context.Context) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return &exitError{code: ExitError, err: fmt.Errorf("--timeout must be positive, not %s", o.Timeout)}
	}
	if err := o.Rollout.validate(); err != nil {
		return err
	}
	if o.Rollout.Waves {
		return o.runWaves(ctx)
	}
	targets, err := o.targets(ctx, o.GlobalOptions)
	if err != nil {
		return err
	}
	opts := o.engineOptions(o.GlobalOptions)
	opts.AllowEmpty = o.AllowEmpty
	opts.FailFast = o.FailFast

	if o.DryRun {
		return runDiff(ctx, o.GlobalOptions, &o.fleetRunFlags, opts, targets)
	}

	// Plan (reads only), show it, confirm.
	eng, stop := planningEngine(o.GlobalOptions, targets, opts)
	plan := eng.Plan(ctx, targets)
	stop()
	apply.WriteSummary(o.IO.ErrOut, plan)
	if plan.Failed() && o.FailFast {
		apply.WriteErrors(o.IO.ErrOut, plan)
		fmt.Fprintln(o.IO.ErrOut, "--fail-fast: nothing was applied")
		return silentError()
	}
	if plan.Pending() && o.IO.InTTY && o.IO.OutTTY && !o.Yes {
		ok, err := confirm(o.IO.In, o.IO.ErrOut, fmt.Sprintf("Apply these changes to %d %s? [y/N] ", pendingClusters(plan), plural(pendingClusters(plan), "cluster", "clusters")))
		if err != nil || !ok {
			fmt.Fprintln(o.IO.ErrOut, "Apply cancelled; nothing was written.")
			return silentError()
		}
	}

	// Apply.
	progress := progressFor(o.GlobalOptions, targets, true)
	if progress != nil {
		eng = apply.New(withEvents(opts, progress.Event))
	}
	res := eng.Apply(ctx, plan)
	var wait *apply.WaitReport
	if o.Wait && ctx.Err() == nil {
		wait = eng.Wait(ctx, plan, res, o.Timeout)
	}
	if progress != nil {
		progress.Stop()
	}

	styled := o.IO.ColorEnabled()
	if o.Output == "json" {
		if err := apply.WriteResultJSON(o.IO.Out, res, wait); err != nil {
			return &exitError{code: ExitError, err: err}
		}
	} else {
		apply.WriteResultTable(o.IO.Out, res, styled)
		if wait != nil {
			apply.WriteWaitReport(o.IO.Out, wait, styled)
		}
	}
	apply.WriteResultErrors(o.IO.ErrOut, res)
	if res.Failed() || (wait != nil && !wait.OK()) {
		return silentError()
	}
	return nil
}

func withEvents(opts apply.Options, f func(apply.Event)) apply.Options {
	opts.Events = f
	return opts
}

func pendingClusters(p *apply.Plan) int {
	n := 0
	for _, c := range p.Clusters {
		if c.Pending() {
			n++
		}
	}
	return n
}

// confirm asks a yes/no question; only "y" or "yes" is yes.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprint(out, question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(out)
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
