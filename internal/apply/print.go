package apply

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"

	"github.com/gatefed/gatefed/internal/status"
)

var (
	styleFailed  = lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
	styleTableHd = lipgloss.NewStyle().Bold(true).Padding(0, 1)
	styleCell    = lipgloss.NewStyle().Padding(0, 1)
)

// ANSI colours of diff lines (only when color is set).
const (
	ansiBold  = "\x1b[1m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
	ansiCyan  = "\x1b[36m"
	ansiReset = "\x1b[0m"
)

// WriteDiff prints every pending change as a unified YAML diff headed by
// cluster, operation, kind and namespace/name. Colour only when color is set.
func WriteDiff(w io.Writer, p *Plan, color bool) {
	paint := func(code, text string) string {
		if !color {
			return text
		}
		return code + text + ansiReset
	}
	for _, cp := range p.Clusters {
		for _, c := range cp.Changes {
			if c.Op == OpUnchanged || c.Diff == "" {
				continue
			}
			fmt.Fprintln(w, paint(ansiBold, fmt.Sprintf("# %s: %s %s", cp.Name, c.Op, c.Ref())))
			for _, line := range strings.SplitAfter(c.Diff, "\n") {
				if line == "" {
					continue
				}
				text := strings.TrimSuffix(line, "\n")
				switch {
				case strings.HasPrefix(text, "+++"), strings.HasPrefix(text, "---"):
					text = paint(ansiBold, text)
				case strings.HasPrefix(text, "@@"):
					text = paint(ansiCyan, text)
				case strings.HasPrefix(text, "+"):
					text = paint(ansiGreen, text)
				case strings.HasPrefix(text, "-"):
					text = paint(ansiRed, text)
				}
				fmt.Fprintln(w, text)
			}
		}
	}
}

// WriteSummary prints one line per cluster: what an apply would do, or why
// the cluster cannot be planned.
func WriteSummary(w io.Writer, p *Plan) {
	for _, cp := range p.Clusters {
		if cp.Err != nil {
			fmt.Fprintf(w, "%s: failed (the error is listed below)\n", cp.Name)
			continue
		}
		line := fmt.Sprintf("%s: %d to create, %d to update, %d to delete, %d unchanged",
			cp.Name, cp.Count(OpCreate), cp.Count(OpUpdate), cp.Count(OpDelete), cp.Count(OpUnchanged))
		if n := len(cp.Errors); n > 0 {
			line += fmt.Sprintf(", %d failed", n)
		}
		fmt.Fprintln(w, line)
		if cp.Refused != nil {
			fmt.Fprintf(w, "%s: refused (the reason is listed below)\n", cp.Name)
		}
	}
}

// WriteErrors prints each failure of a plan, one per line, prefixed by the cluster.
func WriteErrors(w io.Writer, p *Plan) {
	for _, cp := range p.Clusters {
		if cp.Err != nil {
			fmt.Fprintf(w, "Error: %s: %v\n", cp.Name, cp.Err)
		}
		if cp.Refused != nil {
			fmt.Fprintf(w, "Error: %s: %v\n", cp.Name, cp.Refused)
		}
		for _, oe := range cp.Errors {
			fmt.Fprintf(w, "Error: %s: %v\n", cp.Name, oe)
		}
	}
}

// Summary counts a plan or an apply over the fleet.
type Summary struct {
	Clusters  int  `json:"clusters"`
	Create    int  `json:"create"`
	Update    int  `json:"update"`
	Delete    int  `json:"delete"`
	Unchanged int  `json:"unchanged"`
	Failed    int  `json:"failed"`
	InSync    bool `json:"inSync"`
}

type jsonError struct {
	Kind      string          `json:"kind,omitempty"`
	Namespace string          `json:"namespace,omitempty"`
	Name      string          `json:"name,omitempty"`
	Error     string          `json:"error"`
	Conflicts []FieldConflict `json:"conflicts,omitempty"`
}

func jsonErrors(clusterErr error, errs []*ObjectError) []jsonError {
	var out []jsonError
	if clusterErr != nil {
		out = append(out, jsonError{Error: clusterErr.Error()})
	}
	for _, oe := range errs {
		out = append(out, jsonError{Kind: oe.Kind, Namespace: oe.Namespace, Name: oe.Name, Error: oe.message(), Conflicts: oe.Conflicts})
	}
	return out
}

type jsonPlanCluster struct {
	Name    string      `json:"name"`
	Changes []*Change   `json:"changes"`
	Errors  []jsonError `json:"errors,omitempty"`
}

type jsonPlan struct {
	Clusters []jsonPlanCluster `json:"clusters"`
	Summary  Summary           `json:"summary"`
}

// WriteDiffJSON prints the plan as {"clusters":[{"name","changes":[{"op",
// "kind","namespace","name","diff"}]}],"summary":{...}}.
func WriteDiffJSON(w io.Writer, p *Plan) error {
	out := jsonPlan{Clusters: []jsonPlanCluster{}}
	s := &out.Summary
	s.Clusters = len(p.Clusters)
	for _, cp := range p.Clusters {
		jc := jsonPlanCluster{Name: cp.Name, Changes: []*Change{}}
		refused := cp.Err
		if refused == nil {
			refused = cp.Refused
		}
		jc.Errors = jsonErrors(refused, cp.Errors)
		for _, c := range cp.Changes {
			switch c.Op {
			case OpUnchanged:
				s.Unchanged++
				continue
			case OpCreate:
				s.Create++
			case OpUpdate:
				s.Update++
			case OpDelete:
				s.Delete++
			}
			jc.Changes = append(jc.Changes, c)
		}
		s.Failed += len(cp.Errors)
		if cp.Err != nil || cp.Refused != nil {
			s.Failed++
		}
		out.Clusters = append(out.Clusters, jc)
	}
	s.InSync = !p.Pending() && !p.Failed()
	return writeJSON(w, out)
}

type jsonResultCluster struct {
	Name      string      `json:"name"`
	Created   int         `json:"created"`
	Updated   int         `json:"updated"`
	Deleted   int         `json:"deleted"`
	Unchanged int         `json:"unchanged"`
	Failed    int         `json:"failed"`
	Seconds   float64     `json:"seconds"`
	Errors    []jsonError `json:"errors,omitempty"`
}

type jsonResult struct {
	Clusters []jsonResultCluster `json:"clusters"`
	Summary  Summary             `json:"summary"`
	Wait     *WaitReport         `json:"wait,omitempty"`
}

// WriteResultJSON prints an apply's per-cluster counts and failures (and the
// wait report, when there was one).
func WriteResultJSON(w io.Writer, r *Result, wait *WaitReport) error {
	out := jsonResult{Clusters: []jsonResultCluster{}, Wait: wait}
	s := &out.Summary
	s.Clusters = len(r.Clusters)
	for _, c := range r.Clusters {
		out.Clusters = append(out.Clusters, jsonResultCluster{
			Name: c.Name, Created: c.Created, Updated: c.Updated, Deleted: c.Deleted,
			Unchanged: c.Unchanged, Failed: failedCount(c), Seconds: c.Duration.Round(time.Millisecond).Seconds(),
			Errors: jsonErrors(c.Err, c.Errors),
		})
		s.Create += c.Created
		s.Update += c.Updated
		s.Delete += c.Deleted
		s.Unchanged += c.Unchanged
		s.Failed += failedCount(c)
	}
	s.InSync = !r.Failed()
	return writeJSON(w, out)
}

// failedCount is at least 1 for a cluster that failed as a whole.
func failedCount(c *ClusterResult) int {
	if c.Failed == 0 && c.Err != nil {
		return 1
	}
	return c.Failed
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteResultTable prints CLUSTER, CREATED, UPDATED, DELETED, UNCHANGED,
// FAILED, TIME: a lipgloss table when styled, tab-separated text otherwise.
func WriteResultTable(w io.Writer, r *Result, styled bool) {
	header := []string{"CLUSTER", "CREATED", "UPDATED", "DELETED", "UNCHANGED", "FAILED", "TIME"}
	var rows [][]string
	for _, c := range r.Clusters {
		rows = append(rows, []string{
			c.Name, fmt.Sprint(c.Created), fmt.Sprint(c.Updated), fmt.Sprint(c.Deleted),
			fmt.Sprint(c.Unchanged), fmt.Sprint(failedCount(c)), c.Duration.Round(time.Millisecond).String(),
		})
	}
	writeTable(w, header, rows, styled, func(row, col int) lipgloss.Style {
		if col == 5 && rows[row][5] != "0" {
			return styleCell.Inherit(styleFailed)
		}
		return styleCell
	})
}

// WriteResultErrors lists each failure with its cause.
func WriteResultErrors(w io.Writer, r *Result) {
	for _, c := range r.Clusters {
		if c.Err != nil {
			fmt.Fprintf(w, "Error: %s: %v\n", c.Name, c.Err)
		}
		for _, oe := range c.Errors {
			fmt.Fprintf(w, "Error: %s: %v\n", c.Name, oe)
		}
	}
}

// WriteWaitReport lists the objects no gateway accepted.
func WriteWaitReport(w io.Writer, wr *WaitReport, styled bool) {
	if wr.OK() {
		fmt.Fprintf(w, "all %d objects accepted by their gateways\n", wr.Accepted)
		return
	}
	header := []string{"CLUSTER", "KIND", "NAMESPACE/NAME", "STATE", "REASON"}
	var rows [][]string
	for _, it := range wr.NotAccepted {
		rows = append(rows, []string{it.Cluster, it.Kind, it.Namespace + "/" + it.Name, string(it.Status.State), it.Status.Reason})
	}
	writeTable(w, header, rows, styled, func(row, col int) lipgloss.Style {
		if col == 3 && rows[row][3] == string(status.Rejected) {
			return styleCell.Inherit(styleFailed)
		}
		return styleCell
	})
	for _, it := range wr.NotAccepted {
		if it.Hint != "" {
			fmt.Fprintf(w, "hint: %s %s %s/%s: %s\n", it.Cluster, it.Kind, it.Namespace, it.Name, it.Hint)
		}
	}
}

func writeTable(w io.Writer, header []string, rows [][]string, styled bool, cell func(row, col int) lipgloss.Style) {
	if !styled {
		fmt.Fprintln(w, strings.Join(header, "\t"))
		for _, r := range rows {
			fmt.Fprintln(w, strings.Join(r, "\t"))
		}
		return
	}
	t := table.New().Border(lipgloss.NormalBorder()).Headers(header...).Rows(rows...).
		StyleFunc(func(row, col int) lipgloss.Style {
			if row == table.HeaderRow {
				return styleTableHd
			}
			return cell(row, col)
		})
	fmt.Fprintln(w, t.Render())
}
