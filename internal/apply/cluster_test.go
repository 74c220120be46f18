package apply

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/providers"
	"github.com/gatefed/gatefed/internal/testfleet"
)

var tf *testfleet.Fleet

func TestMain(m *testing.M) {
	providers.Register()
	os.Exit(testfleet.Main(m, localfleet.Options{Count: 3}, &tf))
}

var (
	gvrHTTPRoute      = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	gvrReferenceGrant = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1beta1", Resource: "referencegrants"}
	gvrUpstream       = schema.GroupVersionResource{Group: "gloo.solo.io", Version: "v1", Resource: "upstreams"}
	gvrVirtualService = schema.GroupVersionResource{Group: "gateway.solo.io", Version: "v1", Resource: "virtualservices"}
	gvrSecret         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrConfigMap      = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// requests counts the write requests (anything but GET) each cluster receives
// and lets a test act just before one is sent.
type requests struct {
	mu     sync.Mutex
	writes map[string]int
	log    map[string][]string
	before func(cluster string, n int, req *http.Request)
}

func newRequests() *requests {
	return &requests{writes: map[string]int{}, log: map[string][]string{}}
}

func (r *requests) wrap(cluster string, rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet {
			r.mu.Lock()
			r.writes[cluster]++
			n := r.writes[cluster]
			r.log[cluster] = append(r.log[cluster], req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery)
			before := r.before
			r.mu.Unlock()
			if before != nil {
				before(cluster, n, req)
			}
		}
		return rt.RoundTrip(req)
	})
}

func (r *requests) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = map[string]int{}
	r.log = map[string][]string{}
}

func (r *requests) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.writes {
		n += v
	}
	return n
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// env is one test's corner of the shared fleet: its own gateway and service
// namespaces (so its own ApplySet), discovery cache and request counter.
type env struct {
	t     *testing.T
	ns    string // gateway namespace
	svcNS string // service namespace, for ReferenceGrants
	reqs  *requests
	cache string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{t: t, ns: tf.Namespace(t, "gw"), svcNS: tf.Namespace(t, "svc"), reqs: newRequests(), cache: t.TempDir()}
}

func (e *env) cluster(name string) *fleet.Cluster {
	c := tf.Cluster(name)
	return &fleet.Cluster{
		TypeMeta: fleet.TypeMeta{APIVersion: fleet.APIVersion, Kind: fleet.KindCluster},
		Metadata: fleet.ObjectMeta{Name: c.Name},
		Spec: fleet.ClusterSpec{
			Kubeconfig: tf.Kubeconfig, Context: c.Context,
			Gateway: fleet.GatewaySpec{Provider: "gloo", Namespace: e.ns},
		},
	}
}

// targets gives every cluster of the fleet the objects objs returns for it.
func (e *env) targets(objs func(cluster string) []*unstructured.Unstructured) []Target {
	var out []Target
	for _, c := range tf.Clusters {
		out = append(out, Target{Cluster: e.cluster(c.Name), Objects: objs(c.Name)})
	}
	return out
}

func (e *env) engine(mod ...func(*Options)) *Engine {
	o := Options{Prune: true, Tooling: "gatefed/v0.0.0-test", CacheDir: e.cache, WrapTransport: e.reqs.wrap}
	for _, f := range mod {
		f(&o)
	}
	return New(o)
}

// apply plans and applies, failing the test on planning errors unless allowed.
func (e *env) apply(ctx context.Context, eng *Engine, targets []Target) (*Plan, *Result) {
	e.t.Helper()
	p := eng.Plan(ctx, targets)
	return p, eng.Apply(ctx, p)
}

func (e *env) dyn(cluster string) dynamic.Interface {
	e.t.Helper()
	d, err := dynamic.NewForConfig(tf.Cluster(cluster).Config)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) get(cluster string, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	return e.dyn(cluster).Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
}

func (e *env) mustGet(cluster string, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	e.t.Helper()
	o, err := e.get(cluster, gvr, ns, name)
	if err != nil {
		e.t.Fatalf("cluster %s: get %s %s/%s: %v", cluster, gvr.Resource, ns, name, err)
	}
	return o
}

// Object builders, labelled as the renderer labels them.

func stamp(u *unstructured.Unstructured, cluster string) *unstructured.Unstructured {
	u.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "gatefed", "gatefed.dev/cluster": cluster})
	return u
}

func secret(cluster, ns, name string, data map[string]string) *unstructured.Unstructured {
	d := map[string]any{}
	for k, v := range data {
		d[k] = v
	}
	return stamp(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"type":       "Opaque",
		"stringData": d,
	}}, cluster)
}

func upstream(cluster, ns, name, svcNS string, port int64) *unstructured.Unstructured {
	return stamp(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"kube": map[string]any{
			"serviceName": name, "serviceNamespace": svcNS, "servicePort": port,
		}},
	}}, cluster)
}

func virtualService(cluster, ns, name string, domains []any, upstreamName string) *unstructured.Unstructured {
	return stamp(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"virtualHost": map[string]any{
			"domains": domains,
			"routes": []any{map[string]any{
				"matchers":    []any{map[string]any{"prefix": "/"}},
				"routeAction": map[string]any{"single": map[string]any{"upstream": map[string]any{"name": upstreamName, "namespace": ns}}},
			}},
		}},
	}}, cluster)
}

func httpRoute(cluster, ns, name, svcNS string, hostnames ...any) *unstructured.Unstructured {
	return stamp(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": "eg"}},
			"hostnames":  hostnames,
			"rules": []any{map[string]any{
				"backendRefs": []any{map[string]any{"name": "api", "namespace": svcNS, "port": int64(8080)}},
			}},
		},
	}}, cluster)
}

func referenceGrant(cluster, svcNS, fromNS string) *unstructured.Unstructured {
	return stamp(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
		"metadata": map[string]any{"name": "gatefed-" + fromNS, "namespace": svcNS},
		"spec": map[string]any{
			"from": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": fromNS}},
			"to":   []any{map[string]any{"group": "", "kind": "Service"}},
		},
	}}, cluster)
}

// baseline is a small but complete set: a ReferenceGrant in the service
// namespace, a Secret, an Upstream, a VirtualService and two HTTPRoutes.
func (e *env) baseline(cluster string) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		referenceGrant(cluster, e.svcNS, e.ns),
		secret(cluster, e.ns, "failover-upstream", map[string]string{"tls.crt": "cert-" + cluster, "tls.key": "key-" + cluster}),
		upstream(cluster, e.ns, "api", e.svcNS, 8080),
		virtualService(cluster, e.ns, "shop", []any{"shop.example.com"}, "api"),
		httpRoute(cluster, e.ns, "api", e.svcNS, "api.example.com"),
		httpRoute(cluster, e.ns, "web", e.svcNS, "web.example.com"),
	}
}

func counts(r *ClusterResult) [5]int {
	return [5]int{r.Created, r.Updated, r.Deleted, r.Unchanged, r.Failed}
}

func expectOK(t *testing.T, res *Result) {
	t.Helper()
	for _, r := range res.Clusters {
		if !r.OK() {
			t.Fatalf("cluster %s failed: err=%v errors=%v", r.Name, r.Err, r.Errors)
		}
	}
}

func expectCounts(t *testing.T, res *Result, want [5]int) {
	t.Helper()
	for _, r := range res.Clusters {
		if got := counts(r); got != want {
			t.Errorf("cluster %s: created/updated/deleted/unchanged/failed = %v, want %v (err=%v errors=%v)", r.Name, got, want, r.Err, r.Errors)
		}
	}
}

func errorsText(r *ClusterResult) string {
	var parts []string
	if r.Err != nil {
		parts = append(parts, r.Err.Error())
	}
	for _, oe := range r.Errors {
		parts = append(parts, oe.Error())
	}
	return strings.Join(parts, "\n")
}
