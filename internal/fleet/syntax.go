package fleet

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// maxSyntaxScan is how many bytes of YAML syntaxError parses, at most, to
// find the line that is wrong.
const maxSyntaxScan = 64 << 20

// syntaxError locates a YAML syntax error at the line that is wrong, with
// the column and the line quoted. The parser names the line of the
// construct it was in, often lines above the mistake; the line that is wrong
// is the first at which the document, cut after it, no longer parses.
func syntaxError(file string, data []byte, err error) FieldError {
	line, msg := 1, strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	lines := strings.SplitAfter(text, "\n")
	if line > len(lines) || strings.ContainsAny(text, "\r\u0085\u2028\u2029") {
		// Lines broken otherwise than by \n: the parser's line is all there is.
		return FieldError{File: file, Line: line, Message: "invalid YAML: " + msg}
	}
	if bad, badMsg := firstBadLine(lines, line); bad > 0 {
		line, msg = bad, badMsg
	}
	bad := strings.TrimRight(lines[line-1], "\n")
	col, hint := syntaxHint(bad, msg)
	if hint != "" {
		msg += ": " + hint
	}
	return FieldError{File: file, Line: line, Column: col, Text: bad, Message: "invalid YAML: " + msg}
}

// firstBadLine returns the first line, from line on, after which the
// document no longer parses, and the parser's message there; 0 if none is
// found. The document starts after the last "---" before line.
func firstBadLine(lines []string, line int) (int, string) {
	start := 0
	for i := line - 1; i > 0; i-- {
		if strings.HasPrefix(lines[i], "---") {
			start = i
			break
		}
	}
	size := 0
	for _, l := range lines[start : line-1] {
		size += len(l)
	}
	for n, budget := line, maxSyntaxScan; n <= len(lines) && budget > 0; n++ {
		size += len(lines[n-1])
		budget -= size
		if msg := parseError(strings.Join(lines[start:n], "")); msg != "" {
			return n, msg
		}
	}
	return 0, ""
}

// parseError is the message of the first syntax error in data, or "".
func parseError(data string) string {
	dec := yaml.NewDecoder(strings.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				msg = m[2]
			}
			return msg
		}
	}
}

// syntaxHint returns the 1-based column of the mistake on the line, and
// what it most likely is.
func syntaxHint(text, msg string) (int, string) {
	indent := len(text) - len(strings.TrimLeft(text, " "))
	trimmed := strings.TrimSpace(text)
	switch {
	case strings.Contains(text, "\t") && strings.Contains(msg, "cannot start any token"):
		return strings.Index(text, "\t") + 1, "a tab character: YAML indents with spaces only"
	}
	if i, q := unclosedQuote(text); i >= 0 {
		return i + 1, "the " + q + " opened here is not closed on this line"
	}
	if i, b := unclosedBracket(text); i >= 0 {
		return i + 1, "the " + b + " opened here is not closed on this line"
	}
	switch {
	case trimmed == "-" || strings.HasPrefix(trimmed, "- "):
		return indent + 1, "a list item where a key is expected: put it under a key that holds a list, or remove the -"
	case strings.Contains(msg, "mapping values are not allowed"):
		return indent + 1, "this line is indented deeper than the line above, whose value cannot also hold keys: line it up with the keys beside it"
	case strings.Contains(msg, "did not find expected key"), strings.Contains(msg, "block mapping"):
		return indent + 1, "this line's indentation lines up with no key above it: line it up with the keys beside it"
	}
	return indent + 1, ""
}

// unclosedQuote finds a quoted scalar that starts on the line and does not
// end on it: its byte offset and the quote, or -1.
func unclosedQuote(text string) (int, string) {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '"' && c != '\'' {
			continue
		}
		if i > 0 && !strings.ContainsRune(" [{,:-", rune(text[i-1])) {
			continue // a quote inside a plain scalar: don't
		}
		end := closingQuote(text, i)
		if end < 0 {
			return i, string(c) + " quote"
		}
		i = end
	}
	return -1, ""
}

// closingQuote is the offset of the quote closing the one at i, or -1.
func closingQuote(text string, i int) int {
	q := text[i]
	for j := i + 1; j < len(text); j++ {
		switch {
		case q == '"' && text[j] == '\\':
			j++
		case q == '\'' && text[j] == '\'' && j+1 < len(text) && text[j+1] == '\'':
			j++ // '' is an escaped single quote
		case text[j] == q:
			return j
		}
	}
	return -1
}

// unclosedBracket finds a [ or { not closed on the line (outside quotes and
// comments): its byte offset and the bracket, or -1.
func unclosedBracket(text string) (int, string) {
	var open []int
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case (c == '"' || c == '\'') && (i == 0 || strings.ContainsRune(" [{,:", rune(text[i-1]))):
			if end := closingQuote(text, i); end > 0 {
				i = end
			}
		case c == '#' && (i == 0 || text[i-1] == ' '):
			i = len(text)
		case c == '[' || c == '{':
			open = append(open, i)
		case (c == ']' || c == '}') && len(open) > 0:
			open = open[:len(open)-1]
		}
	}
	if len(open) == 0 {
		return -1, ""
	}
	i := open[len(open)-1]
	return i, string(text[i])
}

// quoted is the line and a caret under the column, for an error message.
func quoted(line, col int, text string) string {
	text = strings.ReplaceAll(text, "\t", "→")
	num := strconv.Itoa(line)
	var b bytes.Buffer
	b.WriteString("  " + num + " | " + text + "\n")
	b.WriteString("  " + strings.Repeat(" ", len(num)) + " | ")
	if col > 1 {
		b.WriteString(strings.Repeat(" ", len([]rune(text[:min(col-1, len(text))]))))
	}
	b.WriteString("^")
	return b.String()
}
