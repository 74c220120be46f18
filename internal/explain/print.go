package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/muesli/termenv"

	"github.com/gatefed/gatefed/internal/fleet"
)

// TextOptions choose between a drawn table and tab-separated text.
type TextOptions struct {
	// Table draws lipgloss tables (for a terminal); otherwise rows are tab-separated.
	Table bool
	// Color colours the tables' headers and outages.
	Color bool
}

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Service table and route table headers.
var (
	serviceHeader = []string{"SOURCE", "SERVICE", "POLICY", "ROUTED", "TIERS", "SKIPPED"}
	routeHeader   = []string{"SOURCE", "ROUTE", "RULE", "MATCH", "BACKEND", "SHARE", "SERVED BY"}
)

// ServiceRows are the service table's rows.
func ServiceRows(rep *Report) [][]string {
	var rows [][]string
	for _, s := range rep.Services {
		tierText := tierText(s.Tiers)
		if len(s.Tiers) == 0 {
			tierText = "none"
			if s.Routed {
				tierText = "NONE: outage"
			}
		}
		skipped := SkipList(s.Skipped)
		if skipped == "" {
			skipped = "-"
		}
		rows = append(rows, []string{s.Source, s.Service, s.Policy, yesNo(s.Routed), tierText, skipped})
	}
	return rows
}

// RouteRows are the route table's rows: one per backend of each rule.
func RouteRows(rep *Report) [][]string {
	var rows [][]string
	for _, r := range rep.Routes {
		for _, rule := range r.Rules {
			if rule.Answer != "" {
				rows = append(rows, []string{r.Source, r.Route, rule.Rule, rule.Match, "-", "100%", "the gateway (" + rule.Answer + ")"})
			}
			for _, b := range rule.Backends {
				rows = append(rows, []string{r.Source, r.Route, rule.Rule, rule.Match, b.Service, FormatPercent(b.Percent) + "%", servedBy(b)})
			}
			if m := rule.Mirror; m != nil {
				rows = append(rows, []string{r.Source, r.Route, rule.Rule, rule.Match, "mirror " + m.Service, "copy of " + FormatPercent(m.Percent) + "%", mirroredBy(m)})
			}
		}
	}
	return rows
}

func servedBy(b BackendTraffic) string {
	switch {
	case b.Weight == 0:
		return "- (weight 0)"
	case b.Cluster == "":
		return "NONE: HTTP 500"
	case b.Local:
		return b.Cluster + " (local)"
	case len(b.Split) > 0:
		parts := make([]string, len(b.Split))
		for i, s := range b.Split {
			parts[i] = s.Cluster + " " + FormatPercent(s.Percent) + "%"
		}
		return strings.Join(parts, ", ") + " (shared fallback priority, failover from " + b.Usual + ")"
	case b.Usual != "" && b.Usual != b.Cluster:
		return b.Cluster + " (failover from " + b.Usual + ")"
	default:
		return b.Cluster + " (remote)"
	}
}

// mirroredBy is the cluster that receives a mirror's copies.
func mirroredBy(m *MirrorTraffic) string {
	if m.Cluster == "" {
		return "NONE: copies dropped"
	}
	return servedBy(BackendTraffic{Weight: 1, Cluster: m.Cluster, Local: m.Local, Usual: m.Usual})
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WriteText writes the scenario, the service tiers, the route traffic and
// the outages.
func WriteText(w io.Writer, rep *Report, opts TextOptions) error {
	var b strings.Builder
	if opts.Table {
		r := lipgloss.NewRenderer(w)
		if opts.Color {
			r.SetColorProfile(termenv.ANSI256)
		} else {
			r.SetColorProfile(termenv.Ascii)
		}
		head := r.NewStyle().Bold(true)
		bad := r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
		cell := r.NewStyle().Padding(0, 1)
		draw := func(title string, header []string, rows [][]string) {
			b.WriteString(head.Render(title) + "\n")
			if len(rows) == 0 {
				b.WriteString("  (none)\n\n")
				return
			}
			t := table.New().Border(lipgloss.NormalBorder()).BorderStyle(r.NewStyle()).Headers(header...).Rows(rows...).
				StyleFunc(func(row, col int) lipgloss.Style {
					if row == table.HeaderRow {
						return head.Padding(0, 1)
					}
					if row >= 0 && row < len(rows) && strings.Contains(rows[row][col], "NONE") {
						return bad.Padding(0, 1)
					}
					return cell
				})
			b.WriteString(t.Render() + "\n\n")
		}
		b.WriteString(head.Render("Scenario: ") + scenario(rep) + "\n")
		writeEntry(&b, rep)
		b.WriteString("\n")
		draw("Service tiers by source cluster", serviceHeader, ServiceRows(rep))
		draw("Route traffic by source cluster", routeHeader, RouteRows(rep))
		if rep.Outage() {
			b.WriteString(bad.Render(fmt.Sprintf("OUTAGE: %d %s", len(rep.Outages), fleet.Plural(len(rep.Outages), "finding", "findings"))) + "\n")
			for _, o := range rep.Outages {
				b.WriteString("  " + o.Message + "\n")
			}
		} else {
			b.WriteString(noOutage + "\n")
		}
	} else {
		tsv := func(header []string, rows [][]string) {
			b.WriteString(strings.Join(header, "\t") + "\n")
			for _, row := range rows {
				b.WriteString(strings.Join(row, "\t") + "\n")
			}
		}
		b.WriteString("Scenario: " + scenario(rep) + "\n")
		writeEntry(&b, rep)
		b.WriteString("\n")
		tsv(serviceHeader, ServiceRows(rep))
		b.WriteString("\n")
		tsv(routeHeader, RouteRows(rep))
		b.WriteString("\n")
		for _, o := range rep.Outages {
			b.WriteString("OUTAGE: " + o.Message + "\n")
		}
		if !rep.Outage() {
			b.WriteString(noOutage + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

const noOutage = "No outage: every routed service has a cluster left."

// writeEntry says, when clusters are down, where clients still enter.
func writeEntry(b *strings.Builder, rep *Report) {
	if rep.Entry != "" {
		b.WriteString("Entry: " + rep.Entry + "\n")
	}
}

func scenario(rep *Report) string {
	var parts []string
	if len(rep.Down) > 0 {
		parts = append(parts, "down: "+strings.Join(rep.Down, ", "))
	}
	if len(rep.Missing) > 0 {
		m := make([]string, len(rep.Missing))
		for i, x := range rep.Missing {
			m[i] = x.Service + "@" + x.Cluster
		}
		parts = append(parts, "missing: "+strings.Join(m, ", "))
	}
	if len(parts) == 0 {
		return "every cluster up, every service present"
	}
	return strings.Join(parts, "; ")
}
