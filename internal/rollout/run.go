package rollout

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/fleet"
)

// Gates, in the order they run after a wave is applied. GateApply is not
// one to pick: it names a wave whose writes failed.
const (
	GateApply = "apply"
	GateWait  = "wait"
	GateCheck = "check"
	GateBake  = "bake"
)

// ParseGates reads --gates: a comma-separated list of wait and check, or none.
func ParseGates(list []string) (wait, chk bool, err error) {
	for _, item := range list {
		for _, g := range strings.Split(item, ",") {
			switch strings.TrimSpace(g) {
			case GateWait:
				wait = true
			case GateCheck:
				chk = true
			case "none":
				if len(list) > 1 || strings.Contains(item, ",") {
					return false, false, errorf("--gates none cannot be combined with other gates")
				}
			default:
				return false, false, errorf("--gates: unknown gate %q (gates: wait, check; or none)", g)
			}
		}
	}
	return wait, chk, nil
}

// RunOptions steer a rollout.
type RunOptions struct {
	// Engine is the apply engine's options; its Events are the runner's.
	Engine apply.Options
	// Wait and Check pick the gates; Bake, when positive, pauses after them
	// and runs the check gate again.
	Wait, Check bool
	Bake        time.Duration
	// Timeout bounds the wait gate and the check gate's retries.
	Timeout time.Duration
	// CheckOptions are the check gate's (kubeconfig, differ, timeout);
	// the runner sets the clusters and the checks.
	CheckOptions check.Options
	// Events receives the rollout's events, one call at a time.
	Events func(Event)
	// ClusterEvents receives the apply engine's per-cluster progress.
	ClusterEvents func(apply.Event)
	// CheckProgress receives the check gate's retries, one line each.
	CheckProgress io.Writer
}

// Stop is the failure that ended a rollout: the wave, the cluster, the
// gate and what it found. The waves after it were not touched.
type Stop struct {
	Wave    int
	Cluster string
	Gate    string
	Finding string
	// Hint is what the finding's source says to do about it, if anything.
	Hint string
}

func (s *Stop) Error() string {
	return fmt.Sprintf("wave %d, cluster %s, gate %s: %s", s.Wave, s.Cluster, s.Gate, s.Finding)
}

// WaveResult is what a rollout did in one wave.
type WaveResult struct {
	Wave  int
	Apply *apply.Result
	Wait  *apply.WaitReport
	Check *check.Report
}

// Outcome is a rollout: the waves it went through and, when it stopped
// early, why.
type Outcome struct {
	Waves []*WaveResult
	Stop  *Stop
}

// Run rolls the plan out wave by wave: each wave's clusters are applied
// (targets holds every cluster's), then its gates run; the first failure
// stops the rollout and leaves the later waves untouched.
func Run(ctx context.Context, f *fleet.Fleet, p *Plan, targets []apply.Target, opts RunOptions) (*Outcome, error) {
	g, err := newTopology(f, allNames(f), nil)
	if err != nil {
		return nil, err
	}
	byName := map[string]apply.Target{}
	for _, t := range targets {
		byName[t.Cluster.Name()] = t
	}
	out := &Outcome{}
	for _, w := range p.Waves {
		r := &waveRun{opts: opts, f: f, g: g, wave: w, res: &WaveResult{Wave: w.Wave}}
		for _, c := range w.Clusters {
			r.targets = append(r.targets, byName[c])
		}
		out.Waves = append(out.Waves, r.res)
		if out.Stop = r.run(ctx); out.Stop != nil {
			r.emit(Event{Type: EventWave, Wave: w.Wave, Status: StatusFailed, Message: out.Stop.Error()})
			break
		}
		r.emit(Event{Type: EventWave, Wave: w.Wave, Status: StatusPassed})
	}
	return out, nil
}
