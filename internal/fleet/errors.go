package fleet

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in the fleet's input, located by file, line and field.
type FieldError struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Column and Text locate a YAML syntax error: the 1-based column on the
	// line, and the line itself.
	Column    int    `json:"column,omitempty"`
	Text      string `json:"text,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	Field     string `json:"field,omitempty"`
	Message   string `json:"message"`

	// ConsequenceOf is, for an error about a name no document defines, the
	// FILE:LINE of a document that could not be read and may define it.
	ConsequenceOf string `json:"consequenceOf,omitempty"`

	doc int  // line of the document's start, to match decode and validation errors
	ref bool // about a name no document defines
}

// Error formats FILE:LINE: KIND NAMESPACE/NAME: field.path: message, or
// FILE: message for a whole file or path.
func (e FieldError) Error() string {
	var b strings.Builder
	if e.Column > 0 {
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	} else {
		fmt.Fprintf(&b, "%s: ", e.File)
	}
	if e.Kind != "" {
		b.WriteString(e.Kind)
		b.WriteByte(' ')
		name := e.Name
		if name == "" {
			name = "(unnamed)"
		}
		if e.Namespace != "" {
			name = e.Namespace + "/" + name
		}
		b.WriteString(name)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.ConsequenceOf != "" {
		fmt.Fprintf(&b, " (perhaps because %s could not be read)", e.ConsequenceOf)
	}
	if e.Column > 0 {
		b.WriteString("\n" + quoted(e.Line, e.Column, e.Text))
	}
	return b.String()
}

// Errors is every problem found in the input, in file and line order.
type Errors []FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// withConsequences marks the errors about undefined names as possible
// consequences of the first document that could not be read, and puts them
// after every other error.
func (es Errors) withConsequences(lost []FieldError) Errors {
	if len(lost) == 0 {
		return es
	}
	var causes, consequences Errors
	for _, e := range es {
		if e.ref {
			e.ConsequenceOf = fmt.Sprintf("%s:%d", lost[0].File, lost[0].Line)
			consequences = append(consequences, e)
		} else {
			causes = append(causes, e)
		}
	}
	return append(causes, consequences...)
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return es[i].File < es[j].File
		}
		return es[i].Line < es[j].Line
	})
	return es
}

// Nearest returns the one candidate closest to s by edit distance (ignoring
// case) when it is close enough to be a likely typo, else "": also when
// several candidates are equally close.
func Nearest(s string, candidates []string) string {
	best, bestD, tie := "", -1, false
	for _, c := range candidates {
		d := EditDistance(strings.ToLower(s), strings.ToLower(c))
		switch {
		case bestD < 0 || d < bestD:
			best, bestD, tie = c, d, false
		case d == bestD && c != best:
			tie = true
		}
	}
	if bestD < 0 || tie || bestD > max(2, len(s)/3) || bestD >= len(s) {
		return ""
	}
	return best
}

// DidYouMean is ` (did you mean "x"?)` for the nearest candidate, or "".
func DidYouMean(s string, candidates []string) string {
	if n := Nearest(s, candidates); n != "" {
		return fmt.Sprintf(" (did you mean %q?)", n)
	}
	return ""
}

// EditDistance is the Levenshtein distance between a and b, in bytes.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
