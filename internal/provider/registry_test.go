package provider

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestRegistry(t *testing.T) {
	route := schema.GroupKind{Group: "a.example", Kind: "Route"}
	a := &Descriptor{Name: "a", Kinds: []Kind{{Kind: "Route", Rank: 6}}, StatusKinds: []schema.GroupKind{route},
		StatusConditions: map[schema.GroupKind][]string{route: {"Accepted", "Programmed"}},
		PendingHints:     map[schema.GroupKind]func(string, string) string{route: func(ns, name string) string { return "touch " + ns + "/" + name }}}
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
	if got := PendingHint(route, "ns", "r"); got != "touch ns/r" {
		t.Errorf("PendingHint(%s) = %q", route, got)
	}
	if got := PendingHint(schema.GroupKind{Group: "b.example", Kind: "Route"}, "ns", "r"); got != "" {
		t.Errorf("PendingHint of a kind no provider hints at = %q", got)
	}

	// A provider's own status shape is read on its status kinds only.
	b2 := &Descriptor{Name: "b", Kinds: b.Kinds, StatusKinds: []schema.GroupKind{{Group: "b.example", Kind: "Pool"}},
		ReadStatus: func(obj *unstructured.Unstructured) (Status, bool) {
			state, ok := obj.Object["status"].(string)
			return Status{State: StatusState(state), Final: true}, ok
		}}
	Register(b2)
	pool := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "b.example/v1", "kind": "Pool", "status": "Rejected"}}
	if got, ok := ReadStatus(pool); !ok || got.State != Rejected || !got.Final {
		t.Errorf("ReadStatus(b.example Pool) = %+v, %v; want Rejected, final", got, ok)
	}
	pool.Object["status"] = map[string]any{"conditions": []any{}}
	if got, ok := ReadStatus(pool); ok {
		t.Errorf("ReadStatus of a Pool without b's shape = %+v, want none", got)
	}
	other := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "a.example/v1", "kind": "Route", "status": "Rejected"}}
	if got, ok := ReadStatus(other); ok {
		t.Errorf("ReadStatus(a.example Route) = %+v: a reads no shape of its own", got)
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
	if got := PendingHint(route, "ns", "r"); got != "" {
		t.Errorf("the replaced descriptor's pending hints are still registered: %q", got)
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
