package render

import (
	"regexp"
	"strings"
	"testing"
)

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestNamerPlainNames(t *testing.T) {
	n := NewNamer([]NameRequest{
		{"HTTPRoute", "gw", []string{"shop", "storefront"}},
		{"Backend", "gw", []string{"shop", "checkout", "eu.west_1"}},
	})
	if got := n.Name("HTTPRoute", "gw", "shop", "storefront"); got != "gatefed-shop-storefront" {
		t.Errorf("got %q", got)
	}
	if got := n.Name("Backend", "gw", "shop", "checkout", "eu.west_1"); got != "gatefed-shop-checkout-eu-west-1" {
		t.Errorf("got %q", got)
	}
}

func TestNamerHashesAmbiguousNames(t *testing.T) {
	reqs := []NameRequest{
		{"HTTPRoute", "gw", []string{"a-b", "c"}},
		{"HTTPRoute", "gw", []string{"a", "b-c"}},
		{"HTTPRoute", "gw", []string{"x", "y"}},
		{"Backend", "gw", []string{"a-b", "c"}}, // another kind: no clash
	}
	n := NewNamer(reqs)
	first := n.Name("HTTPRoute", "gw", "a-b", "c")
	second := n.Name("HTTPRoute", "gw", "a", "b-c")
	if first == second {
		t.Fatalf("both identities named %q", first)
	}
	for _, got := range []string{first, second} {
		if !strings.HasPrefix(got, "gatefed-a-b-c-") || len(got) != len("gatefed-a-b-c-")+8 {
			t.Errorf("ambiguous name %q, want gatefed-a-b-c-<hash>", got)
		}
	}
	if got := n.Name("HTTPRoute", "gw", "x", "y"); got != "gatefed-x-y" {
		t.Errorf("unambiguous name %q", got)
	}
	if got := n.Name("Backend", "gw", "a-b", "c"); got != "gatefed-a-b-c" {
		t.Errorf("other kind %q", got)
	}
	// Stable: the same requests give the same names.
	if again := NewNamer(reqs).Name("HTTPRoute", "gw", "a-b", "c"); again != first {
		t.Errorf("unstable: %q then %q", first, again)
	}
}

func TestNamerShortensLongNames(t *testing.T) {
	long := strings.Repeat("n", 60)
	n := NewNamer([]NameRequest{{"Backend", "gw", []string{"shop", long, "cluster-1"}}, {"Backend", "gw", []string{"shop", long, "cluster-2"}}})
	a := n.Name("Backend", "gw", "shop", long, "cluster-1")
	b := n.Name("Backend", "gw", "shop", long, "cluster-2")
	for _, got := range []string{a, b} {
		if len(got) > MaxNameLen || !dnsLabelRE.MatchString(got) {
			t.Errorf("name %q (%d chars) is not a DNS label", got, len(got))
		}
	}
	if a == b {
		t.Errorf("long names collide: %q", a)
	}
}
