package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/status"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// many is the baseline plus enough routes that an apply takes several phases
// and many requests per cluster.
func (e *env) many(cluster string) []*unstructured.Unstructured {
	objs := e.baseline(cluster)
	for i := range 30 {
		name := "route-" + string(rune('a'+i/10)) + string(rune('0'+i%10))
		objs = append(objs, httpRoute(cluster, e.ns, name, e.svcNS, name+".example.com"))
	}
	return objs
}

// A cluster that goes down mid-run fails alone; once it is back, a rerun converges.
func TestApplyClusterStoppedMidRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var once sync.Once
	e.reqs.before = func(cluster string, n int, _ *http.Request) {
		if cluster == "c2" && n == 3 {
			once.Do(func() {
				if err := tf.StopCluster("c2"); err != nil {
					t.Errorf("stop c2: %v", err)
				}
			})
		}
	}
	t.Cleanup(func() {
		if !tf.Cluster("c2").Running() {
			_ = tf.StartCluster(context.Background(), "c2")
		}
	})
	_, res := e.apply(ctx, e.engine(), e.targets(e.many))
	e.reqs.before = nil
	if !res.Failed() {
		t.Fatal("apply with a cluster down must fail")
	}
	for _, r := range res.Clusters {
		if r.Name == "c2" {
			if r.OK() {
				t.Error("c2 went down but reports success")
			}
			if r.Err == nil || !strings.Contains(r.Err.Error(), "connection lost") || !strings.Contains(r.Err.Error(), "connection refused") || len(r.Errors) != 0 {
				t.Errorf("c2 must fail once with the lost connection, got err=%v and %d object errors", r.Err, len(r.Errors))
			}
			t.Logf("c2: %v: %s", counts(r), errorsText(r))
			continue
		}
		if !r.OK() || r.Created != 36 {
			t.Errorf("cluster %s: %v %s, want all 36 created", r.Name, counts(r), errorsText(r))
		}
	}

	// While c2 is down, a plan reports it unreachable and plans the others.
	p := e.engine().Plan(ctx, e.targets(e.many))
	if p.Clusters[1].Err == nil {
		t.Error("plan of a stopped cluster must fail")
	}
	if p.Clusters[0].Err != nil || p.Clusters[2].Err != nil || p.Clusters[0].Pending() || p.Clusters[2].Pending() {
		t.Error("the running clusters must plan in sync")
	}

	if err := tf.StartCluster(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	_, res = e.apply(ctx, e.engine(), e.targets(e.many))
	expectOK(t, res)
	if r := res.Clusters[1]; r.Created+r.Updated+r.Unchanged != 36 {
		t.Errorf("c2 after restart: %v", counts(r))
	}
	e.reqs.reset()
	_, res = e.apply(ctx, e.engine(), e.targets(e.many))
	expectOK(t, res)
	expectCounts(t, res, [5]int{0, 0, 0, 36, 0})
	if n := e.reqs.total(); n != 0 {
		t.Errorf("converged fleet got %d writes: %v", n, e.reqs.log)
	}
}

// An apply cancelled midway reports the interruption; a rerun converges.
func TestApplyCancelled(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	seen := 0
	e.reqs.before = func(_ string, _ int, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if seen++; seen == 10 {
			cancel()
		}
	}
	_, res := e.apply(ctx, e.engine(), e.targets(e.many))
	e.reqs.before = nil
	if !res.Failed() {
		t.Fatal("a cancelled apply must fail")
	}
	interrupted := false
	for _, r := range res.Clusters {
		if r.Err != nil && strings.Contains(r.Err.Error(), "context canceled") {
			interrupted = true
		}
	}
	if !interrupted {
		for _, r := range res.Clusters {
			t.Logf("%s: %v %s", r.Name, counts(r), errorsText(r))
		}
		t.Error("no cluster reports the cancellation")
	}

	ctx = context.Background()
	_, res = e.apply(ctx, e.engine(), e.targets(e.many))
	expectOK(t, res)
	for _, r := range res.Clusters {
		if r.Created+r.Updated+r.Unchanged != 36 {
			t.Errorf("cluster %s after rerun: %v", r.Name, counts(r))
		}
	}
	e.reqs.reset()
	_, res = e.apply(ctx, e.engine(), e.targets(e.many))
	expectOK(t, res)
	expectCounts(t, res, [5]int{0, 0, 0, 36, 0})
	if n := e.reqs.total(); n != 0 {
		t.Errorf("converged fleet got %d writes: %v", n, e.reqs.log)
	}
}

// Diff: creates, updates and deletions with server-side dry-run, Secret values
// masked in text and JSON, nothing written.
func TestDiff(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, res := e.apply(ctx, e.engine(), e.targets(e.baseline))
	expectOK(t, res)

	next := func(cluster string) []*unstructured.Unstructured {
		objs := e.baseline(cluster)
		objs[1] = secret(cluster, e.ns, "failover-upstream", map[string]string{"tls.crt": "cert-" + cluster, "tls.key": "rotated-key-" + cluster})
		objs[4] = httpRoute(cluster, e.ns, "api", e.svcNS, "api.example.com", "api2.example.com")
		objs = append(objs[:5], secret(cluster, e.ns, "extra", map[string]string{"password": "hunter2"}))
		return objs // the "web" route is gone
	}
	e.reqs.reset()
	eng := e.engine()
	p := eng.Plan(ctx, e.targets(next))
	eng.Diff(ctx, p)
	for _, c := range tf.Clusters {
		for _, l := range e.reqs.log[c.Name] {
			if !strings.Contains(l, "dryRun=All") {
				t.Errorf("cluster %s: diff sent a real write: %s", c.Name, l)
			}
		}
		// only the three objects that might change are sent for dry-run
		if n := e.reqs.writes[c.Name]; n != 3 {
			t.Errorf("cluster %s: %d dry-run requests, want 3: %v", c.Name, n, e.reqs.log[c.Name])
		}
	}
	if p.Failed() || !p.Pending() {
		t.Fatalf("plan: failed=%v pending=%v", p.Failed(), p.Pending())
	}
	ops := map[string]Op{}
	for _, c := range p.Clusters[0].Changes {
		ops[c.Ref()] = c.Op
	}
	want := map[string]Op{
		"Secret " + e.ns + "/failover-upstream": OpUpdate, "HTTPRoute " + e.ns + "/api": OpUpdate,
		"Secret " + e.ns + "/extra": OpCreate, "HTTPRoute " + e.ns + "/web": OpDelete,
		"Upstream " + e.ns + "/api": OpUnchanged, "VirtualService " + e.ns + "/shop": OpUnchanged,
		"ReferenceGrant " + e.svcNS + "/gatefed-" + e.ns: OpUnchanged,
	}
	for ref, op := range want {
		if ops[ref] != op {
			t.Errorf("c1 %s: %s, want %s", ref, ops[ref], op)
		}
	}

	var text bytes.Buffer
	WriteDiff(&text, p, false)
	var js bytes.Buffer
	if err := WriteDiffJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text.String(), js.String()} {
		for _, secretValue := range []string{"hunter2", "aHVudGVyMg", "rotated-key", "cm90YXRlZC1rZXk", "key-c1", "a2V5LWMx"} {
			if strings.Contains(out, secretValue) {
				t.Errorf("output shows a Secret value (%s):\n%s", secretValue, out)
			}
		}
	}
	d := text.String()
	for _, s := range []string{
		"# c1: update Secret " + e.ns + "/failover-upstream",
		"-  tls.key: '*** (before)'", "+  tls.key: '*** (after)'", "   tls.crt: '***'",
		"# c2: create Secret " + e.ns + "/extra", "+  password: '***'",
		"# c3: update HTTPRoute " + e.ns + "/api", "+  - api2.example.com",
		"# c1: delete HTTPRoute " + e.ns + "/web", "-  - web.example.com", "@@ -1,28 +0,0 @@",
	} {
		if !strings.Contains(d, s) {
			t.Errorf("diff lacks %q:\n%s", s, d)
		}
	}
	for _, hidden := range []string{"managedFields", "resourceVersion", "creationTimestamp", "uid:", "generation:"} {
		if strings.Contains(d, hidden) {
			t.Errorf("diff shows %s:\n%s", hidden, d)
		}
	}
	var doc struct {
		Clusters []struct {
			Name    string `json:"name"`
			Changes []struct {
				Op, Kind, Namespace, Name, Diff string
			} `json:"changes"`
		} `json:"clusters"`
		Summary Summary `json:"summary"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Clusters) != 3 || len(doc.Clusters[0].Changes) != 4 {
		t.Fatalf("json: %s", js.String())
	}
	if s := doc.Summary; s.Create != 3 || s.Update != 6 || s.Delete != 3 || s.Unchanged != 9 || s.InSync {
		t.Errorf("summary = %+v", s)
	}
	if c := doc.Clusters[0].Changes[0]; c.Op == "" || c.Kind == "" || c.Name == "" || c.Diff == "" {
		t.Errorf("change lacks fields: %+v", c)
	}

	// Nothing was written: the in-sync input still diffs clean.
	p = eng.Plan(ctx, e.targets(e.baseline))
	eng.Diff(ctx, p)
	if p.Pending() || p.Failed() {
		t.Errorf("diff wrote something: pending=%v failed=%v", p.Pending(), p.Failed())
	}
}

// Wait: accepted objects pass, a rejected one is reported with its reason.
func TestWait(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	objs := func(cluster string) []*unstructured.Unstructured {
		b := e.baseline(cluster)
		return []*unstructured.Unstructured{b[0], b[1], b[2], b[3], b[4]}
	}
	eng := e.engine()
	p := eng.Plan(ctx, e.targets(objs))
	res := eng.Apply(ctx, p)
	expectOK(t, res)

	old := WaitInterval
	WaitInterval = 100 * time.Millisecond
	t.Cleanup(func() { WaitInterval = old })

	// Nobody has written a status yet: everything pending at the deadline.
	wr := eng.Wait(ctx, p, res, 300*time.Millisecond)
	if wr.OK() || !wr.TimedOut || len(wr.NotAccepted) != 9 {
		t.Fatalf("wait without controllers: %+v", wr)
	}

	for _, c := range tf.Clusters {
		sim := c.Sim()
		if err := sim.GlooStatus(ctx, gvrUpstream, e.ns, "api", testfleet.GlooStatus{State: gloo.StateAccepted}); err != nil {
			t.Fatal(err)
		}
		vs := testfleet.GlooStatus{State: gloo.StateAccepted, StateAsString: true}
		if c.Name == "c3" {
			vs = testfleet.GlooStatus{State: gloo.StateRejected, Reason: "domain conflict"}
		}
		if err := sim.GlooStatus(ctx, gvrVirtualService, e.ns, "shop", vs); err != nil {
			t.Fatal(err)
		}
		if err := sim.RouteStatus(ctx, gvrHTTPRoute, e.ns, "api", localfleet.ParentStatus{
			ControllerName: envoygateway.ControllerName, Gateway: "eg", Conditions: []localfleet.Condition{localfleet.True("Accepted", ""), localfleet.True("ResolvedRefs", "")},
		}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	wr = eng.Wait(ctx, p, res, time.Minute)
	if time.Since(start) > 30*time.Second {
		t.Errorf("a final rejection must end the wait early, took %s", time.Since(start))
	}
	if wr.OK() || wr.TimedOut || wr.Accepted != 8 || len(wr.NotAccepted) != 1 {
		t.Fatalf("wait: %+v", wr)
	}
	it := wr.NotAccepted[0]
	if it.Cluster != "c3" || it.Kind != "VirtualService" || it.Status.State != status.Rejected || it.Status.Reason != "domain conflict" {
		t.Errorf("not accepted: %+v", it)
	}
}

// kubectl reads gatefed's ApplySet: the parent's ID is the one kubectl
// computes for the same ConfigMap, and kubectl refuses to take it over.
func TestKubectlUnderstandsApplySet(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	kubectl := func(args ...string) (string, error) {
		cmd := exec.Command(localfleet.KubectlBin(), append([]string{"--kubeconfig", tf.Kubeconfig, "--context", "c1"}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECTL_APPLYSET=true", "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// kubectl's own parent, to read the ID it computes.
	manifest := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata: {a: b}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl("apply", "-n", e.ns, "--server-side", "--prune", "--applyset=configmap/kubectl-set", "-f", manifest); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	kubectlID := e.mustGet("c1", gvrConfigMap, e.ns, "kubectl-set").GetLabels()[LabelApplySetID]
	if want := ApplySetID("kubectl-set", e.ns, "ConfigMap", ""); kubectlID != want {
		t.Errorf("kubectl's ID %q, ApplySetID %q", kubectlID, want)
	}

	_, res := e.apply(ctx, e.engine(), e.targets(e.baseline))
	expectOK(t, res)
	out, err := kubectl("apply", "-n", e.ns, "--server-side", "--prune", "--applyset=configmap/"+DefaultParentName, "-f", manifest)
	if err == nil || !strings.Contains(out, `managed by tooling "gatefed"`) {
		t.Errorf("kubectl must see the set as gatefed's: %v\n%s", err, out)
	}
	// And kubectl finds the members by the part-of label.
	out, err = kubectl("get", "httproutes", "-n", e.ns, "-l", LabelPartOf+"="+ApplySetID(DefaultParentName, e.ns, "ConfigMap", ""), "-o", "name")
	if err != nil || strings.Count(out, "httproute") != 2 {
		t.Errorf("kubectl get members: %v\n%s", err, out)
	}
	_ = metav1.GetOptions{}
}

// --fail-fast: the first failure (a rejected object in c2) stops the other
// clusters, whose writes are held until then.
func TestApplyFailFast(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bad := func(cluster string) []*unstructured.Unstructured {
		objs := e.baseline(cluster)
		if cluster == "c2" {
			objs[1].Object["strinData"] = map[string]any{"x": "y"} // misspelt stringData
		}
		return objs
	}
	e.reqs.before = func(cluster string, _ int, req *http.Request) {
		if cluster == "c2" {
			return
		}
		select {
		case <-req.Context().Done(): // cancelled by the failure in c2
		case <-time.After(30 * time.Second):
		}
	}
	_, res := e.apply(ctx, e.engine(func(o *Options) { o.FailFast = true }), e.targets(bad))
	e.reqs.before = nil
	for _, r := range res.Clusters {
		// c2's ReferenceGrant shares the Secret's phase and may get through.
		if r.OK() || (r.Name != "c2" && r.Created != 0) || r.Created > 1 {
			t.Errorf("cluster %s: %v %s, want stopped before the later phases", r.Name, counts(r), errorsText(r))
		}
		if r.Name != "c2" && (r.Err == nil || !strings.Contains(r.Err.Error(), "stopped by --fail-fast after a failure")) {
			t.Errorf("cluster %s: err = %v, want stopped by --fail-fast", r.Name, r.Err)
		}
	}
	if _, err := e.get("c2", gvrHTTPRoute, e.ns, "api"); !apierrors.IsNotFound(err) {
		t.Errorf("c2 went on to the routes: %v", err)
	}
	if c2 := res.Clusters[1]; len(c2.Errors) != 1 || !strings.Contains(c2.Errors[0].Error(), "strinData") {
		t.Errorf("c2 errors = %v, want the misspelt Secret field", c2.Errors)
	}
	// Without --fail-fast the other clusters apply.
	_, res = e.apply(ctx, e.engine(), e.targets(bad))
	if !res.Clusters[0].OK() || !res.Clusters[2].OK() || res.Clusters[1].OK() {
		t.Errorf("without --fail-fast: %v / %v / %v", counts(res.Clusters[0]), counts(res.Clusters[1]), counts(res.Clusters[2]))
	}
}
