package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/apply"
)

// DiffOptions are the flags of gatefed diff.
type DiffOptions struct {
	*GlobalOptions
	fleetRunFlags
}

func newDiffCmd(g *GlobalOptions) *cobra.Command {
	o := &DiffOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "diff",
		Short: "Show what gatefed apply would change in every cluster",
		Long: `Diff renders the fleet and compares each cluster's objects with what runs there,
clusters in parallel. Each object that may differ is applied with a server-side
dry run (dryRun=All, field manager "gatefed", strict field validation) and the
server's answer is compared with the live object, both without managedFields,
resourceVersion, generation, uid, creationTimestamp and status. Objects that
would be pruned (gatefed's ApplySet members no longer rendered) show as
deletions. Nothing is written.

The output is a unified YAML diff per object, headed by cluster, operation,
kind and namespace/name, coloured only on a terminal. Secret values are never
shown: data and stringData values read "***" ("*** (before)" and
"*** (after)" when they change). -o json gives
{"clusters":[{"name":..,"changes":[{"op":"create|update|delete","kind":..,
"namespace":..,"name":..,"diff":..}],"errors":[..]}],"summary":{..}}.

A conflict with another field manager, a field the cluster's schema rejects
and an unreachable cluster are errors, listed on stderr (and in -o json).

--discover renders as gatefed render --discover does: before rendering, it
reads which clusters actually run each service (the Service, its port, ready
endpoints in the EndpointSlices) and leaves the clusters where it is not
there out of the service's tiers, so the diff shows the tiers gatefed apply
--discover would write. The affected objects carry the annotation
gatefed.dev/skipped-clusters and stderr has one "Skipped:" line per source
cluster and service. A cluster that cannot be read is an error (exit 2,
nothing compared) unless --discover-unreachable is skip or keep.

Exit status (as kubectl diff): 0 every cluster in sync; 1 changes pending; 2 an
error in any cluster (also when other clusters have changes).

` + exitStatusHelp,
		Example: `  gatefed diff -f fleet/
  gatefed diff -f fleet/ --cluster us-east -o json
  gatefed diff -f fleet/ -l env=prod --prune=false
  gatefed diff -f fleet/ --discover --discover-unreachable=skip`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signalContext(c)
			defer stop()
			return o.Run(ctx)
		},
	}
	o.fleetRunFlags.addTo(c.Flags(), "diff")
	return c
}

// Run diffs the fleet.
func (o *DiffOptions) Run(ctx context.Context) error {
	if err := o.validate(); err != nil {
		return err
	}
	targets, err := o.targets(ctx, o.GlobalOptions)
	if err != nil {
		return err
	}
	return runDiff(ctx, o.GlobalOptions, &o.fleetRunFlags, o.engineOptions(o.GlobalOptions), targets)
}

// runDiff plans and diffs, prints the result and returns the exit status:
// 0 in sync, 1 changes pending, 2 any error. Shared by diff and apply --dry-run.
func runDiff(ctx context.Context, g *GlobalOptions, r *fleetRunFlags, opts apply.Options, targets []apply.Target) error {
	eng, stop := planningEngine(g, targets, opts)
	plan := eng.Plan(ctx, targets)
	eng.Diff(ctx, plan)
	stop()
	if r.Output == "json" {
		if err := apply.WriteDiffJSON(g.IO.Out, plan); err != nil {
			return &exitError{code: ExitError, err: err}
		}
	} else {
		apply.WriteDiff(g.IO.Out, plan, g.IO.ColorEnabled())
	}
	apply.WriteSummary(g.IO.ErrOut, plan)
	apply.WriteErrors(g.IO.ErrOut, plan)
	switch {
	case plan.Failed():
		return silentError()
	case plan.Pending():
		return found()
	}
	fmt.Fprintf(g.IO.ErrOut, "in sync: %d %s\n", len(plan.Clusters), plural(len(plan.Clusters), "cluster", "clusters"))
	return nil
}
