package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/cluster"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
)

// ClusterListOptions are the flags of gatefed cluster list.
type ClusterListOptions struct {
	*GlobalOptions
	Output  string
	Offline bool
	Timeout time.Duration
}

func newClusterListCmd(g *GlobalOptions) *cobra.Command {
	o := &ClusterListOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "list",
		Short: "List the fleet's clusters and whether their API servers answer",
		Long: `List shows every Cluster document of the fleet: NAME, CONTEXT, PROVIDER,
REGION/ZONE, FAILOVER, and whether its API server answers (REACHABLE), with its
VERSION and the LATENCY of that request. Clusters are probed in parallel, each
within --timeout: an unreachable cluster shows REACHABLE=false and never holds up
the list. --offline skips probing. The reason a cluster is unreachable goes to
stderr. List reports reachability, it does not fail on it: the exit status is 0
unless the fleet cannot be read.

` + exitStatusHelp,
		Example: `  gatefed cluster list -f fleet/
  gatefed cluster list -f fleet/ --offline
  gatefed cluster list -f fleet/ -o json --timeout 2s`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return o.Run(c.Context()) },
	}
	f := c.Flags()
	addOutputFlag(f, &o.Output, "table", "json", "yaml")
	f.BoolVar(&o.Offline, "offline", false, "do not contact the clusters")
	f.DurationVar(&o.Timeout, "timeout", 5*time.Second, "how long to wait for each cluster")
	return c
}

// Run probes the clusters and prints them.
func (o *ClusterListOptions) Run(ctx context.Context) error {
	if err := checkOutput(o.Output, "table", "json", "yaml"); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return &exitError{code: ExitError, err: fmt.Errorf("invalid --timeout %s: must be positive", o.Timeout)}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	f, err := o.loadFleet()
	if err != nil {
		return err
	}
	rows := cluster.Probe(ctx, f.Clusters, cluster.ProbeOptions{Kubeconfig: o.Kubeconfig, Timeout: o.Timeout, Offline: o.Offline})
	switch o.Output {
	case "json":
		return writeJSON(o.IO.Out, map[string]any{"clusters": rows})
	case "yaml":
		return writeClusterYAML(o.IO.Out, map[string]any{"clusters": rows})
	}
	if err := cluster.WriteList(o.IO.Out, rows, o.IO.OutTTY, o.IO.ColorEnabled()); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(o.IO.ErrOut, "cluster %s: %s\n", r.Name, r.Error)
		}
	}
	return nil
}

// ClusterShowOptions are the flags of gatefed cluster show.
type ClusterShowOptions struct {
	*GlobalOptions
	Output string
}

func newClusterShowCmd(g *GlobalOptions) *cobra.Command {
	o := &ClusterShowOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Print one cluster's Cluster document, with defaults filled in",
		Long: `Show prints the Cluster document of one cluster as the fleet loader sees it,
defaults filled in. In YAML, comments say where it is defined and which API
server its kubeconfig context names. Nothing is contacted.

` + exitStatusHelp,
		Example: `  gatefed cluster show us-east -f fleet/
  gatefed cluster show us-east -f fleet/ -o json`,
		Args: clusterArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error { return o.Run(c.Context(), args[0]) },
	}
	addOutputFlag(c.Flags(), &o.Output, "yaml", "json")
	return c
}

// Run prints the cluster.
func (o *ClusterShowOptions) Run(_ context.Context, name string) error {
	if err := checkOutput(o.Output, "yaml", "json"); err != nil {
		return err
	}
	f, err := o.loadFleet()
	if err != nil {
		return err
	}
	c := f.Cluster(name)
	if c == nil {
		return &exitError{code: ExitError, err: unknownClusterError(f, name)}
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, c)
	}
	fmt.Fprintf(o.IO.Out, "# %s:%d\n", c.Source.File, c.Source.Line)
	if cfg, err := kube.RESTConfig(c, o.Kubeconfig); err == nil {
		fmt.Fprintf(o.IO.Out, "# server %s\n", cfg.Host)
	}
	return writeClusterYAML(o.IO.Out, c)
}

func unknownClusterError(f *fleet.Fleet, name string) error {
	names := make([]string, 0, len(f.Clusters))
	for _, c := range f.Clusters {
		names = append(names, c.Name())
	}
	sort.Strings(names)
	known := "the fleet has no clusters"
	if len(names) > 0 {
		known = "clusters: " + strings.Join(names, ", ")
	}
	return fmt.Errorf("no cluster %q in the fleet (%s)", name, known)
}

func writeClusterYAML(w interface{ Write([]byte) (int, error) }, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}
