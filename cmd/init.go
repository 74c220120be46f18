package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/initfleet"
)

// InitOptions are the flags of gatefed init.
type InitOptions struct {
	*GlobalOptions
	File  string
	Force bool
}

func newInitCmd(g *GlobalOptions) *cobra.Command {
	o := &InitOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a commented starter fleet that validates as written",
		Long: `Init writes a commented starter fleet: GlobalServices that show ordered and
locality failover and every placement form (by names, by label selector, both,
and every cluster), and a GlobalRoute that sends to them. It validates as
written.

The clusters are those already registered in the fleet (-f; see gatefed
cluster register). When there are none, init writes three example clusters as
well, one per provider, to be replaced by registered ones.

` + providersHelp() + `
The starter goes to fleet.yaml in the first -f directory (--file elsewhere,
--file - to stdout). A file init wrote before is left alone unless --force;
any other existing file always is. A fleet that already has GlobalServices or
GlobalRoutes is refused.

` + exitStatusHelp,
		Example: `  gatefed init                         # ./fleet.yaml, then: gatefed validate
  gatefed cluster register us-east --context ctx-a --provider gloo && gatefed init
  gatefed init -f fleet/ --file -`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return o.Run() },
	}
	c.Flags().StringVar(&o.File, "file", "", "where to write the starter fleet (default fleet.yaml in the first -f directory; - for stdout)")
	c.Flags().BoolVar(&o.Force, "force", false, "overwrite a file init wrote before")
	return c
}

// Run writes the starter fleet and says what comes next.
func (o *InitOptions) Run() error {
	res, err := initfleet.Run(initfleet.Options{Paths: o.Filenames, File: o.File, Force: o.Force, Out: o.IO.Out})
	if errs, ok := err.(fleet.Errors); ok {
		for _, e := range errs {
			fmt.Fprintln(o.IO.ErrOut, e.Error())
		}
		return &exitError{code: ExitError, err: fmt.Errorf("%d %s in the fleet: fix them, then run init again", len(errs), plural(len(errs), "error", "errors"))}
	}
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if res.File == "-" {
		return nil
	}
	from := "three example clusters, one per provider: replace them with gatefed cluster register"
	if len(res.Registered) > 0 {
		from = fmt.Sprintf("the %d registered %s", len(res.Registered), plural(len(res.Registered), "cluster", "clusters"))
	}
	fmt.Fprintf(o.IO.Out, "wrote %s: a starter fleet for %s\nnext: gatefed validate, then gatefed explain and gatefed render\n", res.File, from)
	return nil
}
