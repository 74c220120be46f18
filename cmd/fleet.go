package cmd

import (
	"errors"
	"fmt"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// loadFleet reads and validates the fleet named by -f. On bad input it
// prints every problem to stderr and returns an error with exit status 2.
func (g *GlobalOptions) loadFleet() (*fleet.Fleet, error) {
	f, err := fleet.Load(g.Filenames, g.IO.In)
	var errs fleet.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(g.IO.ErrOut, e.Error())
		}
		fmt.Fprintf(g.IO.ErrOut, "%d %s in the fleet; nothing was done\n", len(errs), plural(len(errs), "error", "errors"))
		return nil, silentError()
	}
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	render.FitMemoryLimit(len(f.Clusters))
	return f, nil
}

// plural is the one plural of every message.
var plural = fleet.Plural
