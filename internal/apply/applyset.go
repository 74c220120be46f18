package apply

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ApplySet labels and annotations (KEP-3659), as kubectl reads them.
const (
	LabelApplySetID        = "applyset.kubernetes.io/id"
	LabelPartOf            = "applyset.kubernetes.io/part-of"
	AnnotationTooling      = "applyset.kubernetes.io/tooling"
	AnnotationGroupKinds   = "applyset.kubernetes.io/contains-group-kinds"
	AnnotationAdditionalNS = "applyset.kubernetes.io/additional-namespaces"
	// AnnotationApplyLock on the parent names the gatefed apply that is
	// writing to the cluster (see lock.go).
	AnnotationApplyLock      = "gatefed.dev/apply-lock"
	toolName                 = "gatefed"
	parentFieldManager       = "gatefed-applyset"
	DefaultParentName        = "gatefed-applyset"
	parentKind               = "ConfigMap"
	parentAPIVersion         = "v1"
	applySetIDFormat         = "applyset-%s-v1"
	applySetIDPartsDelimiter = "."
)

// ApplySetID is the ApplySet ID of a parent object, by kubectl's formula:
// "applyset-" + base64url-no-padding(sha256("<name>.<namespace>.<kind>.<group>")) + "-v1".
func ApplySetID(name, namespace, kind, group string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{name, namespace, kind, group}, applySetIDPartsDelimiter)))
	return fmt.Sprintf(applySetIDFormat, base64.RawURLEncoding.EncodeToString(sum[:]))
}

// DefaultApplySetID is the ID of the ApplySet gatefed keeps for a cluster
// whose gateway namespace is namespace (its parent is ConfigMap
// DefaultParentName there): the value of its members' LabelPartOf.
func DefaultApplySetID(namespace string) string {
	return ApplySetID(DefaultParentName, namespace, parentKind, "")
}

// applySet is one cluster's ApplySet: its parent ConfigMap and the group-kinds
// and namespaces it covers now (current, read from the parent) and after this
// run (desired).
type applySet struct {
	id        string
	name      string
	namespace string
	tooling   string

	exists      bool
	liveTooling string
	liveGKs     string // the parent's group-kinds annotation as found
	liveNS      string // the parent's additional-namespaces annotation as found

	// mu serializes the writes of the parent, each based on live: the
	// parent as last read or written (nil: there is none).
	mu   sync.Mutex
	live *unstructured.Unstructured
	// lock is the apply lock found on the parent; held is this run's, once
	// taken (see lock.go).
	lock *applyLock
	held *applyLock

	currentGKs map[schema.GroupKind]bool
	currentNS  map[string]bool // includes the parent's namespace
	desiredGKs map[schema.GroupKind]bool
	desiredNS  map[string]bool
	// desiredAt are the kinds and namespaces this run applies to, together.
	desiredAt map[listKey]bool
}

func newApplySet(name, namespace, tooling string) *applySet {
	return &applySet{
		id:         ApplySetID(name, namespace, parentKind, ""),
		name:       name,
		namespace:  namespace,
		tooling:    tooling,
		currentGKs: map[schema.GroupKind]bool{},
		currentNS:  map[string]bool{namespace: true},
		desiredGKs: map[schema.GroupKind]bool{},
		desiredNS:  map[string]bool{namespace: true},
		desiredAt:  map[listKey]bool{},
	}
}

// readParent loads the live parent, refusing one that another tool manages or
// whose ID label is not ours.
func (a *applySet) readParent(live *unstructured.Unstructured) error {
	if live == nil {
		return nil
	}
	ref := fmt.Sprintf("ConfigMap %s/%s", a.namespace, a.name)
	ann := live.GetAnnotations()
	tooling, ok := ann[AnnotationTooling]
	if !ok {
		return fmt.Errorf("ApplySet parent %s exists without annotation %s: it is not gatefed's; delete or rename it", ref, AnnotationTooling)
	}
	if base := toolingBase(tooling); base != toolName {
		return fmt.Errorf("ApplySet parent %s is managed by %q, not %s", ref, base, toolName)
	}
	if id := live.GetLabels()[LabelApplySetID]; id != a.id {
		return fmt.Errorf("ApplySet parent %s has label %s=%q, want %q", ref, LabelApplySetID, id, a.id)
	}
	a.exists = true
	a.live = live.DeepCopy()
	a.lock = parseLock(ann[AnnotationApplyLock])
	a.liveTooling = tooling
	a.liveGKs = ann[AnnotationGroupKinds]
	a.liveNS = ann[AnnotationAdditionalNS]
	if _, ok := ann[AnnotationGroupKinds]; !ok {
		a.liveGKs = "\x00missing"
	}
	for _, s := range splitList(ann[AnnotationGroupKinds]) {
		a.currentGKs[schema.ParseGroupKind(s)] = true
	}
	for _, ns := range splitList(ann[AnnotationAdditionalNS]) {
		a.currentNS[ns] = true
	}
	return nil
}

func toolingBase(t string) string {
	if i := strings.LastIndex(t, "/"); i >= 0 {
		return t[:i]
	}
	return t
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (a *applySet) addMember(gk schema.GroupKind, namespace string) {
	a.desiredGKs[gk] = true
	a.desiredAt[listKey{gk, namespace}] = true
	if namespace != "" {
		a.desiredNS[namespace] = true
	}
}

// prunableGKs and prunableNamespaces are everything the set may hold: the
// union of what the parent lists and what this run applies.
func (a *applySet) prunableGKs() []schema.GroupKind {
	return sortedGKs(union(a.currentGKs, a.desiredGKs))
}

func (a *applySet) prunableNamespaces() []string {
	return sortedKeys(union(a.currentNS, a.desiredNS))
}

// superset is the parent as it must be before members are applied: it covers
// both the old and the new members, so an interrupted run leaks nothing.
func (a *applySet) superset() (gks, namespaces string) {
	return gkAnnotation(union(a.currentGKs, a.desiredGKs)), nsAnnotation(union(a.currentNS, a.desiredNS), a.namespace)
}

// latest is the parent after a complete prune: exactly this run's members.
func (a *applySet) latest() (gks, namespaces string) {
	return gkAnnotation(a.desiredGKs), nsAnnotation(a.desiredNS, a.namespace)
}

// needsUpdate reports whether the live parent differs from the given annotations.
func (a *applySet) needsUpdate(gks, namespaces string) bool {
	return !a.exists || a.liveTooling != a.tooling || a.liveGKs != gks || a.liveNS != namespaces
}

// markWritten records the parent's new live state after a successful write.
func (a *applySet) markWritten(gks, namespaces string) {
	a.exists = true
	a.liveTooling = a.tooling
	a.liveGKs = gks
	a.liveNS = namespaces
}

// wrote records the parent the server answered a write with.
func (a *applySet) wrote(obj *unstructured.Unstructured) {
	ann := obj.GetAnnotations()
	a.markWritten(ann[AnnotationGroupKinds], ann[AnnotationAdditionalNS])
	a.liveTooling = ann[AnnotationTooling]
	a.live = obj.DeepCopy()
}

// parentObject is the parent ConfigMap with the given annotations and this
// run's lock (none when it holds none): the live parent with gatefed's
// label and annotations set, everything else kept as found.
func (a *applySet) parentObject(gks, namespaces string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": parentAPIVersion,
		"kind":       parentKind,
		"metadata": map[string]any{
			"name":      a.name,
			"namespace": a.namespace,
		},
	}}
	if a.live != nil {
		u = a.live.DeepCopy()
		u.SetManagedFields(nil)
	}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelApplySetID] = a.id
	u.SetLabels(labels)
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationTooling] = a.tooling
	ann[AnnotationGroupKinds] = gks
	ann[AnnotationAdditionalNS] = namespaces
	delete(ann, AnnotationApplyLock)
	if a.held != nil {
		ann[AnnotationApplyLock] = a.held.encode()
	}
	u.SetAnnotations(ann)
	return u
}

func gkAnnotation(gks map[schema.GroupKind]bool) string {
	var out []string
	for gk := range gks {
		out = append(out, gk.String())
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func nsAnnotation(namespaces map[string]bool, skip string) string {
	var out []string
	for ns := range namespaces {
		if ns != skip && ns != "" {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func union[K comparable](a, b map[K]bool) map[K]bool {
	out := make(map[K]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func sortedGKs(m map[schema.GroupKind]bool) []schema.GroupKind {
	out := make([]schema.GroupKind, 0, len(m))
	for gk := range m {
		out = append(out, gk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
