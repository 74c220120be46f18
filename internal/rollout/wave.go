package rollout

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/status"
)

// waveRun is one wave of a rollout. Its steps run in order: apply, the
// wait gate, the check gate, the bake (and the check gate again); each
// returns the Stop that ends the rollout, or nil.
type waveRun struct {
	opts    RunOptions
	f       *fleet.Fleet
	g       *topology
	wave    *Wave
	targets []apply.Target
	eng     *apply.Engine
	plan    *apply.Plan
	res     *WaveResult
}

func (r *waveRun) run(ctx context.Context) *Stop {
	r.emit(Event{Type: EventWave, Wave: r.wave.Wave, Clusters: r.wave.Clusters, Status: StatusStarted})
	steps := []func(context.Context) *Stop{r.apply}
	if r.opts.Wait {
		steps = append(steps, r.waitGate)
	}
	if r.opts.Check {
		steps = append(steps, r.checkGate)
	}
	if r.opts.Bake > 0 {
		steps = append(steps, r.bake)
		if r.opts.Check {
			steps = append(steps, r.checkGate)
		}
	}
	for _, step := range steps {
		if s := step(ctx); s != nil {
			return s
		}
	}
	return nil
}

func (r *waveRun) emit(ev Event) {
	if r.opts.Events != nil {
		ev.Time = time.Now().UTC()
		r.opts.Events(ev)
	}
}

func (r *waveRun) stop(cluster, gate, finding string) *Stop {
	return r.stopHint(cluster, gate, finding, "")
}

// stopHint is stop with what to do about the finding.
func (r *waveRun) stopHint(cluster, gate, finding, hint string) *Stop {
	s := &Stop{Wave: r.wave.Wave, Cluster: cluster, Gate: gate, Finding: finding, Hint: hint}
	r.emit(Event{Type: EventGate, Wave: s.Wave, Cluster: cluster, Gate: gate, Status: StatusFailed, Message: finding, Hint: hint})
	return s
}

// apply plans the wave's clusters and, when every one of them could be
// planned, applies them; a cluster that cannot be read (its API server
// down) stops the wave before anything of it is written.
func (r *waveRun) apply(ctx context.Context) *Stop {
	opts := r.opts.Engine
	opts.Events = r.opts.ClusterEvents
	r.eng = apply.New(opts)
	r.plan = r.eng.Plan(ctx, r.targets)
	for _, cp := range r.plan.Clusters {
		if cp.Failed() {
			return r.stop(cp.Name, GateApply, "not applied: "+planFailure(cp))
		}
	}
	if ctx.Err() != nil {
		return r.stop(r.wave.Clusters[0], GateApply, "interrupted before the wave was applied")
	}
	res := r.eng.Apply(ctx, r.plan)
	r.res.Apply = res
	var failed *apply.ClusterResult
	for _, c := range res.Clusters {
		r.emit(clusterEvent(r.wave.Wave, c))
		if !c.OK() && failed == nil {
			failed = c
		}
	}
	if failed != nil {
		return r.stop(failed.Name, GateApply, applyFailure(failed))
	}
	return nil
}

func planFailure(cp *apply.ClusterPlan) string {
	switch {
	case cp.Err != nil:
		return cp.Err.Error()
	case cp.Refused != nil:
		return cp.Refused.Error()
	default:
		return cp.Errors[0].Error()
	}
}

func applyFailure(c *apply.ClusterResult) string {
	if c.Err != nil {
		return c.Err.Error()
	}
	if len(c.Errors) > 0 {
		return c.Errors[0].Error()
	}
	return fmt.Sprintf("%d objects not applied", c.Failed)
}

// clusterEvent says what the apply did to one cluster: applied, already in
// sync (nothing written: a rerun), or failed.
func clusterEvent(wave int, c *apply.ClusterResult) Event {
	ev := Event{Type: EventCluster, Wave: wave, Cluster: c.Name, Status: StatusApplied,
		Created: c.Created, Updated: c.Updated, Deleted: c.Deleted, Unchanged: c.Unchanged}
	switch {
	case !c.OK():
		ev.Status, ev.Message = StatusFailed, applyFailure(c)
	case c.Created+c.Updated+c.Deleted == 0:
		ev.Status = StatusInSync
	}
	return ev
}

// waitGate waits for the gateways' own verdicts on what the wave holds.
func (r *waveRun) waitGate(ctx context.Context) *Stop {
	r.emit(Event{Type: EventGate, Wave: r.wave.Wave, Gate: GateWait, Status: StatusStarted})
	wr := r.eng.Wait(ctx, r.plan, r.res.Apply, r.opts.Timeout)
	r.res.Wait = wr
	if !wr.OK() {
		it := firstRejected(wr.NotAccepted)
		what := fmt.Sprintf("%s %s/%s is %s", it.Kind, it.Namespace, it.Name, it.Status.State)
		if it.Status.Reason != "" {
			what += ": " + it.Status.Reason
		}
		if wr.TimedOut && it.Status.State != status.Rejected {
			what += fmt.Sprintf(" (after %s)", r.opts.Timeout)
		}
		return r.stopHint(it.Cluster, GateWait, what, it.Hint)
	}
	r.emit(Event{Type: EventGate, Wave: r.wave.Wave, Gate: GateWait, Status: StatusPassed,
		Message: fmt.Sprintf("%d objects accepted", wr.Accepted)})
	return nil
}

// firstRejected is the first object its gateway rejected, whose reason
// says most, else the first one still pending.
func firstRejected(items []apply.WaitItem) apply.WaitItem {
	for _, it := range items {
		if it.Status.State == status.Rejected {
			return it
		}
	}
	return items[0]
}

// gateChecks are what the check gate runs on the wave's clusters, and on
// the clusters that fail over to them (which this wave did not write).
var (
	waveChecks      = []string{check.ConfigStatus, check.Drift, check.FailoverReadiness}
	dependentChecks = []string{check.FailoverReadiness}
)

// checkGate runs check's config-status, drift and failover-readiness on
// the wave's clusters and failover-readiness on the clusters whose tiers
// point at them, again and again until they pass or the timeout is over.
func (r *waveRun) checkGate(ctx context.Context) *Stop {
	r.emit(Event{Type: EventGate, Wave: r.wave.Wave, Gate: GateCheck, Status: StatusStarted})
	groups := []struct {
		clusters, checks []string
	}{{r.wave.Clusters, waveChecks}, {r.g.dependents(r.wave.Clusters), dependentChecks}}
	checked := 0
	for _, grp := range groups {
		if len(grp.clusters) == 0 {
			continue
		}
		opts := r.opts.CheckOptions
		opts.Clusters, opts.Exclude = grp.clusters, except(grp.checks)
		progress := r.opts.CheckProgress
		if progress == nil {
			progress = io.Discard
		}
		rep, err := check.RunUntil(ctx, r.f, opts, r.opts.Timeout, false, progress)
		if err != nil {
			return r.stop(grp.clusters[0], GateCheck, err.Error())
		}
		r.res.Check = rep
		if c, finding, hint := firstFailure(rep); c != "" {
			return r.stopHint(c, GateCheck, finding, hint)
		}
		checked += len(grp.clusters)
	}
	r.emit(Event{Type: EventGate, Wave: r.wave.Wave, Gate: GateCheck, Status: StatusPassed,
		Message: fmt.Sprintf("%d clusters checked", checked)})
	return nil
}

// except lists every check but keep, for check.Options.Exclude.
func except(keep []string) []string {
	var out []string
	for _, n := range check.Names {
		if !slices.Contains(keep, n) {
			out = append(out, n)
		}
	}
	return out
}

// firstFailure is the first failing check's cluster and its first failure,
// with the failure's hint.
func firstFailure(rep *check.Report) (cluster, finding, hint string) {
	for _, c := range rep.Clusters {
		for _, res := range c.Checks {
			if res.Status != check.Fail {
				continue
			}
			for _, f := range res.Findings {
				if f.Severity == check.Failure {
					return c.Name, res.Name + ": " + f.Message, f.Hint
				}
			}
			return c.Name, res.Name + " failed", ""
		}
	}
	return "", "", ""
}

// bake waits before the next wave, so that trouble has time to show.
func (r *waveRun) bake(ctx context.Context) *Stop {
	r.emit(Event{Type: EventGate, Wave: r.wave.Wave, Gate: GateBake, Status: StatusStarted, Message: r.opts.Bake.String()})
	select {
	case <-ctx.Done():
		return r.stop(r.wave.Clusters[0], GateBake, "interrupted")
	case <-time.After(r.opts.Bake):
	}
	r.emit(Event{Type: EventGate, Wave: r.wave.Wave, Gate: GateBake, Status: StatusPassed})
	return nil
}
