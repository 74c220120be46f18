package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"

	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/iostreams"
)

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText writes the report for people: a grid of clusters by checks,
// then every warning and failure with its hint, then the sizing figures.
// On a terminal the grid and tables are lipgloss tables (coloured unless
// colour is off); elsewhere they are tab-separated.
func WriteText(s *iostreams.IOStreams, rep *Report) error {
	var p printer
	if s.OutTTY {
		p = newStyledPrinter(s)
	} else {
		p = plainPrinter{}
	}
	var b strings.Builder
	p.grid(&b, rep)
	findings := problems(rep)
	if len(findings) > 0 {
		b.WriteString("\n")
		p.findings(&b, findings)
	}
	if contains(rep.Checks, Sizing) {
		b.WriteString("\n")
		p.sizing(&b, rep)
	}
	if cas := rep.Summary.FailoverCAs; len(cas) > 0 {
		b.WriteString("\n")
		p.rows(&b, caHeader, caRows(cas), nil)
	}
	b.WriteString("\n")
	b.WriteString(summaryLine(rep))
	b.WriteString("\n")
	_, err := io.WriteString(s.Out, b.String())
	return err
}

// located is a finding with its cluster and check.
type located struct {
	Cluster, Check string
	Finding
}

// problems are the warnings and failures, failures first, in report order.
func problems(rep *Report) []located {
	var fails, warns []located
	for _, c := range rep.Clusters {
		for _, r := range c.Checks {
			for _, f := range r.Findings {
				l := located{c.Name, r.Name, f}
				switch f.Severity {
				case Failure:
					fails = append(fails, l)
				case Warning:
					warns = append(warns, l)
				}
			}
		}
	}
	return append(fails, warns...)
}

func summaryLine(rep *Report) string {
	s := rep.Summary
	return fmt.Sprintf("%s, %s: %d pass, %d warn, %d fail, %d skip",
		plural(s.Clusters, "cluster", "clusters"), plural(s.Pass+s.Warn+s.Fail+s.Skip, "check", "checks"), s.Pass, s.Warn, s.Fail, s.Skip)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type printer interface {
	grid(b *strings.Builder, rep *Report)
	findings(b *strings.Builder, fs []located)
	sizing(b *strings.Builder, rep *Report)
	rows(b *strings.Builder, header []string, rows [][]string, notes []string)
}

var caHeader = []string{"FAILOVER CA", "SHA-256", "NOT AFTER", "DAYS LEFT", "IN ca.crt OF"}

// caRows are the fleet's failover CAs, one row each.
func caRows(cas []failovertls.CA) [][]string {
	rows := make([][]string, len(cas))
	for i, ca := range cas {
		rows[i] = []string{ca.Subject, ca.SHA256, ca.NotAfter.Format("2006-01-02"), strconv.Itoa(ca.DaysLeft), strings.Join(ca.HeldBy, ", ")}
	}
	return rows
}

// sizingRows are the sizing table's header and rows (cluster rows, then the fleet).
func sizingRows(rep *Report) (header []string, rows [][]string, notes []string) {
	header = []string{"CLUSTER", "ENVOY CLUSTERS", "ENDPOINTS", "ROUTES", "LISTENERS", "PROXY MEMORY (EST.)", "PROXY LIMIT", "REPLICAS", "CONFIG", "CONTROL PLANE (EST.)"}
	for _, c := range rep.Clusters {
		d := c.sizing()
		if d == nil {
			continue
		}
		name := c.Name
		if !d.LiveRead {
			name += " (render only)"
		}
		replicas := "?"
		if d.ProxyDeployment != "" {
			replicas = strconv.Itoa(int(d.ProxyReplicas))
		}
		rows = append(rows, []string{
			name,
			strconv.Itoa(d.EnvoyClusters),
			strconv.Itoa(d.Endpoints),
			strconv.Itoa(d.Routes),
			fmt.Sprintf("%d HTTP, %d TCP", d.HTTPListeners, d.TCPListeners),
			humanBytes(d.EstimatedProxyBytes),
			humanBytesOr(d.ProxyMemoryLimit, "none"),
			replicas,
			humanBytes(d.ConfigBytes),
			humanBytes(d.EstimatedControlPlaneBytes),
		})
		for _, f := range c.Check(Sizing).Findings {
			if f.Severity == Info && strings.HasPrefix(f.Message, "N-1:") {
				notes = append(notes, f.Message)
			}
		}
	}
	if fs := rep.Summary.Sizing; fs != nil {
		rows = append(rows, []string{"fleet", "", "", "", "", humanBytes(fs.EstimatedProxyBytes) + " (all replicas)", "", "", humanBytes(fs.ConfigBytes), humanBytes(fs.EstimatedControlPlaneBytes)})
	}
	return header, rows, notes
}

// plainPrinter writes tab-separated text.
type plainPrinter struct{}

func (plainPrinter) grid(b *strings.Builder, rep *Report) {
	b.WriteString("CLUSTER\t" + strings.Join(rep.Checks, "\t") + "\n")
	for _, c := range rep.Clusters {
		cells := []string{c.Name}
		for _, r := range c.Checks {
			cells = append(cells, string(r.Status))
		}
		b.WriteString(strings.Join(cells, "\t") + "\n")
	}
}

func (plainPrinter) findings(b *strings.Builder, fs []located) {
	b.WriteString("SEVERITY\tCLUSTER\tCHECK\tFINDING\tHINT\n")
	for _, f := range fs {
		fmt.Fprintf(b, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Cluster, f.Check, oneLine(f.Message), oneLine(f.Hint))
	}
}

func (p plainPrinter) sizing(b *strings.Builder, rep *Report) {
	header, rows, notes := sizingRows(rep)
	p.rows(b, header, rows, notes)
}

func (plainPrinter) rows(b *strings.Builder, header []string, rows [][]string, notes []string) {
	if len(rows) == 0 {
		return
	}
	b.WriteString(strings.Join(header, "\t") + "\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r, "\t") + "\n")
	}
	for _, n := range notes {
		b.WriteString(n + "\n")
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// styledPrinter writes lipgloss tables, coloured when colour is on.
type styledPrinter struct {
	r     *lipgloss.Renderer
	color bool
}

func newStyledPrinter(s *iostreams.IOStreams) *styledPrinter {
	return &styledPrinter{r: lipgloss.NewRenderer(s.Out), color: s.ColorEnabled()}
}

var statusColors = map[Status]string{Pass: "2", Warn: "3", Fail: "1", Skip: "8"}

var statusSymbols = map[Status]string{Pass: "✓", Warn: "!", Fail: "✗", Skip: "-"}

func statusMark(s Status) string { return statusSymbols[s] + " " + string(s) }

func (p *styledPrinter) style(s Status) lipgloss.Style {
	st := p.r.NewStyle().Padding(0, 1)
	if p.color {
		st = st.Foreground(lipgloss.Color(statusColors[s]))
		if s == Fail {
			st = st.Bold(true)
		}
	}
	return st
}

func (p *styledPrinter) table(header []string) *table.Table {
	t := table.New().Border(lipgloss.RoundedBorder()).Headers(header...)
	if p.color {
		t = t.BorderStyle(p.r.NewStyle().Foreground(lipgloss.Color("8")))
	}
	return t
}

func (p *styledPrinter) grid(b *strings.Builder, rep *Report) {
	t := p.table(append([]string{"CLUSTER"}, rep.Checks...))
	statuses := make([][]Status, len(rep.Clusters))
	for i, c := range rep.Clusters {
		row := []string{c.Name}
		for _, r := range c.Checks {
			row = append(row, statusMark(r.Status))
			statuses[i] = append(statuses[i], r.Status)
		}
		t.Row(row...)
	}
	header := p.r.NewStyle().Padding(0, 1).Bold(p.color)
	t.StyleFunc(func(row, col int) lipgloss.Style {
		if row == table.HeaderRow || col == 0 {
			return header
		}
		return p.style(statuses[row][col-1])
	})
	b.WriteString(t.Render() + "\n")
}

func (p *styledPrinter) findings(b *strings.Builder, fs []located) {
	dim := p.r.NewStyle()
	if p.color {
		dim = dim.Faint(true)
	}
	for _, f := range fs {
		s := Warn
		if f.Severity == Failure {
			s = Fail
		}
		mark := p.style(s).Padding(0).Render(statusSymbols[s])
		fmt.Fprintf(b, "%s %s · %s: %s\n", mark, f.Cluster, f.Check, f.Message)
		if f.Hint != "" {
			fmt.Fprintf(b, "    %s\n", dim.Render("→ "+f.Hint))
		}
	}
}

func (p *styledPrinter) sizing(b *strings.Builder, rep *Report) {
	header, rows, notes := sizingRows(rep)
	p.rows(b, header, rows, notes)
}

func (p *styledPrinter) rows(b *strings.Builder, header []string, rows [][]string, notes []string) {
	if len(rows) == 0 {
		return
	}
	t := p.table(header)
	for _, r := range rows {
		t.Row(r...)
	}
	cell := p.r.NewStyle().Padding(0, 1)
	t.StyleFunc(func(row, col int) lipgloss.Style {
		if row == table.HeaderRow {
			return cell.Bold(p.color)
		}
		return cell
	})
	b.WriteString(t.Render() + "\n")
	for _, n := range notes {
		b.WriteString(n + "\n")
	}
}
