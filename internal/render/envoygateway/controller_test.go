package envoygateway_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// TestEnvoyGatewayControllerConfig applies what gatefed renders for one
// envoy-gateway cluster of an example fleet to a real API server watched by
// the real Envoy Gateway controller, and reads the Envoy configuration the
// controller serves the cluster's proxy (over ADS, with xdsdump) and the
// statuses it writes. Unlike egctl, the controller routes to the endpoints
// of the Services' EndpointSlices, so this is where IP and DNS-name
// endpoints in one rule would split. The same assertions as
// TestEnvoyGatewayTranslation apply. Then a rule of the shape gatefed no
// longer renders (a local Service next to a DNS-name fallback Backend) shows
// the split: the controller sends it to weighted clusters.
func TestEnvoyGatewayControllerConfig(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Count: 1})
	tc := tf.Clusters[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // includes waiting for the one controller per machine
	defer cancel()
	eg, err := tc.StartEnvoyGateway(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := eg.Stop(); err != nil {
			t.Error(err)
		}
	})
	ca, err := localfleet.NewCertAuthority("controller")
	if err != nil {
		t.Fatal(err)
	}
	live := newLiveCluster(t, tc)

	// locality-envoy's use1-a, the example of strict tiers over IP
	// addresses, has retries, whose previous-hosts predicate xdsdump cannot
	// decode: mixed's eg-east, with strictTiers set here, stands in for it.
	for _, c := range []struct {
		fleet, cluster string
		strict         bool
	}{
		{"dns-failover", "eg-use1", false}, // every tier by name
		{"dns-failover", "eg-edge", false}, // strict tiers (in the fleet), patched into DNS clusters
		{"mixed", "eg-east", false},        // every tier by IP
		{"mixed", "eg-east", true},         // strict tiers, patched into EDS
		{"tls", "eg-west", false},          // HTTPS through ListenerSets, which egctl does not load
	} {
		name := c.fleet + "/" + c.cluster
		if c.strict {
			name += "/strict-tiers"
		}
		t.Run(name, func(t *testing.T) {
			f := fleettest.LoadDir(t, filepath.Join("..", "..", "..", "testdata", "fleets", c.fleet))
			if c.strict {
				f.Cluster(c.cluster).Spec.Gateway.StrictTiers = true
			}
			res, err := render.Render(f, render.Options{Clusters: []string{c.cluster}})
			if err != nil {
				t.Fatal(err)
			}
			objs := res.Clusters[0].Objects
			in := render.Input(f, res.Clusters[0].Cluster, nil)
			w := newEGWorld(t, f, in, ca)
			live.reset(ctx)
			live.install(ctx, w)
			for _, o := range objs {
				live.apply(ctx, o.Object)
			}
			// The proxy gets a configuration once its Gateway is accepted; the
			// endpoint IP of each local Service replaces its cluster IP.
			for key := range w.clusterIP {
				w.clusterIP[key] = live.endpointIP(ctx, f.Service(key))
			}
			tr := &translation{t: t, in: in, world: w, objs: objs, controller: true}
			tr.out = live.waitForVerdicts(ctx, objs, eg, in.Cluster)
			tr.assertStatuses()
			tr.assertRules()
			tr.assertFailoverListener()
			tr.assertTLS()
		})
	}

	t.Run("split", func(t *testing.T) {
		live.reset(ctx)
		live.apply(ctx, yamlObject(t, `
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: split, namespace: shop, labels: {app.kubernetes.io/managed-by: gatefed}}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: envoy-gateway-system}]
  to: [{group: "", kind: Service, name: checkout}]`))
		live.apply(ctx, yamlObject(t, `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: far, namespace: envoy-gateway-system, labels: {app.kubernetes.io/managed-by: gatefed}}
spec:
  endpoints: [{fqdn: {hostname: far.lb.example.net, port: 8080}}]
  fallback: true`))
		live.apply(ctx, yamlObject(t, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: split, namespace: envoy-gateway-system, labels: {app.kubernetes.io/managed-by: gatefed}}
spec:
  parentRefs: [{name: eg}]
  hostnames: [split.example.com]
  rules:
  - backendRefs:
    - {kind: Service, name: checkout, namespace: shop, port: 8080}
    - {group: gateway.envoyproxy.io, kind: Backend, name: far}`))
		deadline := time.Now().Add(2 * time.Minute)
		for {
			cfg, err := eg.EnvoyConfig(ctx, "envoy-gateway-system", "eg")
			if err != nil {
				t.Fatal(err)
			}
			var route map[string]any
			for _, rc := range cfg["routes"] {
				for _, vh := range list(rc, "virtualHosts") {
					for _, r := range list(vh, "routes") {
						if strings.HasPrefix(str(r, "name"), "httproute/envoy-gateway-system/split/rule/0/") {
							route, _ = get(r, "route").(map[string]any)
						}
					}
				}
			}
			wc := list(route, "weightedClusters", "clusters")
			if len(wc) == 2 && str(wc[0], "name") == "httproute/envoy-gateway-system/split/rule/0/backend/0" &&
				str(wc[1], "name") == "httproute/envoy-gateway-system/split/rule/0/backend/1" {
				t.Logf("a Service next to a DNS-name fallback Backend: weighted clusters %v", wc)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the mixed rule's route is %v, want two weighted clusters", route)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}

func yamlObject(t *testing.T, doc string) map[string]any {
	t.Helper()
	var o map[string]any
	if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// liveCluster applies objects to a test cluster and reads them back.
type liveCluster struct {
	t      *testing.T
	tc     *testfleet.Cluster
	sim    *testfleet.Sim
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newLiveCluster(t *testing.T, tc *testfleet.Cluster) *liveCluster {
	return &liveCluster{t: t, tc: tc, sim: tc.Sim(),
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(tc.Config)))}
}

func (l *liveCluster) gvr(apiVersion, kind string) schema.GroupVersionResource {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		l.t.Fatal(err)
	}
	m, err := l.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: kind}, gv.Version)
	if err != nil {
		l.t.Fatal(err)
	}
	return m.Resource
}

// apply server-side applies one object with strict validation.
func (l *liveCluster) apply(ctx context.Context, o map[string]any) {
	l.t.Helper()
	u := &unstructured.Unstructured{Object: o}
	if ns := u.GetNamespace(); ns != "" {
		if err := l.sim.EnsureNamespace(ctx, ns); err != nil {
			l.t.Fatal(err)
		}
	}
	data, err := u.MarshalJSON()
	if err != nil {
		l.t.Fatal(err)
	}
	force := true
	_, err = l.sim.Dynamic.Resource(l.gvr(u.GetAPIVersion(), u.GetKind())).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: "gatefed", FieldValidation: "Strict", Force: &force})
	if err != nil {
		l.t.Fatalf("apply %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
}

// reset deletes what an earlier case applied: gatefed's objects and the Gateways.
func (l *liveCluster) reset(ctx context.Context) {
	l.t.Helper()
	for _, k := range []struct{ apiVersion, kind string }{
		{"gateway.networking.k8s.io/v1", "HTTPRoute"}, {"gateway.networking.k8s.io/v1", "TLSRoute"},
		{"gateway.envoyproxy.io/v1alpha1", "Backend"}, {"gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy"},
		{"gateway.envoyproxy.io/v1alpha1", "ClientTrafficPolicy"}, {"gateway.networking.k8s.io/v1", "ReferenceGrant"},
		{"gateway.networking.k8s.io/v1", "ListenerSet"}, {"gateway.envoyproxy.io/v1alpha1", "EnvoyPatchPolicy"},
	} {
		r := l.sim.Dynamic.Resource(l.gvr(k.apiVersion, k.kind))
		items, err := r.List(ctx, metav1.ListOptions{LabelSelector: render.LabelManagedBy + "=" + render.ManagedByValue})
		if err != nil {
			l.t.Fatal(err)
		}
		for _, o := range items.Items {
			if err := r.Namespace(o.GetNamespace()).Delete(ctx, o.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				l.t.Fatal(err)
			}
		}
	}
}

// install writes what the cluster holds besides gatefed's objects: the
// GatewayClass and Gateway, each GlobalService's Service with one ready
// endpoint, and the failover Secrets.
func (l *liveCluster) install(ctx context.Context, w *egWorld) {
	l.t.Helper()
	for _, o := range w.objects {
		switch v := o.(type) {
		case *corev1.Service:
			if err := l.sim.Service(ctx, localfleet.Service{Namespace: v.Namespace, Name: v.Name, Port: v.Spec.Ports[0].Port, Ready: 1}); err != nil {
				l.t.Fatal(err)
			}
		case *corev1.Namespace:
			if err := l.sim.EnsureNamespace(ctx, v.Name); err != nil {
				l.t.Fatal(err)
			}
		case *corev1.Secret:
			if err := l.sim.EnsureNamespace(ctx, v.Namespace); err != nil {
				l.t.Fatal(err)
			}
			_ = l.sim.Kube.CoreV1().Secrets(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{})
			if _, err := l.sim.Kube.CoreV1().Secrets(v.Namespace).Create(ctx, v, metav1.CreateOptions{}); err != nil {
				l.t.Fatal(err)
			}
		default:
			data, err := yaml.Marshal(o)
			if err != nil {
				l.t.Fatal(err)
			}
			l.apply(ctx, yamlObject(l.t, string(data)))
		}
	}
}

// endpointIP is the address of the one ready endpoint of a GlobalService's Service.
func (l *liveCluster) endpointIP(ctx context.Context, s *fleet.GlobalService) string {
	l.t.Helper()
	slices, err := l.sim.Kube.DiscoveryV1().EndpointSlices(s.Metadata.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + s.ServiceName()})
	if err != nil || len(slices.Items) != 1 || len(slices.Items[0].Endpoints) != 1 {
		l.t.Fatalf("endpoints of %s: %v %v", s.Key(), slices, err)
	}
	return slices.Items[0].Endpoints[0].Addresses[0]
}

// waitForVerdicts waits until the controller has written a status on every
// object and serves the proxies of the cluster's Gateways, then returns the
// objects with their statuses and the configuration in egctl's shape.
func (l *liveCluster) waitForVerdicts(ctx context.Context, objs []*unstructured.Unstructured, eg *testfleet.EnvoyGateway, c *fleet.Cluster) map[string]any {
	l.t.Helper()
	keys := map[string]string{
		"HTTPRoute": "httpRoutes", "TLSRoute": "tlsRoutes", "Backend": "backends",
		"BackendTrafficPolicy": "backendTrafficPolicies", "ClientTrafficPolicy": "clientTrafficPolicies", "Gateway": "gateways",
		"EnvoyPatchPolicy": "envoyPatchPolicies",
	}
	gateways := []string{c.Spec.Gateway.Name}
	for _, o := range objs {
		if o.GetKind() == "Gateway" {
			gateways = append(gateways, o.GetName())
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	var patchAlone time.Time // since when only a patch policy lacks its verdict
	for {
		out := map[string]any{}
		missing := ""
		var lostPatch *unstructured.Unstructured
		for _, o := range objs {
			key := keys[o.GetKind()]
			if key == "" {
				continue
			}
			live, err := l.sim.Dynamic.Resource(l.gvr(o.GetAPIVersion(), o.GetKind())).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				l.t.Fatal(err)
			}
			if o.GetKind() != "EnvoyPatchPolicy" && (live.Object["status"] == nil || len(live.Object["status"].(map[string]any)) == 0) {
				missing = o.GetKind() + " " + o.GetName()
			}
			// A patch policy is Programmed once the xDS it patches is built.
			if o.GetKind() == "EnvoyPatchPolicy" && !hasCondition(live.Object, "Programmed") {
				lostPatch = o
			}
			lst, _ := out[key].([]any)
			out[key] = append(lst, live.Object)
		}
		xds := map[string]any{}
		for _, g := range gateways {
			cfg, err := eg.EnvoyConfig(ctx, c.Spec.Gateway.Namespace, g)
			if err != nil {
				l.t.Fatal(err)
			}
			if len(cfg["clusters"]) == 0 && missing == "" {
				missing = "configuration of Gateway " + g
			}
			xds[c.Spec.Gateway.Namespace+"/"+g] = map[string]any{"configs": configDump(cfg)}
		}
		out["xds"] = xds
		if missing == "" && lostPatch != nil {
			missing = "EnvoyPatchPolicy " + lostPatch.GetName() + " (Programmed)"
			patchAlone = l.recreateLostPatchPolicy(ctx, lostPatch, patchAlone)
		}
		if missing == "" {
			return out
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("the controller wrote nothing for %s\nlog: %s", missing, eg.LogPath)
		}
		time.Sleep(time.Second)
	}
}

// recreateLostPatchPolicy deletes and applies again a patch policy that has
// waited alone for its verdict for 30s: Envoy Gateway v1.9 drops a patch
// policy's status when another Gateway's translation follows its own at
// once (docs/providers/envoy-gateway.md); a change to the policy alone has
// it written. It returns since when the policy has waited alone.
func (l *liveCluster) recreateLostPatchPolicy(ctx context.Context, o *unstructured.Unstructured, since time.Time) time.Time {
	l.t.Helper()
	if since.IsZero() {
		return time.Now()
	}
	if time.Since(since) < 30*time.Second {
		return since
	}
	l.t.Logf("the controller dropped the status of EnvoyPatchPolicy %s/%s: deleting and applying it again", o.GetNamespace(), o.GetName())
	err := l.sim.Dynamic.Resource(l.gvr(o.GetAPIVersion(), o.GetKind())).Namespace(o.GetNamespace()).Delete(ctx, o.GetName(), metav1.DeleteOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	l.apply(ctx, o.DeepCopy().Object)
	return time.Now()
}

// hasCondition reports whether some ancestor of a policy's status has the condition.
func hasCondition(o map[string]any, typ string) bool {
	for _, a := range list(o, "status", "ancestors") {
		for _, c := range list(a, "conditions") {
			if str(c, "type") == typ {
				return true
			}
		}
	}
	return false
}

// configDump puts xdsdump's resources in the shape of an Envoy config dump
// (as egctl prints it), so the translator test's assertions read both.
func configDump(cfg map[string][]map[string]any) []any {
	wrap := func(items []map[string]any, key string) []any {
		out := []any{}
		for _, it := range items {
			out = append(out, map[string]any{key: it})
		}
		return out
	}
	var listeners []any
	for _, l := range cfg["listeners"] {
		listeners = append(listeners, map[string]any{"activeState": map[string]any{"listener": l}})
	}
	return []any{
		map[string]any{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamicActiveClusters": wrap(cfg["clusters"], "cluster")},
		map[string]any{"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump", "dynamicEndpointConfigs": wrap(cfg["endpoints"], "endpointConfig")},
		map[string]any{"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamicRouteConfigs": wrap(cfg["routes"], "routeConfig")},
		map[string]any{"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamicListeners": listeners},
	}
}
