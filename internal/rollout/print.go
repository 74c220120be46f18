package rollout

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WritePlanText prints the waves: WAVE, CLUSTERS, WHY APART, one line for
// each pair that keeps a cluster of the wave out of another wave; then the
// plan's notes.
func WritePlanText(w io.Writer, p *Plan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAVE\tCLUSTERS\tWHY APART")
	for _, wv := range p.Waves {
		name := fmt.Sprint(wv.Wave)
		if wv.Canary {
			name += " (canary)"
		}
		why := []string{"no failover tie to another wave"}
		if len(wv.Apart) > 0 {
			why = why[:0]
			for _, a := range wv.Apart {
				if a.Relation != IsFailoverFor {
					why = append(why, a.String())
				}
			}
			if len(why) == 0 {
				// Only others fail over to this wave's clusters.
				for _, a := range wv.Apart {
					why = append(why, a.String())
				}
			}
		}
		for i, line := range why {
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", name, strings.Join(wv.Clusters, ", "), line)
			} else {
				fmt.Fprintf(tw, "\t\t%s\n", line)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return WriteNotes(w, p)
}

// WriteNotes prints the plan's notes, "Note: ..." one a line.
func WriteNotes(w io.Writer, p *Plan) error {
	for _, n := range p.Notes {
		if _, err := fmt.Fprintf(w, "Note: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

// WritePlanJSON prints {"waves":[{"wave":1,"clusters":[...],"apart":[...]}],"notes":[...]}.
func WritePlanJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}
