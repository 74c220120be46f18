package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/explain"
)

// ExplainOptions are the flags of gatefed explain.
type ExplainOptions struct {
	*GlobalOptions
	From     []string
	Down     []string
	Missing  []string
	Output   string
	Discover discoverFlags
}

func newExplainCmd(g *GlobalOptions) *cobra.Command {
	o := &ExplainOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "explain [ROUTE|SERVICE]",
		Short: "Show which cluster serves each route's traffic, and what happens if clusters fail",
		Long: `Explain shows, for every source cluster, the failover tiers of each GlobalService
and, for each GlobalRoute rule, which cluster serves which share of its traffic:
the backends' weights as percentages, each served by the first cluster left in
its tiers. It is computed from the fleet alone; no cluster is contacted unless
--discover is given.

An Envoy Gateway source without spec.gateway.strictTiers gives every tier after
the first one shared fallback priority, shown in braces ("a (local) > {b, c}"):
once tier 0 is gone they split its share by weight. Envoy spills traffic to
the next priority once fewer than about 71% of a priority's hosts are healthy
(overprovisioning factor 1.4), and moves all of it once none are; explain's
scenarios take whole clusters or services away.

Name a GlobalRoute or GlobalService ("namespace/name", or a name unique across
namespaces) to explain only it: a service shows the routes that send to it, a
route the services it sends to.

A failure scenario is a what-if: --down CLUSTER takes a cluster out (it neither
serves nor sources traffic); --missing SERVICE@CLUSTER removes one service from
one cluster. --discover adds what the clusters really run (see gatefed render
--help). Any routed service or route rule left without a cluster, and any
route whose every serving cluster is down, is an outage: it is listed, and the
exit status is 1. A rule's mirror is shown too; losing it is a warning.

gatefed moves traffic between gateways, not clients: when a cluster is down,
clients whose traffic enters through its gateway must be moved by DNS or a
global load balancer; the report names the clusters still receiving traffic.

Output is a table on a terminal, tab-separated text otherwise (with the
scenario first and the verdict last), and one JSON document with -o json.

` + exitStatusHelp,
		Example: `  gatefed explain -f fleet/
  gatefed explain -f fleet/ shop/checkout --from us-east
  gatefed explain -f fleet/ --down us-east --missing checkout@eu-west
  gatefed explain -f fleet/ storefront -o json --discover`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			return o.Run(c.Context(), target)
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.From, "from", nil, "explain traffic from this source cluster only (repeatable; default all)")
	f.StringArrayVar(&o.Down, "down", nil, "what if this cluster is down: it neither serves nor sources traffic (repeatable)")
	f.StringArrayVar(&o.Missing, "missing", nil, "what if this service is absent from this cluster: SERVICE@CLUSTER (repeatable)")
	addOutputFlag(f, &o.Output, "table", "json").Usage += " (table is tab-separated when not on a terminal)"
	o.Discover.addTo(f)
	return c
}

// Run explains the fleet; target is a route or service name, or "" for all.
func (o *ExplainOptions) Run(ctx context.Context, target string) error {
	if err := checkOutput(o.Output, "table", "json"); err != nil {
		return err
	}
	if err := o.Discover.validate(); err != nil {
		return err
	}
	f, err := o.loadFleet()
	if err != nil {
		return err
	}
	opts := explain.Options{Target: target, From: o.From, Down: o.Down, Missing: o.Missing}
	// Check names before any cluster is read.
	if _, err := explain.Explain(f, opts); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if o.Discover.Enabled {
		o.Discover.ignore = o.Down // down in the scenario: no need to read them
		if opts.Availability, err = o.Discover.availability(ctx, o.GlobalOptions, f, o.From); err != nil {
			return err
		}
	}
	rep, err := explain.Explain(f, opts)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(o.IO.ErrOut, "Warning: %s\n", w)
	}
	if o.Output == "json" {
		err = explain.WriteJSON(o.IO.Out, rep)
	} else {
		err = explain.WriteText(o.IO.Out, rep, explain.TextOptions{Table: o.IO.OutTTY, Color: o.IO.ColorEnabled()})
	}
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if rep.Outage() {
		if o.Output == "json" || !o.IO.OutTTY {
			fmt.Fprintf(o.IO.ErrOut, "%d %s: traffic with no cluster left\n", len(rep.Outages), plural(len(rep.Outages), "outage", "outages"))
		}
		return found()
	}
	return nil
}
