package apply

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/status"
)

// Expected IDs computed independently:
// printf 'gatefed-applyset.gw.ConfigMap.' | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '='
func TestApplySetIDMatchesKEPFormula(t *testing.T) {
	cases := []struct{ name, ns, want string }{
		{"gatefed-applyset", "gw", "applyset-HatzG7Hb3ht5eOXY37-T_wqH96ck7rmLqp3YaldqLjo-v1"},
		{"parent", "ns1", "applyset-PdONkWkRMFiemHNrDmYXtbk4Ds_KS1G9yJJwgB5HLuA-v1"},
	}
	for _, c := range cases {
		if got := ApplySetID(c.name, c.ns, "ConfigMap", ""); got != c.want {
			t.Errorf("ApplySetID(%s, %s) = %s, want %s", c.name, c.ns, got, c.want)
		}
	}
}

func TestApplySetAnnotations(t *testing.T) {
	a := newApplySet("gatefed-applyset", "gw", "gatefed/v1.2.3")
	live := a.parentObject("Upstream.gloo.solo.io,VirtualService.gateway.solo.io", "old-ns")
	if err := a.readParent(live); err != nil {
		t.Fatal(err)
	}
	a.addMember(schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"}, "gw")
	a.addMember(schema.GroupKind{Group: "gloo.solo.io", Kind: "Upstream"}, "gw")
	a.addMember(schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "ReferenceGrant"}, "svc")
	a.addMember(schema.GroupKind{Kind: "Secret"}, "gw")

	gks, nss := a.superset()
	if want := "HTTPRoute.gateway.networking.k8s.io,ReferenceGrant.gateway.networking.k8s.io,Secret,Upstream.gloo.solo.io,VirtualService.gateway.solo.io"; gks != want {
		t.Errorf("superset kinds = %q, want %q", gks, want)
	}
	if nss != "old-ns,svc" {
		t.Errorf("superset namespaces = %q, want old-ns,svc", nss)
	}
	gks, nss = a.latest()
	if want := "HTTPRoute.gateway.networking.k8s.io,ReferenceGrant.gateway.networking.k8s.io,Secret,Upstream.gloo.solo.io"; gks != want {
		t.Errorf("latest kinds = %q, want %q", gks, want)
	}
	if nss != "svc" {
		t.Errorf("latest namespaces = %q, want svc", nss)
	}
	if !a.needsUpdate(gks, nss) {
		t.Error("a changed set must need a parent update")
	}
	a.markWritten(gks, nss)
	if a.needsUpdate(gks, nss) {
		t.Error("an unchanged set must not need a parent update")
	}
	if got := a.parentObject(gks, nss).GetLabels()[LabelApplySetID]; got != a.id {
		t.Errorf("parent id label = %q, want %q", got, a.id)
	}
}

func TestReadParentRefusesForeignParents(t *testing.T) {
	a := newApplySet("gatefed-applyset", "gw", "gatefed/v1")
	other := a.parentObject("", "")
	other.SetAnnotations(map[string]string{AnnotationTooling: "kubectl/v1.37"})
	if err := a.readParent(other); err == nil || !strings.Contains(err.Error(), `managed by "kubectl"`) {
		t.Errorf("parent of another tool: err = %v", err)
	}
	wrongID := a.parentObject("", "")
	wrongID.SetLabels(map[string]string{LabelApplySetID: "applyset-x-v1"})
	if err := a.readParent(wrongID); err == nil || !strings.Contains(err.Error(), "applyset-x-v1") {
		t.Errorf("parent with a wrong ID: err = %v", err)
	}
	untooled := a.parentObject("", "")
	untooled.SetAnnotations(nil)
	if err := a.readParent(untooled); err == nil || !strings.Contains(err.Error(), AnnotationTooling) {
		t.Errorf("parent without tooling: err = %v", err)
	}
}

func obj(y map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: y} }

func TestInSync(t *testing.T) {
	desired := obj(map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "r", "namespace": "gw", "labels": map[string]any{"a": "1"}},
		"spec": map[string]any{
			"hostnames": []any{"a.example.com"},
			"rules":     []any{map[string]any{"backendRefs": []any{map[string]any{"name": "svc", "port": int64(80)}}}},
		},
	})
	live := func(hostnames []any, fields string) *unstructured.Unstructured {
		l := obj(map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": "r", "namespace": "gw", "labels": map[string]any{"a": "1", "other": "x"}},
			"spec": map[string]any{
				"hostnames": hostnames,
				// server defaults add fields; ports decode as float64 from JSON in some paths
				"rules": []any{map[string]any{
					"backendRefs": []any{map[string]any{"name": "svc", "port": float64(80), "group": "", "kind": "Service", "weight": int64(1)}},
					"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}},
				}},
			},
			"status": map[string]any{"parents": []any{}},
		})
		l.SetManagedFields([]metav1.ManagedFieldsEntry{
			{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}},
			{Manager: "other", Operation: metav1.ManagedFieldsOperationUpdate, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:other":{}}}}`)}},
		})
		return l
	}
	owned := `{"f:metadata":{"f:labels":{"f:a":{}}},"f:spec":{"f:hostnames":{},"f:rules":{}}}`
	if !inSync(desired, live([]any{"a.example.com"}, owned)) {
		t.Error("live object holding every desired value must be in sync")
	}
	if inSync(desired, live([]any{"b.example.com"}, owned)) {
		t.Error("a changed hostname must not be in sync")
	}
	if inSync(desired, live([]any{"a.example.com", "b.example.com"}, owned)) {
		t.Error("an extra list element must not be in sync")
	}
	// gatefed owns a field desired no longer sets: applying would remove it.
	stale := `{"f:metadata":{"f:labels":{"f:a":{},"f:b":{}}},"f:spec":{"f:hostnames":{},"f:rules":{}}}`
	if inSync(desired, live([]any{"a.example.com"}, stale)) {
		t.Error("a field owned by gatefed and no longer desired must not be in sync")
	}
	notOurs := live([]any{"a.example.com"}, owned)
	mf := notOurs.GetManagedFields()
	notOurs.SetManagedFields(mf[1:])
	if inSync(desired, notOurs) {
		t.Error("an object gatefed never applied must not be in sync")
	}
}

func TestFieldsWithinKeyedLists(t *testing.T) {
	desired := map[string]any{"spec": map[string]any{"ports": []any{
		map[string]any{"port": int64(80), "protocol": "TCP"},
	}, "finalizers": []any{"a"}}}
	ok := `{"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{}}},"f:finalizers":{"v:\"a\"":{}}}}`
	gone := `{"f:spec":{"f:ports":{"k:{\"port\":443,\"protocol\":\"TCP\"}":{".":{}}}}}`
	goneValue := `{"f:spec":{"f:finalizers":{"v:\"b\"":{}}}}`
	for _, c := range []struct {
		set  string
		want bool
	}{{ok, true}, {gone, false}, {goneValue, false}} {
		m, _ := managedFieldsOf(withFields(c.set), FieldManager)
		if got := fieldsWithin(m[0], desired); got != c.want {
			t.Errorf("fieldsWithin(%s) = %v, want %v", c.set, got, c.want)
		}
	}
}

func withFields(raw string) *unstructured.Unstructured {
	u := obj(map[string]any{"metadata": map[string]any{"name": "x"}})
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, FieldsV1: &metav1.FieldsV1{Raw: []byte(raw)}}})
	return u
}

func TestNormalizeSecretStringData(t *testing.T) {
	s := obj(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"},
		"data": map[string]any{"a": "YQ=="}, "stringData": map[string]any{"b": "bee"}})
	n := normalize(s)
	if _, ok := n.Object["stringData"]; ok {
		t.Error("stringData must be folded into data")
	}
	if got := n.Object["data"].(map[string]any)["b"]; got != "YmVl" {
		t.Errorf("data.b = %v, want YmVl", got)
	}
	if _, ok := s.Object["stringData"]; !ok {
		t.Error("normalize must not change its input")
	}
}

func TestSecretDiffIsMasked(t *testing.T) {
	before := map[string]any{"kind": "Secret", "data": map[string]any{"same": "c2FtZQ==", "changed": "b2xk", "gone": "Z29uZQ=="}}
	after := map[string]any{"kind": "Secret", "data": map[string]any{"same": "c2FtZQ==", "changed": "bmV3", "new": "bmV3"}}
	d := objectDiff(before, after, true)
	for _, secret := range []string{"c2FtZQ==", "b2xk", "bmV3", "Z29uZQ=="} {
		if strings.Contains(d, secret) {
			t.Errorf("diff shows secret value %s:\n%s", secret, d)
		}
	}
	for _, want := range []string{"-  changed: '*** (before)'", "+  changed: '*** (after)'", "-  gone: '***'", "+  new: '***'"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if before["data"].(map[string]any)["changed"] != "b2xk" {
		t.Error("masking must not change the objects it is given")
	}
}

func TestConflictsOf(t *testing.T) {
	err := &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 409, Reason: metav1.StatusReasonConflict,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
			{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "kubectl-edit" using gateway.networking.k8s.io/v1`, Field: ".spec.hostnames"},
			{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "ops"`, Field: ".metadata.labels.team"},
		}},
	}}
	oe := newObjectError(&Change{Kind: "HTTPRoute", Namespace: "gw", Name: "r"}, err)
	want := []FieldConflict{{Manager: "kubectl-edit", Field: ".spec.hostnames"}, {Manager: "ops", Field: ".metadata.labels.team"}}
	if len(oe.Conflicts) != 2 || oe.Conflicts[0] != want[0] || oe.Conflicts[1] != want[1] {
		t.Fatalf("conflicts = %+v, want %+v", oe.Conflicts, want)
	}
	msg := oe.Error()
	for _, s := range []string{`HTTPRoute gw/r`, `.spec.hostnames owned by field manager "kubectl-edit"`, `.metadata.labels.team owned by field manager "ops"`, "--force-conflicts"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q lacks %q", msg, s)
		}
	}
	if !errors.Is(oe, err) {
		t.Error("ObjectError must unwrap to the API error")
	}
	if conflictsOf(errors.New("boom")) != nil {
		t.Error("a non-conflict error has no conflicts")
	}
}

func TestPhasesKeepRenderOrder(t *testing.T) {
	mk := func(kind string, rank int) *Change { return &Change{Kind: kind, Name: kind, rank: rank} }
	in := []*Change{mk("Secret", 1), mk("ReferenceGrant", 1), mk("Upstream", 2), mk("VirtualService", 6), mk("Gateway", 4)}
	got := phases(in, false)
	var names [][]string
	for _, p := range got {
		var ns []string
		for _, c := range p {
			ns = append(ns, c.Kind)
		}
		names = append(names, ns)
	}
	want := "[[Secret ReferenceGrant] [Upstream] [Gateway] [VirtualService]]"
	if s := fmtSlices(names); s != want {
		t.Errorf("phases = %s, want %s", s, want)
	}
	rev := phases(in, true)
	if rev[0][0].Kind != "VirtualService" || rev[len(rev)-1][0].Kind != "Secret" {
		t.Errorf("deletions must run routes first and secrets last, got %v first and %v last", rev[0][0].Kind, rev[len(rev)-1][0].Kind)
	}
}

func fmtSlices(s [][]string) string {
	var parts []string
	for _, p := range s {
		parts = append(parts, "["+strings.Join(p, " ")+"]")
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func TestWriteDiffColourOnlyWhenAsked(t *testing.T) {
	p := &Plan{Clusters: []*ClusterPlan{{Name: "c1", Changes: []*Change{{
		Op: OpUpdate, Kind: "HTTPRoute", Namespace: "gw", Name: "r",
		Diff: objectDiff(map[string]any{"spec": map[string]any{"a": "1"}}, map[string]any{"spec": map[string]any{"a": "2"}}, false),
	}}}}}
	var plain, coloured strings.Builder
	WriteDiff(&plain, p, false)
	WriteDiff(&coloured, p, true)
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("plain diff has escape codes:\n%q", plain.String())
	}
	for _, want := range []string{"# c1: update HTTPRoute gw/r\n", "--- live\n", "+++ applied\n", "-  a: \"1\"\n", "+  a: \"2\"\n"} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("plain diff lacks %q:\n%s", want, plain.String())
		}
	}
	for _, want := range []string{ansiRed + "-  a: \"1\"" + ansiReset, ansiGreen + "+  a: \"2\"" + ansiReset, ansiBold + "# c1: update HTTPRoute gw/r" + ansiReset} {
		if !strings.Contains(coloured.String(), want) {
			t.Errorf("coloured diff lacks %q:\n%q", want, coloured.String())
		}
	}
}

func TestProgress(t *testing.T) {
	var plain strings.Builder
	p := NewProgress(&plain, false, []string{"a", "b"})
	p.Event(Event{Cluster: "a", Stage: StageApplying, Done: 1, Total: 2})
	p.Event(Event{Cluster: "a", Stage: StageApplying, Done: 2, Total: 2, Message: "created HTTPRoute gw/r"})
	p.Event(Event{Cluster: "b", Stage: StageFailed, Message: "failed: boom"})
	p.Stop()
	if got, want := plain.String(), "a: created HTTPRoute gw/r\nb: failed: boom\n"; got != want {
		t.Errorf("plain progress = %q, want %q", got, want)
	}

	var live syncBuilder
	p = NewProgress(&live, true, []string{"east", "west"})
	p.Event(Event{Cluster: "east", Stage: StageApplying, Done: 3, Total: 10})
	p.Event(Event{Cluster: "west", Stage: StageFailed, Message: "failed: connection refused"})
	p.Stop()
	out := live.String()
	for _, want := range []string{"\r\x1b[2Keast  applying 3/10\n", "\r\x1b[2Kwest  failed: connection refused\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("live progress lacks %q:\n%q", want, out)
		}
	}
	p = NewProgress(&live, true, []string{"east"})
	p.Event(Event{Cluster: "east", Stage: StageDone, Message: "done"})
	p.Stop()
	p.mu.Lock()
	p.draw() // a redraw moves the cursor up over the lines drawn before
	p.mu.Unlock()
	if !strings.Contains(live.String(), "\x1b[1A") {
		t.Errorf("a redraw must move up over its lines:\n%q", live.String())
	}
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The apply patch is block YAML that reads back as exactly the object,
// whatever its strings look like.
func TestApplyPatchReadsBackAsTheObject(t *testing.T) {
	desired := obj(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "x", "namespace": "ns", "labels": map[string]any{"a": "on", "b": "0x1F"}},
		"data": map[string]any{
			"yes": "no", "num": "1e3", "empty": "", "spaced": " lead and trail ", "multi": "line1\nline2\n",
			"colon": "a: b", "hash": "# not a comment", "unicode": "héllo ✓", "dash": "- item", "star": "*ref",
			"null": "null", "tilde": "~", "octal": "0o17", "duration": "5s", "quote": `say "hi"`,
		},
		"binaryData": map[string]any{"k": "AAEC"},
		"spec":       map[string]any{"n": int64(80), "f": 1.5, "big": int64(1) << 53, "t": true, "nil": nil, "list": []any{int64(1), "2", []any{}, map[string]any{}}},
	})
	e := New(Options{})
	body, _, err := e.applyPatch(&Change{desired: desired}, false)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := yaml.Unmarshal(body, &back); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	want, _ := json.Marshal(desired.Object)
	got, _ := json.Marshal(back)
	if string(got) != string(want) {
		t.Errorf("the patch reads back as\n%s\nwant\n%s\npatch:\n%s", got, want, body)
	}
}

// A patch policy still pending carries Envoy Gateway's hint into the wait
// report, in the table and in JSON; a rejected one carries none.
func TestWaitReportCarriesProviderHints(t *testing.T) {
	render.Register(envoygateway.New())
	epp := schema.GroupKind{Group: "gateway.envoyproxy.io", Kind: "EnvoyPatchPolicy"}
	c := &Change{Kind: "EnvoyPatchPolicy", Namespace: "envoy-gateway-system", Name: "gatefed-tiers"}
	pending := notAccepted("c1", epp, c, status.Result{State: status.Pending, Reason: "no status yet"})
	rejected := notAccepted("c1", epp, c, status.Result{State: status.Rejected, Reason: "bad patch", Final: true})
	if !strings.Contains(pending.Hint, "kubectl delete envoypatchpolicy gatefed-tiers -n envoy-gateway-system") {
		t.Errorf("pending patch policy's hint: %q", pending.Hint)
	}
	if rejected.Hint != "" {
		t.Errorf("rejected patch policy has a hint: %q", rejected.Hint)
	}
	wr := &WaitReport{NotAccepted: []WaitItem{pending, rejected}, TimedOut: true}
	var out strings.Builder
	WriteWaitReport(&out, wr, false)
	if want := "hint: c1 EnvoyPatchPolicy envoy-gateway-system/gatefed-tiers: " + pending.Hint + "\n"; !strings.Contains(out.String(), want) || strings.Count(out.String(), "hint:") != 1 {
		t.Errorf("wait report lacks the one hint line %q:\n%s", want, out.String())
	}
	b, err := json.Marshal(wr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"hint":"Envoy Gateway v1.9`) {
		t.Errorf("JSON lacks the hint: %s", b)
	}
}
