package cmd

import (
	"errors"
	"fmt"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// loadFleet reads and validates the fleet named by -f. It names on stderr
// what it skips; on bad input it prints every problem to stderr and returns
// an error with exit status 2.
func (g *GlobalOptions) loadFleet() (*fleet.Fleet, error) {
	f, _, err := fleet.LoadWith(g.Filenames, g.loadOptions())
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

// loadOptions read the fleet from -f, and name what is skipped on stderr.
func (g *GlobalOptions) loadOptions() fleet.LoadOptions {
	return fleet.LoadOptions{Stdin: g.IO.In, Skipped: func(line string) { fmt.Fprintln(g.IO.ErrOut, line) }}
}
