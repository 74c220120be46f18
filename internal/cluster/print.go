package cluster

import (
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/muesli/termenv"
)

// ListHeader is the header of gatefed cluster list.
var ListHeader = []string{"NAME", "CONTEXT", "PROVIDER", "REGION/ZONE", "FAILOVER", "REACHABLE", "VERSION", "LATENCY"}

// Row is a Status as table cells.
func (s Status) Row() []string {
	place := s.Region
	if s.Zone != "" {
		place += "/" + s.Zone
	}
	row := []string{s.Name, s.Context, s.Provider, dash(place), dash(s.Failover), "-", "-", "-"}
	if s.Probed {
		row[5] = fmt.Sprint(s.Reachable)
		if s.Reachable {
			row[6] = dash(s.Version)
			row[7] = formatLatency(s.LatencyMS)
		}
	}
	return row
}

func formatLatency(ms float64) string {
	if ms < 10 {
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteList writes the list as a lipgloss table (drawn when boxed; coloured
// when color) or as tab-separated text.
func WriteList(w io.Writer, rows []Status, boxed, color bool) error {
	cells := make([][]string, len(rows))
	for i, s := range rows {
		cells[i] = s.Row()
	}
	if !boxed {
		var b strings.Builder
		b.WriteString(strings.Join(ListHeader, "\t") + "\n")
		for _, row := range cells {
			b.WriteString(strings.Join(row, "\t") + "\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	r := lipgloss.NewRenderer(w)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	head := r.NewStyle().Bold(true).Padding(0, 1)
	cell := r.NewStyle().Padding(0, 1)
	bad := cell.Foreground(lipgloss.Color("1")).Bold(true)
	good := cell.Foreground(lipgloss.Color("2"))
	t := table.New().Border(lipgloss.NormalBorder()).BorderStyle(r.NewStyle()).Headers(ListHeader...).Rows(cells...).
		StyleFunc(func(row, col int) lipgloss.Style {
			switch {
			case row == table.HeaderRow:
				return head
			case col == 5 && row >= 0 && row < len(cells) && cells[row][col] == "false":
				return bad
			case col == 5 && row >= 0 && row < len(cells) && cells[row][col] == "true":
				return good
			}
			return cell
		})
	_, err := io.WriteString(w, t.Render()+"\n")
	return err
}
