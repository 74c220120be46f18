package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/fleet"
)

// ValidateOptions are the flags of gatefed validate.
type ValidateOptions struct {
	*GlobalOptions
	Output string
}

func newValidateCmd(g *GlobalOptions) *cobra.Command {
	o := &ValidateOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "validate",
		Short: "Check the fleet's documents and report every problem",
		Long: `Validate reads the fleet (-f) and reports every problem at once, each as
FILE:LINE: KIND NAMESPACE/NAME: field.path: message.

` + exitStatusHelp,
		Example: `  gatefed validate -f fleet/
  cat fleet.yaml | gatefed validate -f -
  gatefed validate -f fleet/ -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return o.Run(c.Context()) },
	}
	addOutputFlag(c.Flags(), &o.Output, "text", "json")
	return c
}

type validateReport struct {
	Valid    bool `json:"valid"`
	Clusters int  `json:"clusters"`
	Services int  `json:"services"`
	Routes   int  `json:"routes"`
	// Extensions is the number of GlobalExtensions.
	Extensions int                `json:"extensions"`
	Errors     []fleet.FieldError `json:"errors"`
}

// Run validates and prints the result.
func (o *ValidateOptions) Run(context.Context) error {
	if err := checkOutput(o.Output, "text", "json"); err != nil {
		return err
	}
	switch o.Output {
	case "text":
		f, err := o.loadFleet()
		if err != nil {
			return err
		}
		extensions := ""
		if n := len(f.Extensions); n > 0 {
			extensions = fmt.Sprintf(", %d %s", n, plural(n, "extension", "extensions"))
		}
		fmt.Fprintf(o.IO.Out, "fleet is valid: %d %s, %d %s, %d %s%s\n",
			len(f.Clusters), plural(len(f.Clusters), "cluster", "clusters"),
			len(f.Services), plural(len(f.Services), "service", "services"),
			len(f.Routes), plural(len(f.Routes), "route", "routes"), extensions)
		return nil
	default:
		_, n, err := fleet.LoadWith(o.Filenames, o.loadOptions())
		// The counts are the documents read, valid or not.
		rep := validateReport{Errors: []fleet.FieldError{},
			Clusters: n.Clusters, Services: n.Services, Routes: n.Routes, Extensions: n.Extensions}
		var errs fleet.Errors
		switch {
		case errors.As(err, &errs):
			rep.Errors = errs
		case err != nil:
			return &exitError{code: ExitError, err: err}
		default:
			rep.Valid = true
		}
		if err := writeJSON(o.IO.Out, rep); err != nil {
			return err
		}
		if !rep.Valid {
			return silentError()
		}
		return nil
	}
}
