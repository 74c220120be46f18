package istio

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxNameLen keeps every generated name a valid DNS label.
const maxNameLen = 63

// namer gives every rendered object a stable DNS-label name: "gatefed-" and
// the identity's parts joined by "-". When two identities of one kind and
// namespace would get the same name, or a name is longer than a DNS label,
// the name is cut as needed and gets 8 hex digits of a hash of its identity.
type namer struct {
	names map[string]string // kind, namespace, identity -> name
}

type nameRequest struct {
	kind, namespace string
	parts           []string
}

func (r nameRequest) identity() string { return strings.Join(r.parts, "/") }

func (r nameRequest) key() string { return r.kind + "\x00" + r.namespace + "\x00" + r.identity() }

func newNamer(reqs []nameRequest) *namer {
	type slot struct{ kind, namespace, candidate string }
	owners := map[slot]map[string]bool{}
	for _, r := range reqs {
		s := slot{r.kind, r.namespace, plainName(r.parts)}
		if owners[s] == nil {
			owners[s] = map[string]bool{}
		}
		owners[s][r.identity()] = true
	}
	n := &namer{names: map[string]string{}}
	for _, r := range reqs {
		candidate := plainName(r.parts)
		if len(owners[slot{r.kind, r.namespace, candidate}]) > 1 || len(candidate) > maxNameLen {
			candidate = hashedName(candidate, r.identity())
		}
		n.names[r.key()] = candidate
	}
	return n
}

// name returns the name registered for a request; an unregistered one still
// gets a valid, hashed name.
func (n *namer) name(kind, namespace string, parts ...string) string {
	r := nameRequest{kind: kind, namespace: namespace, parts: parts}
	if v, ok := n.names[r.key()]; ok {
		return v
	}
	return hashedName(plainName(parts), r.identity())
}

func plainName(parts []string) string {
	clean := []string{"gatefed"}
	for _, p := range parts {
		if s := dnsLabel(p); s != "" {
			clean = append(clean, s)
		}
	}
	return strings.Join(clean, "-")
}

func hashedName(candidate, identity string) string {
	sum := sha256.Sum256([]byte(identity))
	suffix := hex.EncodeToString(sum[:])[:8]
	if limit := maxNameLen - len(suffix) - 1; len(candidate) > limit {
		candidate = strings.TrimRight(candidate[:limit], "-.")
	}
	return candidate + "-" + suffix
}

// dnsLabel lowercases s and replaces every character a DNS label forbids
// with "-", trimming dashes at both ends.
func dnsLabel(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-")
}
