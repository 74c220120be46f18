package render

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gatefed/gatefed/internal/fleet"
)

// warningSet gathers warnings by cause: one line per cause, naming the
// clusters and the objects it touches, not one line per object and cluster.
type warningSet struct {
	causes []*warningCause // in the order first seen
}

type warningCause struct {
	text     string
	clusters []string
	subjects map[string][]string // kind -> names, in the order seen
	kinds    []string
}

// subjectPrefix is how a provider names the one object a warning is about:
// "GlobalService shop/checkout: cause".
var subjectPrefix = regexp.MustCompile(`^(GlobalService|GlobalRoute|GlobalExtension) ([^\s:]+): (.+)$`)

// add records a provider's warning about cluster.
func (s *warningSet) add(cluster, warning string) {
	kind, name, text := "", "", warning
	if m := subjectPrefix.FindStringSubmatch(warning); m != nil {
		kind, name, text = m[1], m[2], m[3]
	}
	s.record(text, []string{cluster}, kind, []string{name})
}

func (s *warningSet) record(text string, clusters []string, kind string, names []string) {
	var c *warningCause
	for _, x := range s.causes {
		if x.text == text {
			c = x
			break
		}
	}
	if c == nil {
		c = &warningCause{text: text, subjects: map[string][]string{}}
		s.causes = append(s.causes, c)
	}
	for _, cl := range clusters {
		if !slices.Contains(c.clusters, cl) {
			c.clusters = append(c.clusters, cl)
		}
	}
	if kind == "" {
		return
	}
	if _, ok := c.subjects[kind]; !ok {
		c.kinds = append(c.kinds, kind)
	}
	for _, n := range names {
		if !slices.Contains(c.subjects[kind], n) {
			c.subjects[kind] = append(c.subjects[kind], n)
		}
	}
}

// merge adds every cause of o.
func (s *warningSet) merge(o warningSet) {
	for _, c := range o.causes {
		if len(c.kinds) == 0 {
			s.record(c.text, c.clusters, "", nil)
		}
		for _, k := range c.kinds {
			s.record(c.text, c.clusters, k, c.subjects[k])
		}
	}
}

// lines are the warnings, one per cause:
// "clusters a, b: GlobalServices shop/x, shop/y: cause".
func (s *warningSet) lines() []string {
	var out []string
	for _, c := range s.causes {
		var b strings.Builder
		b.WriteString(fleet.Plural(len(c.clusters), "cluster ", "clusters ") + strings.Join(c.clusters, ", ") + ": ")
		var subjects []string
		for _, k := range c.kinds {
			names := c.subjects[k]
			subjects = append(subjects, fleet.Plural(len(names), k, k+"s")+" "+strings.Join(names, ", "))
		}
		if len(subjects) > 0 {
			b.WriteString(strings.Join(subjects, "; ") + ": ")
		}
		b.WriteString(c.text)
		out = append(out, b.String())
	}
	return out
}

// PrefixSlash is the warning for a prefix replacement that disagrees with
// the prefix it replaces on a trailing slash, on a gateway (named gateway)
// that replaces the matched characters as they are, as Envoy's
// prefix_rewrite does: prefix /api replaced with / turns /api/x into //x,
// and prefix / replaced with /v2 turns /x into /v2x. ("" when they agree.)
// Envoy Gateway replaces whole path segments instead, giving /x and /v2/x.
func PrefixSlash(gateway, field, replacement string, m *fleet.Match) string {
	prefix := "/"
	if m != nil {
		if m.PathExact != "" || m.PathRegex != "" {
			return "" // validation refuses a prefix replacement without a prefix match
		}
		if m.PathPrefix != "" {
			prefix = m.PathPrefix
		}
	}
	if strings.HasSuffix(prefix, "/") == strings.HasSuffix(replacement, "/") {
		return ""
	}
	example := prefix + "/x"
	if strings.HasSuffix(prefix, "/") {
		example = prefix + "x"
	}
	return fmt.Sprintf("%s %q replaces the matched prefix %q character for character on %s, so %s becomes %s; end both with / or neither",
		field, replacement, prefix, gateway, example, replacement+example[len(prefix):])
}
