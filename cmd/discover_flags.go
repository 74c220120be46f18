package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatefed/gatefed/internal/discover"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
	"github.com/gatefed/gatefed/internal/render"
)

// discoverFlags are --discover, --discover-unreachable and
// --discover-timeout: read which clusters actually run each service, so
// that tiers leave out the clusters where it is missing, lacks the port or
// has no ready endpoints. Shared by render, explain, diff and apply.
type discoverFlags struct {
	Enabled     bool
	Unreachable string
	Timeout     time.Duration
	// ignore are clusters not to read (explain's --down).
	ignore []string
}

// addTo registers the flags.
func (d *discoverFlags) addTo(fs *pflag.FlagSet) {
	fs.BoolVar(&d.Enabled, "discover", false, "read each cluster's Services and EndpointSlices and leave clusters where a service is absent, lacks its port or has no ready endpoint out of its tiers")
	fs.StringVar(&d.Unreachable, "discover-unreachable", discover.UnreachableError, "with --discover, a cluster that cannot be read: error (exit 2), skip (treat as unavailable) or keep (treat as available)")
	fs.DurationVar(&d.Timeout, "discover-timeout", discover.DefaultTimeout, "with --discover, time limit for reading one cluster")
}

// validate checks the flags before anything is read.
func (d *discoverFlags) validate() error {
	if !slices.Contains(discover.UnreachablePolicies, d.Unreachable) {
		return &exitError{code: ExitError, err: fmt.Errorf("--discover-unreachable %q: use %s", d.Unreachable, strings.Join(discover.UnreachablePolicies, ", "))}
	}
	if d.Timeout <= 0 {
		return &exitError{code: ExitError, err: fmt.Errorf("--discover-timeout must be positive, not %s", d.Timeout)}
	}
	return nil
}

// availability reads presence from the clusters when --discover is set and
// returns nil (every placed cluster available) otherwise. sources are the
// clusters being rendered (nil: all); only clusters their tiers can reach
// are read. Clusters that could not be read under skip or keep are
// reported on stderr; under error they end the command with status 2.
func (d *discoverFlags) availability(ctx context.Context, g *GlobalOptions, f *fleet.Fleet, sources []string) (plan.Availability, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	if !d.Enabled {
		return nil, nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := discover.Discover(ctx, f, discover.Options{
		Sources:     sources,
		Kubeconfig:  g.Kubeconfig,
		Unreachable: d.Unreachable,
		Timeout:     d.Timeout,
		Ignore:      d.ignore,
	})
	var ue *discover.UnreachableClustersError
	if errors.As(err, &ue) {
		return nil, &exitError{code: ExitError, err: fmt.Errorf("--discover: %w", err)}
	}
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	for _, u := range res.Unreachable {
		what := "its services are treated as unavailable (--discover-unreachable=skip)"
		if d.Unreachable == discover.UnreachableKeep {
			what = "its services are assumed to be there (--discover-unreachable=keep)"
		}
		fmt.Fprintf(g.IO.ErrOut, "Warning: cannot read cluster %s: %v; %s\n", u.Cluster, u.Err, what)
	}
	return res, nil
}

// printSkips writes one line per source cluster and service whose tiers
// left clusters out, with the reasons.
func printSkips(w io.Writer, skips []render.SkipReport) {
	for _, s := range skips {
		parts := make([]string, len(s.Skipped))
		for i, k := range s.Skipped {
			parts[i] = fmt.Sprintf("%s (%s)", k.Cluster, k.Reason)
		}
		fmt.Fprintf(w, "Skipped: cluster %s: GlobalService %s: %s\n", s.Cluster, s.Service, strings.Join(parts, ", "))
	}
}

// writeSkipsJSON writes {"skips":[{cluster, service, skipped:[{cluster, reason}]}]} to path.
func writeSkipsJSON(path string, skips []render.SkipReport) error {
	if skips == nil {
		skips = []render.SkipReport{}
	}
	b, err := json.MarshalIndent(map[string]any{"skips": skips}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
