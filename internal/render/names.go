package render

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxNameLen keeps every generated name a valid DNS label, the strictest
// rule any rendered kind or its derived Envoy names apply.
const MaxNameLen = 63

// NameRequest asks for the name of one object: its kind, namespace and the
// parts of its identity (for example a route's namespace and name).
type NameRequest struct {
	Kind, Namespace string
	Parts           []string
}

// NameOf builds a NameRequest.
func NameOf(kind, namespace string, parts []string) NameRequest {
	return NameRequest{Kind: kind, Namespace: namespace, Parts: parts}
}

func (r NameRequest) identity() string { return strings.Join(r.Parts, "/") }

func (r NameRequest) key() string { return r.Kind + "\x00" + r.Namespace + "\x00" + r.identity() }

// Namer gives every rendered object a stable DNS-label name: "gatefed-"
// and the identity's parts joined by "-". Because parts may themselves
// contain "-", two identities can produce the same name; both then get 8
// hex digits of a hash of their identity. Names longer than a DNS label are
// cut and get the hash too.
type Namer struct {
	names map[string]string // kind, namespace, identity -> name
}

// NewNamer names every request, seeing them all so ambiguous names get hashed.
func NewNamer(reqs []NameRequest) *Namer {
	type slot struct{ kind, namespace, candidate string }
	owners := map[slot]map[string]bool{}
	for _, r := range reqs {
		s := slot{r.Kind, r.Namespace, plainName(r.Parts)}
		if owners[s] == nil {
			owners[s] = map[string]bool{}
		}
		owners[s][r.identity()] = true
	}
	n := &Namer{names: map[string]string{}}
	for _, r := range reqs {
		candidate := plainName(r.Parts)
		if len(owners[slot{r.Kind, r.Namespace, candidate}]) > 1 || len(candidate) > MaxNameLen {
			candidate = hashedName(candidate, r.identity())
		}
		n.names[r.key()] = candidate
	}
	return n
}

// Name returns the name registered for a request; an unregistered one (a
// programming error) still gets a valid, hashed name.
func (n *Namer) Name(kind, namespace string, parts ...string) string {
	r := NameOf(kind, namespace, parts)
	if v, ok := n.names[r.key()]; ok {
		return v
	}
	return hashedName(plainName(parts), r.identity())
}

func plainName(parts []string) string {
	clean := make([]string, 0, len(parts)+1)
	clean = append(clean, "gatefed")
	for _, p := range parts {
		if s := DNSLabel(p); s != "" {
			clean = append(clean, s)
		}
	}
	return strings.Join(clean, "-")
}

// FitName returns a name as it is when it is a DNS label's length, else
// cut and ended with a hash of the whole name, as Namer cuts long names.
// It serves names that must follow from their source alone (Gloo's).
func FitName(name string) string {
	if len(name) <= MaxNameLen {
		return name
	}
	return hashedName(name, name)
}

// hashedName cuts candidate to leave room for "-" and 8 hex digits of a
// hash of identity, and appends them.
func hashedName(candidate, identity string) string {
	sum := sha256.Sum256([]byte(identity))
	suffix := hex.EncodeToString(sum[:])[:8]
	if limit := MaxNameLen - len(suffix) - 1; len(candidate) > limit {
		candidate = strings.TrimRight(candidate[:limit], "-.")
	}
	return candidate + "-" + suffix
}

// DNSLabel lowercases s and replaces every character a DNS label forbids
// with "-", trimming dashes at both ends.
func DNSLabel(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-")
}
