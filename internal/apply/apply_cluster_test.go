package apply

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Create, no-op (zero writes), update, prune — and what prune leaves alone.
func TestApplyCreateNoopUpdatePrune(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	eng := e.engine()

	// Create: every object, plus the ApplySet parent.
	_, res := e.apply(ctx, eng, e.targets(e.baseline))
	expectOK(t, res)
	expectCounts(t, res, [5]int{6, 0, 0, 0, 0})
	id := ApplySetID(DefaultParentName, e.ns, "ConfigMap", "")
	for _, c := range tf.Clusters {
		parent := e.mustGet(c.Name, gvrConfigMap, e.ns, DefaultParentName)
		if got := parent.GetLabels()[LabelApplySetID]; got != id {
			t.Errorf("cluster %s: parent id = %q, want %q", c.Name, got, id)
		}
		ann := parent.GetAnnotations()
		wantGKs := "HTTPRoute.gateway.networking.k8s.io,ReferenceGrant.gateway.networking.k8s.io,Secret,Upstream.gloo.solo.io,VirtualService.gateway.solo.io"
		if ann[AnnotationGroupKinds] != wantGKs {
			t.Errorf("cluster %s: contains-group-kinds = %q, want %q", c.Name, ann[AnnotationGroupKinds], wantGKs)
		}
		if ann[AnnotationAdditionalNS] != e.svcNS {
			t.Errorf("cluster %s: additional-namespaces = %q, want %q", c.Name, ann[AnnotationAdditionalNS], e.svcNS)
		}
		if ann[AnnotationTooling] != "gatefed/v0.0.0-test" {
			t.Errorf("cluster %s: tooling = %q", c.Name, ann[AnnotationTooling])
		}
		route := e.mustGet(c.Name, gvrHTTPRoute, e.ns, "api")
		if route.GetLabels()[LabelPartOf] != id || route.GetLabels()["gatefed.dev/cluster"] != c.Name {
			t.Errorf("cluster %s: route labels = %v", c.Name, route.GetLabels())
		}
		var managers []string
		for _, mf := range route.GetManagedFields() {
			managers = append(managers, mf.Manager+"/"+string(mf.Operation))
		}
		if strings.Join(managers, ",") != "gatefed/Apply" {
			t.Errorf("cluster %s: route managed by %v, want gatefed/Apply only", c.Name, managers)
		}
		rg := e.mustGet(c.Name, gvrReferenceGrant, e.svcNS, "gatefed-"+e.ns)
		if rg.GetLabels()[LabelPartOf] != id {
			t.Errorf("cluster %s: ReferenceGrant not in the set: %v", c.Name, rg.GetLabels())
		}
	}

	// No-op: a second apply of the same input sends no write at all.
	e.reqs.reset()
	p, res := e.apply(ctx, e.engine(), e.targets(e.baseline))
	expectOK(t, res)
	expectCounts(t, res, [5]int{0, 0, 0, 6, 0})
	if p.Pending() {
		t.Error("plan of an applied input has pending changes")
	}
	if n := e.reqs.total(); n != 0 {
		t.Fatalf("second apply sent %d write requests, want 0: %v", n, e.reqs.log)
	}

	// Update: one hostname changes; only that object is written, between
	// the two writes of the ApplySet parent that take and release the
	// cluster's apply lock.
	changed := func(cluster string) []*unstructured.Unstructured {
		objs := e.baseline(cluster)
		objs[4] = httpRoute(cluster, e.ns, "api", e.svcNS, "api.example.com", "api2.example.com")
		return objs
	}
	e.reqs.reset()
	_, res = e.apply(ctx, e.engine(), e.targets(changed))
	expectOK(t, res)
	expectCounts(t, res, [5]int{0, 1, 0, 5, 0})
	for _, c := range tf.Clusters {
		if n := e.reqs.writes[c.Name]; n != 3 {
			t.Errorf("cluster %s: update sent %d writes, want 3: %v", c.Name, n, e.reqs.log[c.Name])
		}
		hosts, _, _ := unstructured.NestedStringSlice(e.mustGet(c.Name, gvrHTTPRoute, e.ns, "api").Object, "spec", "hostnames")
		if strings.Join(hosts, ",") != "api.example.com,api2.example.com" {
			t.Errorf("cluster %s: hostnames = %v", c.Name, hosts)
		}
	}

	// Objects prune must leave alone: an unlabelled route, one labelled
	// managed-by=gatefed but not in the set, one in another ApplySet.
	foreign := map[string]map[string]string{
		"foreign-unlabelled": nil,
		"foreign-managed-by": {"app.kubernetes.io/managed-by": "gatefed"},
		"foreign-other-set":  {LabelPartOf: ApplySetID("other", e.ns, "ConfigMap", "")},
	}
	for _, c := range tf.Clusters {
		for name, labels := range foreign {
			r := httpRoute(c.Name, e.ns, name, e.svcNS, name+".example.com")
			r.SetLabels(labels)
			if _, err := e.dyn(c.Name).Resource(gvrHTTPRoute).Namespace(e.ns).Create(ctx, r, metav1.CreateOptions{FieldManager: "someone-else"}); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Prune: the "web" route, the VirtualService and its Upstream are no longer rendered.
	pruned := func(cluster string) []*unstructured.Unstructured {
		objs := changed(cluster)
		return []*unstructured.Unstructured{objs[0], objs[1], objs[4]}
	}
	p = e.engine().Plan(ctx, e.targets(pruned))
	for _, cp := range p.Clusters {
		var dels []string
		for _, c := range cp.Changes {
			if c.Op == OpDelete {
				dels = append(dels, c.Ref())
			}
		}
		// routes go before what they point at
		want := "HTTPRoute " + e.ns + "/web,VirtualService " + e.ns + "/shop,Upstream " + e.ns + "/api"
		if strings.Join(dels, ",") != want {
			t.Errorf("cluster %s: deletions = %v, want %s", cp.Name, dels, want)
		}
	}
	res = e.engine().Apply(ctx, p)
	expectOK(t, res)
	expectCounts(t, res, [5]int{0, 0, 3, 3, 0})
	for _, c := range tf.Clusters {
		if _, err := e.get(c.Name, gvrHTTPRoute, e.ns, "web"); !apierrors.IsNotFound(err) {
			t.Errorf("cluster %s: pruned route still there: %v", c.Name, err)
		}
		if _, err := e.get(c.Name, gvrVirtualService, e.ns, "shop"); !apierrors.IsNotFound(err) {
			t.Errorf("cluster %s: pruned VirtualService still there: %v", c.Name, err)
		}
		if _, err := e.get(c.Name, gvrUpstream, e.ns, "api"); !apierrors.IsNotFound(err) {
			t.Errorf("cluster %s: pruned Upstream still there: %v", c.Name, err)
		}
		for name := range foreign {
			if _, err := e.get(c.Name, gvrHTTPRoute, e.ns, name); err != nil {
				t.Errorf("cluster %s: prune touched %s: %v", c.Name, name, err)
			}
		}
		// The parent shrinks to the kinds still applied.
		ann := e.mustGet(c.Name, gvrConfigMap, e.ns, DefaultParentName).GetAnnotations()
		if want := "HTTPRoute.gateway.networking.k8s.io,ReferenceGrant.gateway.networking.k8s.io,Secret"; ann[AnnotationGroupKinds] != want {
			t.Errorf("cluster %s: kinds after prune = %q, want %q", c.Name, ann[AnnotationGroupKinds], want)
		}
	}

	// And the result is stable: nothing more to write.
	e.reqs.reset()
	_, res = e.apply(ctx, e.engine(), e.targets(pruned))
	expectOK(t, res)
	expectCounts(t, res, [5]int{0, 0, 0, 3, 0})
	if n := e.reqs.total(); n != 0 {
		t.Errorf("apply after prune sent %d writes, want 0: %v", n, e.reqs.log)
	}
}

// A field another manager owns with a different value is a conflict naming
// the manager and the field; --force-conflicts takes it over.
func TestApplyConflict(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, res := e.apply(ctx, e.engine(), e.targets(e.baseline))
	expectOK(t, res)

	// Someone edits the hostnames of the api route in c2.
	route := e.mustGet("c2", gvrHTTPRoute, e.ns, "api")
	if err := unstructured.SetNestedStringSlice(route.Object, []string{"edited.example.com"}, "spec", "hostnames"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dyn("c2").Resource(gvrHTTPRoute).Namespace(e.ns).Update(ctx, route, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}

	// gatefed now wants a change to that field: a conflict in c2 only.
	changed := func(cluster string) []*unstructured.Unstructured {
		objs := e.baseline(cluster)
		objs[4] = httpRoute(cluster, e.ns, "api", e.svcNS, "api.example.com", "new.example.com")
		return objs
	}
	p, res := e.apply(ctx, e.engine(), e.targets(changed))
	if !res.Failed() {
		t.Fatal("apply over another manager's field must fail without --force-conflicts")
	}
	for _, r := range res.Clusters {
		if r.Name != "c2" {
			if !r.OK() || r.Updated != 1 {
				t.Errorf("cluster %s: %v, want the update applied", r.Name, counts(r))
			}
			continue
		}
		if r.Failed != 1 || len(r.Errors) != 1 {
			t.Fatalf("c2: failed=%d errors=%v, want one conflict", r.Failed, r.Errors)
		}
		oe := r.Errors[0]
		if len(oe.Conflicts) != 1 || oe.Conflicts[0] != (FieldConflict{Manager: "kubectl-edit", Field: ".spec.hostnames"}) {
			t.Errorf("c2 conflicts = %+v, want .spec.hostnames owned by kubectl-edit", oe.Conflicts)
		}
		if msg := oe.Error(); !strings.Contains(msg, `HTTPRoute `+e.ns+`/api: conflict: .spec.hostnames owned by field manager "kubectl-edit"`) {
			t.Errorf("c2 conflict message = %q", msg)
		}
	}
	_ = p
	hosts, _, _ := unstructured.NestedStringSlice(e.mustGet("c2", gvrHTTPRoute, e.ns, "api").Object, "spec", "hostnames")
	if strings.Join(hosts, ",") != "edited.example.com" {
		t.Errorf("a conflict must leave the object alone, hostnames = %v", hosts)
	}

	// The diff reports the same conflict.
	dp := e.engine().Plan(ctx, e.targets(changed))
	e.engine().Diff(ctx, dp)
	if !dp.Failed() || len(dp.Clusters[1].Errors) != 1 || len(dp.Clusters[1].Errors[0].Conflicts) != 1 {
		t.Errorf("diff must report the conflict in c2: %+v", dp.Clusters[1].Errors)
	}

	// Forcing takes the field over; then all is in sync.
	_, res = e.apply(ctx, e.engine(func(o *Options) { o.ForceConflicts = true }), e.targets(changed))
	expectOK(t, res)
	hosts, _, _ = unstructured.NestedStringSlice(e.mustGet("c2", gvrHTTPRoute, e.ns, "api").Object, "spec", "hostnames")
	if strings.Join(hosts, ",") != "api.example.com,new.example.com" {
		t.Errorf("after --force-conflicts hostnames = %v", hosts)
	}
	e.reqs.reset()
	_, res = e.apply(ctx, e.engine(), e.targets(changed))
	expectOK(t, res)
	if n := e.reqs.total(); n != 0 {
		t.Errorf("apply after forcing sent %d writes, want 0: %v", n, e.reqs.log)
	}
}

// A misspelt field is rejected by the cluster's real schema (strict field
// validation); the other objects and clusters are applied.
func TestApplyMisspeltFieldRejected(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bad := func(cluster string) []*unstructured.Unstructured {
		objs := e.baseline(cluster)
		if cluster == "c3" {
			spec := objs[5].Object["spec"].(map[string]any)
			spec["hostnamez"] = spec["hostnames"]
			delete(spec, "hostnames")
		}
		return objs
	}
	dp := e.engine().Plan(ctx, e.targets(bad))
	e.engine().Diff(ctx, dp)
	if !dp.Failed() || len(dp.Clusters[2].Errors) != 1 || !strings.Contains(dp.Clusters[2].Errors[0].Error(), ".spec.hostnamez: field not declared in schema") {
		t.Fatalf("diff must reject the misspelt field in c3: %+v", dp.Clusters[2].Errors)
	}
	_, res := e.apply(ctx, e.engine(), e.targets(bad))
	for _, r := range res.Clusters {
		if r.Name != "c3" {
			if !r.OK() || r.Created != 6 {
				t.Errorf("cluster %s: %v %s", r.Name, counts(r), errorsText(r))
			}
			continue
		}
		if r.OK() || r.Failed != 1 || r.Created != 5 {
			t.Errorf("c3: %v, want 5 created and 1 failed", counts(r))
		}
		if txt := errorsText(r); !strings.Contains(txt, "HTTPRoute "+e.ns+"/web") || !strings.Contains(txt, ".spec.hostnamez: field not declared in schema") {
			t.Errorf("c3 error = %q", txt)
		}
	}
	if _, err := e.get("c3", gvrHTTPRoute, e.ns, "web"); !apierrors.IsNotFound(err) {
		t.Errorf("rejected route exists: %v", err)
	}
}

// Nothing rendered for a cluster whose ApplySet has members: refused unless AllowEmpty.
func TestApplyRefusesToEmpty(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, res := e.apply(ctx, e.engine(), e.targets(e.baseline))
	expectOK(t, res)
	empty := func(cluster string) []*unstructured.Unstructured {
		if cluster == "c1" {
			return nil
		}
		return e.baseline(cluster)
	}
	e.reqs.reset()
	p, res := e.apply(ctx, e.engine(), e.targets(empty))
	if p.Clusters[0].Refused == nil || !strings.Contains(res.Clusters[0].Err.Error(), "--allow-empty") {
		t.Fatalf("c1 must be refused: %v", res.Clusters[0].Err)
	}
	if e.reqs.writes["c1"] != 0 {
		t.Errorf("refused cluster got %d writes", e.reqs.writes["c1"])
	}
	if !res.Clusters[1].OK() || !res.Clusters[2].OK() {
		t.Error("other clusters must be unaffected")
	}
	_, res = e.apply(ctx, e.engine(func(o *Options) { o.AllowEmpty = true }), e.targets(empty))
	expectOK(t, res)
	if res.Clusters[0].Deleted != 6 {
		t.Errorf("c1 deleted %d, want 6", res.Clusters[0].Deleted)
	}
	ann := e.mustGet("c1", gvrConfigMap, e.ns, DefaultParentName).GetAnnotations()
	if ann[AnnotationGroupKinds] != "" || ann[AnnotationAdditionalNS] != "" {
		t.Errorf("emptied set's parent = %v", ann)
	}
}

// An object applied earlier by kubectl (no ApplySet label) is planned as an
// update, not a create. Its atomic lists (defaulted by the server) are owned
// by kubectl, so applying reports a conflict naming kubectl; --force-conflicts
// adopts it into the set.
func TestApplyAdoptsExistingObject(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, c := range tf.Clusters {
		r := httpRoute(c.Name, e.ns, "api", e.svcNS, "api.example.com")
		r.SetLabels(nil)
		if _, err := e.dyn(c.Name).Resource(gvrHTTPRoute).Namespace(e.ns).Apply(ctx, "api", r, metav1.ApplyOptions{FieldManager: "kubectl"}); err != nil {
			t.Fatal(err)
		}
	}
	p, res := e.apply(ctx, e.engine(), e.targets(e.baseline))
	for _, cp := range p.Clusters {
		for _, c := range cp.Changes {
			if c.Name == "api" && c.Kind == "HTTPRoute" && c.Op != OpUpdate {
				t.Errorf("cluster %s: existing route planned as %s, want update", cp.Name, c.Op)
			}
		}
	}
	for _, r := range res.Clusters {
		if r.Created != 5 || r.Failed != 1 || len(r.Errors) != 1 {
			t.Fatalf("cluster %s: %v %s, want 5 created and the route failed", r.Name, counts(r), errorsText(r))
		}
		for _, fc := range r.Errors[0].Conflicts {
			if fc.Manager != "kubectl" {
				t.Errorf("cluster %s: conflict with %q, want kubectl", r.Name, fc.Manager)
			}
		}
	}
	_, res = e.apply(ctx, e.engine(func(o *Options) { o.ForceConflicts = true }), e.targets(e.baseline))
	expectOK(t, res)
	expectCounts(t, res, [5]int{0, 1, 0, 5, 0})
	id := ApplySetID(DefaultParentName, e.ns, "ConfigMap", "")
	if got := e.mustGet("c1", gvrHTTPRoute, e.ns, "api").GetLabels()[LabelPartOf]; got != id {
		t.Errorf("adopted route part-of = %q", got)
	}
	e.reqs.reset()
	_, res = e.apply(ctx, e.engine(), e.targets(e.baseline))
	expectOK(t, res)
	if n := e.reqs.total(); n != 0 {
		t.Errorf("apply after adoption sent %d writes, want 0: %v", n, e.reqs.log)
	}
}
