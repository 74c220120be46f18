package cmd

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/gitops"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/rollout"
)

// RenderOptions are the flags of gatefed render.
type RenderOptions struct {
	*GlobalOptions
	Output   string
	OutDir   string
	Clusters []string
	Selector string
	Discover discoverFlags
	// SkipsJSON is a file for the skip summary as JSON (with --discover).
	SkipsJSON string
	GitOps    gitops.Options
	Rollout   waveFlags
}

func newRenderCmd(g *GlobalOptions) *cobra.Command {
	o := &RenderOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "render",
		Short: "Render the fleet into per-cluster gateway manifests, offline",
		Long: `Render turns the fleet's GlobalServices and GlobalRoutes into the gateway objects
of every cluster, for its provider, with no cluster at all.

` + providersHelp() + `
Output is deterministic: the same input gives byte-identical output. With -o yaml
(the default) each object is preceded by a "# cluster: NAME" comment; -o json
gives a v1 List. --out-dir writes DIR/<cluster>/<kind>-<namespace>-<name>.yaml
and a kustomization.yaml per cluster. Warnings go to stderr, never into the
manifests.

--discover reads every cluster a service is placed in (its Service, the port
and the EndpointSlices' ready endpoints) and leaves the clusters where it is
not there out of the service's tiers, so that traffic goes to the next cluster
instead of an HTTP 500. Each affected object says why in the annotation
gatefed.dev/skipped-clusters, stderr has one "Skipped:" line per source
cluster and service, and --skips-json FILE writes the same as JSON. A cluster
that cannot be read is an error unless --discover-unreachable is skip or keep.

--gitops argocd|flux (with --out-dir) also writes DIR/gitops/: an Argo CD
ApplicationSet with one Application per rendered cluster, or one Flux
Kustomization per cluster, pointing at DIR/<cluster> in the Git repository.
With --waves (and --canary, --canary-selector, --max-wave-size, as apply
--waves plans them) each Application is labelled gatefed.dev/wave and the
ApplicationSet syncs wave by wave (strategy RollingSync); each Flux
Kustomization depends on those of the wave before and waits for its objects
to be healthy. See docs/gitops.md.

` + exitStatusHelp,
		Example: `  gatefed render -f fleet/
  gatefed render -f fleet/ --cluster us-east -o json
  gatefed render -f fleet/ -l env=prod --out-dir manifests/
  gatefed render -f fleet/ --discover --discover-unreachable=skip
  gatefed render -f fleet/ --out-dir manifests --gitops argocd --gitops-repo https://git.example.com/gw.git
  gatefed render -f fleet/ --out-dir manifests --gitops flux --gitops-local-cluster hub`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return o.Run(c.Context()) },
	}
	f := c.Flags()
	addOutputFlag(f, &o.Output, "yaml", "json")
	f.StringVar(&o.OutDir, "out-dir", "", "write DIR/<cluster>/<kind>-<namespace>-<name>.yaml and a kustomization.yaml per cluster")
	f.StringArrayVar(&o.Clusters, "cluster", nil, "render only this cluster (repeatable)")
	f.StringVarP(&o.Selector, "selector", "l", "", "render only clusters whose labels match this selector")
	o.Discover.addTo(f)
	f.StringVar(&o.SkipsJSON, "skips-json", "", "with --discover, also write the clusters left out of tiers, and why, to this file as JSON")
	f.StringVar(&o.GitOps.Tool, "gitops", "", "with --out-dir, also write DIR/gitops/ for a GitOps controller: argocd (ApplicationSet) or flux (Kustomizations)")
	f.StringVar(&o.GitOps.Repo, "gitops-repo", "", "Git repository URL that holds DIR (argocd)")
	f.StringVar(&o.GitOps.Revision, "gitops-revision", gitops.DefaultRevision, "Git revision Argo CD syncs (argocd)")
	f.StringVar(&o.GitOps.PathPrefix, "gitops-path-prefix", "", "DIR's path from the repository root (default: --out-dir as given)")
	f.StringVar(&o.GitOps.Source, "gitops-source", gitops.DefaultFluxSource, "name of the Flux GitRepository that holds DIR (flux)")
	f.StringVar(&o.GitOps.Namespace, "gitops-namespace", "", "namespace of the ApplicationSet or Kustomizations (default argocd or flux-system)")
	f.StringVar(&o.GitOps.Interval, "gitops-interval", gitops.DefaultInterval, "Flux reconcile interval (flux)")
	o.Rollout.addPlanTo(f, "with --gitops: order the clusters into waves from the failover topology (Argo CD RollingSync steps, Flux dependsOn)")
	f.StringVar(&o.GitOps.LocalCluster, "gitops-local-cluster", "", "the cluster the GitOps controller runs in (Argo CD in-cluster server; Flux without kubeConfig)")
	return c
}

// Run renders and writes the manifests; ctx bounds --discover.
func (o *RenderOptions) Run(ctx context.Context) error {
	if err := checkOutput(o.Output, "yaml", "json"); err != nil {
		return err
	}
	if err := o.Discover.validate(); err != nil {
		return err
	}
	if o.SkipsJSON != "" && !o.Discover.Enabled {
		return &exitError{code: ExitError, err: fmt.Errorf("--skips-json needs --discover")}
	}
	if o.Rollout.Waves && o.GitOps.Tool == "" || !o.Rollout.Waves && (len(o.Rollout.Canary) > 0 || o.Rollout.CanarySelector != "" || o.Rollout.MaxWaveSize != 0) {
		return &exitError{code: ExitError, err: fmt.Errorf("render takes --waves (with --canary, --canary-selector, --max-wave-size) only with --gitops")}
	}
	if o.GitOps.Tool != "" && o.OutDir == "" {
		return &exitError{code: ExitError, err: fmt.Errorf("--gitops needs --out-dir: the objects point at DIR/<cluster> in the repository")}
	}
	f, err := o.loadFleet()
	if err != nil {
		return err
	}
	opts := render.Options{Clusters: o.Clusters, Selector: o.Selector}
	selected, err := render.Select(f, opts)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if o.GitOps.Tool != "" {
		o.GitOps.Dir, o.GitOps.Kubeconfig = o.OutDir, o.Kubeconfig
		if err := o.GitOps.Complete(f, selected); err != nil {
			return &exitError{code: ExitError, err: err}
		}
		if o.GitOps.Waves, err = o.gitopsWaves(f, selected); err != nil {
			return err
		}
	}
	if o.Discover.Enabled {
		names := make([]string, len(selected))
		for i, c := range selected {
			names[i] = c.Name()
		}
		if opts.Availability, err = o.Discover.availability(ctx, o.GlobalOptions, f, names); err != nil {
			return err
		}
	}
	// Clusters are rendered and written one by one, so that memory stays
	// bounded by a few clusters however large the fleet.
	var (
		skips    []render.SkipReport
		rendered []*fleet.Cluster
		files    []string
		emit     func(*render.ClusterOutput) error
		list     *render.ListWriter
	)
	switch {
	case o.OutDir != "":
		emit = func(c *render.ClusterOutput) error {
			written, err := render.WriteClusterDir(o.OutDir, c)
			files = append(files, written...)
			return err
		}
	case o.Output == "json":
		list = render.NewListWriter(o.IO.Out)
		emit = list.Write
	default:
		emit = render.NewYAMLWriter(o.IO.Out).Write
	}
	err = render.Each(f, opts, func(c *render.ClusterOutput) error {
		for _, w := range c.Warnings {
			fmt.Fprintf(o.IO.ErrOut, "Warning: %s\n", w)
		}
		skips = append(skips, c.Skips...)
		rendered = append(rendered, c.Cluster)
		return emit(c)
	})
	if err == nil && list != nil {
		err = list.Close()
	}
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if o.Discover.Enabled {
		printSkips(o.IO.ErrOut, skips)
		if o.SkipsJSON != "" {
			if err := writeSkipsJSON(o.SkipsJSON, skips); err != nil {
				return &exitError{code: ExitError, err: err}
			}
		}
	}
	if o.OutDir == "" {
		return nil
	}
	if o.GitOps.Tool != "" {
		objs, err := gitops.Objects(rendered, &o.GitOps)
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		written, err := gitops.Write(o.OutDir, objs)
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		files = append(files, written...)
	}
	fmt.Fprintf(o.IO.ErrOut, "wrote %d files for %d %s under %s\n", len(files), len(rendered), plural(len(rendered), "cluster", "clusters"), o.OutDir)
	if o.GitOps.Tool != "" {
		fmt.Fprintf(o.IO.ErrOut, "wrote the %s hand-off under %s\n", o.GitOps.Tool, filepath.Join(o.OutDir, gitops.SubDir))
	}
	return nil
}

// gitopsWaves plans the waves of the selected clusters, for --gitops --waves.
func (o *RenderOptions) gitopsWaves(f *fleet.Fleet, selected []*fleet.Cluster) (map[string]int, error) {
	if !o.Rollout.Waves {
		return nil, nil
	}
	names := make([]string, len(selected))
	for i, c := range selected {
		names[i] = c.Name()
	}
	p, err := o.Rollout.plan(f, names)
	if err != nil {
		return nil, err
	}
	if err := rollout.WriteNotes(o.IO.ErrOut, p); err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	waves := map[string]int{}
	for _, c := range names {
		waves[c] = p.Of(c)
	}
	return waves, nil
}
