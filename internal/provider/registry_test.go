package provider

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestRegistry(t *testing.T) {
	route := schema.GroupKind{Group: "a.example", Kind: "Route"}
	a := &Descriptor{Name: "a", Kinds: []Kind{{Kind: "Route", Rank: 6}}, StatusKinds: []schema.GroupKind{route},
		StatusConditions: map[schema.GroupKind][]string{route: {"Accepted", "Programmed"}}}
	b := &Descriptor{Name: "b", Kinds: []Kind{{Kind: "Route", Rank: 6}, {Kind: "Pool", Rank: 2}}}
	c := &Descriptor{Name: "c", Defaults: Defaults{ClassName: "c"}}
	Register(a)
	Register(b)
	Register(c)
	if got := NameList(); got != "a, b or c" {
		t.Errorf("NameList() = %q", got)
	}
	if got := OrList(NamesWhere(func(d *Descriptor) bool { return d.Defaults.ClassName != "" })); got != "c" {
		t.Errorf("providers with a class: %q", got)
	}
	if r, ok := KindRank("Pool"); !ok || r != 2 {
		t.Errorf("KindRank(Pool) = %d, %v", r, ok)
	}
	if _, ok := KindRank("Secret"); ok {
		t.Error("KindRank(Secret): no provider ranks it")
	}
	if !ExpectsStatus(schema.GroupKind{Group: "a.example", Kind: "Route"}) || ExpectsStatus(schema.GroupKind{Group: "b.example", Kind: "Route"}) {
		t.Error("ExpectsStatus: want a.example Route only")
	}
	if got := StatusConditions(route); len(got) != 2 || got[1] != "Programmed" {
		t.Errorf("StatusConditions(%s) = %v", route, got)
	}

	// Registering a name again replaces it in place.
	a2 := &Descriptor{Name: "a", Title: "A"}
	Register(a2)
	if Lookup("a") != a2 || NameList() != "a, b or c" {
		t.Errorf("after replacing a: Lookup = %v, NameList = %q", Lookup("a"), NameList())
	}
	if ExpectsStatus(schema.GroupKind{Group: "a.example", Kind: "Route"}) {
		t.Error("the replaced descriptor's status kinds are still registered")
	}
	if got := StatusConditions(route); got != nil {
		t.Errorf("the replaced descriptor's status conditions are still registered: %v", got)
	}

	// Two providers may not rank one kind differently.
	defer func() {
		if recover() == nil {
			t.Error("a conflicting rank did not panic")
		}
		if Lookup("d") != nil {
			t.Error("the conflicting provider was registered")
		}
	}()
	Register(&Descriptor{Name: "d", Kinds: []Kind{{Kind: "Pool", Rank: 3}}})
}
