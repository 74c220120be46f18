package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/render"
)

// RenderOptions are the flags of gatefed render.
type RenderOptions struct {
	*GlobalOptions
	Output   string
	OutDir   string
	Clusters []string
	Selector string
}

func init() { register(newRenderCmd) }

func newRenderCmd(g *GlobalOptions) *cobra.Command {
	o := &RenderOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "render",
		Short: "Render the fleet into per-cluster gateway manifests, offline",
		Long: `Render turns the fleet's GlobalServices and GlobalRoutes into the gateway objects
of every cluster (Gloo Edge or Envoy Gateway), with no cluster at all.

Output is deterministic: the same input gives byte-identical output. With -o yaml
(the default) each object is preceded by a "# cluster: NAME" comment; -o json
gives a v1 List. --out-dir writes DIR/<cluster>/<kind>-<namespace>-<name>.yaml
and a kustomization.yaml per cluster. Warnings go to stderr, never into the
manifests.

` + exitStatusHelp,
		Example: `  gatefed render -f fleet/
  gatefed render -f fleet/ --cluster us-east -o json
  gatefed render -f fleet/ -l env=prod --out-dir manifests/`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return o.Run() },
	}
	f := c.Flags()
	f.StringVarP(&o.Output, "output", "o", "yaml", "output format: yaml|json")
	f.StringVar(&o.OutDir, "out-dir", "", "write DIR/<cluster>/<kind>-<namespace>-<name>.yaml and a kustomization.yaml per cluster")
	f.StringArrayVar(&o.Clusters, "cluster", nil, "render only this cluster (repeatable)")
	f.StringVarP(&o.Selector, "selector", "l", "", "render only clusters whose labels match this selector")
	return c
}

// Run renders and writes the manifests.
func (o *RenderOptions) Run() error {
	if o.Output != "yaml" && o.Output != "json" {
		return &exitError{code: ExitError, err: fmt.Errorf("unknown output format %q: use yaml or json", o.Output)}
	}
	f, err := o.loadFleet()
	if err != nil {
		return err
	}
	res, err := render.Render(f, render.Options{Clusters: o.Clusters, Selector: o.Selector})
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(o.IO.ErrOut, "Warning: %s\n", w)
	}
	if o.OutDir != "" {
		files, err := render.WriteDir(o.OutDir, res)
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		fmt.Fprintf(o.IO.ErrOut, "wrote %d files for %d %s under %s\n", len(files), len(res.Clusters), plural(len(res.Clusters), "cluster", "clusters"), o.OutDir)
		return nil
	}
	if o.Output == "json" {
		err = render.WriteJSON(o.IO.Out, res)
	} else {
		err = render.WriteYAML(o.IO.Out, res)
	}
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	return nil
}
