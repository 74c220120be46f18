package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/check/applydiff"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/rollout"
)

// defaultGates is --gates' default.
const defaultGates = rollout.GateWait + "," + rollout.GateCheck

// waveFlags are apply's rollout flags.
type waveFlags struct {
	Waves          bool
	Canary         []string
	CanarySelector string
	MaxWaveSize    int
	Gates          string
	Bake           time.Duration
}

func (w *waveFlags) addTo(f *pflag.FlagSet) {
	w.addPlanTo(f, "apply in waves from the failover topology, with gates between them (see --gates)")
	f.StringVar(&w.Gates, "gates", defaultGates, "with --waves: what proves a wave healthy before the next: wait, check (comma-separated), or none")
	f.DurationVar(&w.Bake, "bake", 0, "with --waves: after a wave's gates pass, wait this long and run the check gate again")
}

// addPlanTo adds the flags that shape the waves (apply and render share them).
func (w *waveFlags) addPlanTo(f *pflag.FlagSet, usage string) {
	f.BoolVar(&w.Waves, "waves", false, usage)
	f.StringArrayVar(&w.Canary, "canary", nil, "with --waves: this cluster is in the first wave (repeatable)")
	f.StringVar(&w.CanarySelector, "canary-selector", "", "with --waves: clusters whose labels match this selector make up the first wave")
	f.IntVar(&w.MaxWaveSize, "max-wave-size", 0, "with --waves: at most this many clusters per wave (0: no bound)")
}

// plan plans the waves of the named clusters.
func (w *waveFlags) plan(f *fleet.Fleet, clusters []string) (*rollout.Plan, error) {
	p, err := rollout.Make(f, rollout.PlanOptions{Clusters: clusters, Canary: w.Canary,
		CanarySelector: w.CanarySelector, MaxWaveSize: w.MaxWaveSize})
	if err != nil {
		return nil, &exitError{code: ExitError, err: fmt.Errorf("--waves: %w; nothing was written", err)}
	}
	return p, nil
}

func (w *waveFlags) validate() error {
	if !w.Waves {
		if len(w.Canary) > 0 || w.CanarySelector != "" || w.MaxWaveSize != 0 || w.Gates != defaultGates || w.Bake != 0 {
			return &exitError{code: ExitError, err: errors.New("--canary, --canary-selector, --max-wave-size, --gates and --bake need --waves")}
		}
		return nil
	}
	if w.MaxWaveSize < 0 {
		return &exitError{code: ExitError, err: fmt.Errorf("--max-wave-size must be at least 1, not %d", w.MaxWaveSize)}
	}
	if w.Bake < 0 {
		return &exitError{code: ExitError, err: fmt.Errorf("--bake must not be negative, not %s", w.Bake)}
	}
	if _, _, err := rollout.ParseGates([]string{w.Gates}); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	return nil
}

// runWaves plans the waves and, unless --dry-run, rolls them out.
func (o *ApplyOptions) runWaves(ctx context.Context) error {
	if o.Discover.Enabled {
		return &exitError{code: ExitError, err: errors.New("--waves plans from the declared topology: it cannot be combined with --discover")}
	}
	f, targets, err := o.fleetTargets(ctx, o.GlobalOptions)
	if err != nil {
		return err
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Cluster.Name()
	}
	p, err := o.Rollout.plan(f, names)
	if err != nil {
		return err
	}
	if o.DryRun {
		if o.Output == "json" {
			err = rollout.WritePlanJSON(o.IO.Out, p)
		} else {
			err = rollout.WritePlanText(o.IO.Out, p)
		}
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		return nil
	}
	if err := rollout.WritePlanText(o.IO.ErrOut, p); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if o.IO.InTTY && o.IO.OutTTY && !o.Yes {
		q := fmt.Sprintf("Roll out to %d %s in %d %s? [y/N] ", len(names), plural(len(names), "cluster", "clusters"), len(p.Waves), plural(len(p.Waves), "wave", "waves"))
		if ok, err := confirm(o.IO.In, o.IO.ErrOut, q); err != nil || !ok {
			fmt.Fprintln(o.IO.ErrOut, "Rollout cancelled; nothing was written.")
			return silentError()
		}
	}
	out, err := rollout.Run(ctx, f, p, targets, o.rolloutOptions())
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	return o.reportRollout(p, out)
}

func (o *ApplyOptions) rolloutOptions() rollout.RunOptions {
	wait, chk, _ := rollout.ParseGates([]string{o.Rollout.Gates})
	opts := o.engineOptions(o.GlobalOptions)
	opts.AllowEmpty, opts.FailFast = o.AllowEmpty, o.FailFast
	ro := rollout.RunOptions{
		Engine: opts, Wait: wait || o.Wait, Check: chk, Bake: o.Rollout.Bake, Timeout: o.Timeout,
		CheckOptions: check.Options{Kubeconfig: o.Kubeconfig, Timeout: check.DefaultTimeout,
			Differ: applydiff.Differ{Kubeconfig: o.Kubeconfig}},
		ClusterEvents: retryLines(o.IO.ErrOut),
	}
	if o.Output == "json" {
		ro.Events = rollout.JSONLines(o.IO.Out)
	} else {
		ro.Events = rollout.TextLines(o.IO.ErrOut)
		ro.CheckProgress = o.IO.ErrOut
	}
	return ro
}

// reportRollout prints each wave's apply table (text) and, when the
// rollout stopped, the wave, cluster, gate and finding, and what was left.
func (o *ApplyOptions) reportRollout(p *rollout.Plan, out *rollout.Outcome) error {
	if o.Output != "json" {
		for _, w := range out.Waves {
			if w.Apply != nil {
				fmt.Fprintf(o.IO.Out, "wave %d\n", w.Wave)
				apply.WriteResultTable(o.IO.Out, w.Apply, o.IO.ColorEnabled())
			}
		}
	}
	if s := out.Stop; s != nil {
		fmt.Fprintf(o.IO.ErrOut, "Error: rollout stopped at wave %d, cluster %s, gate %s: %s\n", s.Wave, s.Cluster, s.Gate, s.Finding)
		if s.Hint != "" {
			fmt.Fprintf(o.IO.ErrOut, "Hint: %s\n", s.Hint)
		}
		var left []string
		for _, w := range p.Waves[s.Wave:] {
			left = append(left, w.Clusters...)
		}
		if len(left) > 0 {
			span := fmt.Sprintf("wave %d", s.Wave+1)
			if len(p.Waves) > s.Wave+1 {
				span = fmt.Sprintf("waves %d-%d", s.Wave+1, len(p.Waves))
			}
			fmt.Fprintf(o.IO.ErrOut, "Not started: %s (%s).\n", span, strings.Join(left, ", "))
		}
		fmt.Fprintln(o.IO.ErrOut, "Fix the cause and run the same command again: clusters already in sync are not written again, and the gates run again.")
		return silentError()
	}
	n := 0
	for _, w := range p.Waves {
		n += len(w.Clusters)
	}
	fmt.Fprintf(o.IO.ErrOut, "rollout complete: %d %s, %d %s\n", len(p.Waves), plural(len(p.Waves), "wave", "waves"), n, plural(n, "cluster", "clusters"))
	return nil
}
