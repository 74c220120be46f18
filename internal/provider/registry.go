package provider

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// registry is one immutable set of providers; Register replaces it whole,
// so readers need no lock.
type registry struct {
	byName map[string]*Descriptor
	order  []*Descriptor
	ranks  map[string]int
	status map[schema.GroupKind]bool
	conds  map[schema.GroupKind][]string
	read   map[schema.GroupKind]func(*unstructured.Unstructured) (Status, bool)
	hints  map[schema.GroupKind]func(namespace, name string) string
}

var (
	registerMu sync.Mutex
	current    atomic.Pointer[registry]
)

func load() *registry {
	if r := current.Load(); r != nil {
		return r
	}
	return &registry{}
}

// Register makes a provider known under its name; registering a name again
// replaces its descriptor. It panics on a descriptor without a name or whose
// kind ranks differ from another provider's: both are programming errors.
func Register(d *Descriptor) {
	if d == nil || d.Name == "" {
		panic("provider: Register of a descriptor without a name")
	}
	registerMu.Lock()
	defer registerMu.Unlock()
	var order []*Descriptor
	replaced := false
	for _, o := range load().order {
		if o.Name == d.Name {
			o, replaced = d, true
		}
		order = append(order, o)
	}
	if !replaced {
		order = append(order, d)
	}
	next := &registry{byName: map[string]*Descriptor{}, order: order, ranks: map[string]int{}, status: map[schema.GroupKind]bool{}, conds: map[schema.GroupKind][]string{},
		read: map[schema.GroupKind]func(*unstructured.Unstructured) (Status, bool){}, hints: map[schema.GroupKind]func(string, string) string{}}
	for _, o := range order {
		next.byName[o.Name] = o
		for _, k := range o.Kinds {
			if r, ok := next.ranks[k.Kind]; ok && r != k.Rank {
				panic(fmt.Sprintf("provider %s: kind %s has rank %d, another provider gives it %d", o.Name, k.Kind, k.Rank, r))
			}
			next.ranks[k.Kind] = k.Rank
		}
		for _, gk := range o.StatusKinds {
			next.status[gk] = true
			if o.ReadStatus != nil {
				next.read[gk] = o.ReadStatus
			}
		}
		for gk, conds := range o.StatusConditions {
			next.conds[gk] = conds
		}
		for gk, hint := range o.PendingHints {
			next.hints[gk] = hint
		}
	}
	current.Store(next)
}

// Lookup returns the named provider's descriptor, or nil.
func Lookup(name string) *Descriptor { return load().byName[name] }

// All returns the registered descriptors in registration order.
func All() []*Descriptor { return append([]*Descriptor(nil), load().order...) }

// Names returns the registered providers' names in registration order.
func Names() []string { return NamesWhere(func(*Descriptor) bool { return true }) }

// NamesWhere returns, in registration order, the providers keep is true for.
func NamesWhere(keep func(d *Descriptor) bool) []string {
	var names []string
	for _, d := range load().order {
		if keep(d) {
			names = append(names, d.Name)
		}
	}
	return names
}

// OrList joins names for a message: "gloo, envoy-gateway or istio".
func OrList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// NameList is every provider's name for a message.
func NameList() string { return OrList(Names()) }

// KindRank is the apply rank a provider gives kind, and whether one does.
func KindRank(kind string) (int, bool) {
	r, ok := load().ranks[kind]
	return r, ok
}

// ExpectsStatus reports whether a provider's controller writes a verdict on
// objects of this kind.
func ExpectsStatus(gk schema.GroupKind) bool { return load().status[gk] }

// StatusConditions returns the conditions a provider's controller must
// report True on objects of this kind, or nil for the default.
func StatusConditions(gk schema.GroupKind) []string { return load().conds[gk] }

// PendingHint says what to do about an object of this kind that its
// controller has given no verdict, or "" when its provider names nothing.
func PendingHint(gk schema.GroupKind, namespace, name string) string {
	if hint := load().hints[gk]; hint != nil {
		return hint(namespace, name)
	}
	return ""
}

// ReadStatus is the verdict a provider reads, in its own shape, on an
// object of one of its status kinds; false when no provider reads one.
func ReadStatus(obj *unstructured.Unstructured) (Status, bool) {
	read := load().read[obj.GroupVersionKind().GroupKind()]
	if read == nil {
		return Status{}, false
	}
	return read(obj)
}
