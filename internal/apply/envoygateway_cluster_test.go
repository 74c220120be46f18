package apply

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/status"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// apply --wait against the real Envoy Gateway controller: what gatefed
// renders for a service that fails over to two other clusters in strict
// tiers (Backends with TLS, a BackendTrafficPolicy, a TLSRoute, a
// ClientTrafficPolicy, the failover Gateway and the tiers' EnvoyPatchPolicy)
// is accepted by the controller, the patch policy only once Accepted and
// Programmed on its Gateway, and a missing failover Secret is reported with
// the controller's own reason. No status here is written by test code.
func TestWaitEnvoyGatewayController(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // includes waiting for the one controller per machine
	defer cancel()
	c := tf.Clusters[0]
	peer, third := tf.Clusters[1], tf.Clusters[2]
	ns := testfleet.EnvoyGatewayNamespace

	begin := time.Now()
	eg, err := c.StartEnvoyGateway(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("controller ready in %s", time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := eg.Stop(); err != nil {
			t.Error(err)
		}
	})
	logTail := func() string {
		b, _ := os.ReadFile(eg.LogPath)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		return strings.Join(lines, "\n")
	}

	// The gateway gatefed routes through is the cluster's own; the shared
	// fleet's cluster is left without it for the next test.
	sim := c.Sim()
	if err := sim.EnvoyGatewayParents(ctx, "eg", ns, "eg"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sim.DeleteEnvoyGatewayParents(context.Background(), "eg", ns, "eg"); err != nil {
			t.Error(err)
		}
	})

	// A fleet of three Envoy Gateway clusters; checkout runs in all, so each
	// fails over to the others and serves failover traffic for them; c
	// orders its three tiers strictly, by an EnvoyPatchPolicy.
	render.Register(gloo.New())
	render.Register(envoygateway.New())
	f := fleettest.Load(t, fleettest.YAML(
		fleettest.Cluster(c.Name, "envoy-gateway").Kubeconfig(tf.Kubeconfig).Context(c.Context).Region("r1").Failover("192.0.2.1", 0).Gateway("strictTiers", "true"),
		fleettest.Cluster(peer.Name, "envoy-gateway").Kubeconfig(tf.Kubeconfig).Context(peer.Context).Region("r2").Failover("192.0.2.2", 0),
		fleettest.Cluster(third.Name, "envoy-gateway").Kubeconfig(tf.Kubeconfig).Context(third.Context).Region("r3").Failover("192.0.2.3", 0),
		fleettest.Service(e.svcNS, "checkout", 8080).Spec("healthCheck", "{path: /healthz}"),
		fleettest.Route(e.svcNS, "shop", "shop.example.com").To("checkout"),
	))
	rendered, err := render.Render(f, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var target Target
	for _, co := range rendered.Clusters {
		if co.Cluster.Name() == c.Name {
			target = Target{Cluster: co.Cluster, Objects: co.Objects}
		}
	}
	kinds := map[string]int{}
	var gateways []string
	for _, o := range target.Objects {
		kinds[o.GetKind()]++
		if o.GetKind() == "Gateway" {
			gateways = append(gateways, o.GetNamespace()+"/"+o.GetName())
		}
	}
	for _, k := range []string{"Backend", "BackendTrafficPolicy", "HTTPRoute", "TLSRoute", "ClientTrafficPolicy", "Gateway", "ReferenceGrant", "EnvoyPatchPolicy"} {
		if kinds[k] == 0 {
			t.Fatalf("the render for %s has no %s: %v", c.Name, k, kinds)
		}
	}

	// What the cluster holds besides: the failover Secrets and the Service.
	ca, err := localfleet.NewCertAuthority("failover-" + e.svcNS)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := testfleet.FailoverSecrets(ca, c.Name, ns, render.FailoverDomain, "*."+e.svcNS+"."+render.FailoverDomain)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatalf("secret %s: %v", s.Name, err)
		}
	}
	if err := c.Sim().Service(ctx, localfleet.Service{Namespace: e.svcNS, Name: "checkout", Port: 8080, Ready: 2}); err != nil {
		t.Fatal(err)
	}

	eng := e.engine()
	p := eng.Plan(ctx, []Target{target})
	res := eng.Apply(ctx, p)
	expectOK(t, res)

	// Stand in for kubelet and the cloud: the controller's proxies become
	// available and get an address, so the controller programs the Gateways.
	proxies := append([]string{ns + "/eg"}, gateways...)
	if n, err := c.Sim().ProxyInfra(ctx, "127.0.0.1", proxies...); err != nil || n < len(proxies) {
		t.Fatalf("proxy infrastructure for %v: %d proxies, %v\nlog:\n%s", proxies, n, err, logTail())
	}

	// Wait takes Programmed=False at the current generation as a final
	// verdict, and the controller writes it (AddressNotAssigned) until it has
	// seen the address: let it see the address first. The controller creates
	// a proxy's Service after its Deployment, so the address is given again
	// until the Gateway is programmed.
	for _, g := range proxies {
		gns, name, _ := strings.Cut(g, "/")
		var last status.Result
		deadline := time.Now().Add(2 * time.Minute)
		for {
			last = status.Of(e.mustGet(c.Name, testfleet.GatewayGVR, gns, name))
			if last.State == status.Accepted || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
			if _, err := c.Sim().ProxyInfra(ctx, "127.0.0.1", proxies...); err != nil {
				t.Fatal(err)
			}
		}
		if last.State != status.Accepted {
			t.Fatalf("Gateway %s not programmed: %+v\nlog:\n%s", g, last, logTail())
		}
	}

	old := WaitInterval
	WaitInterval = 500 * time.Millisecond
	t.Cleanup(func() { WaitInterval = old })

	expected := 0
	for _, o := range target.Objects {
		if status.Expects(o.GroupVersionKind().GroupKind()) {
			expected++
		}
	}
	// Backends, BackendTrafficPolicy, ClientTrafficPolicy, failover Gateway,
	// HTTPRoute, TLSRoute, EnvoyPatchPolicy.
	if want := kinds["Backend"] + 6; expected != want {
		t.Fatalf("%d objects with a status rendered, want %d: %v", expected, want, kinds)
	}
	start := time.Now()
	wr := eng.Wait(ctx, p, res, 2*time.Minute)
	t.Logf("wait took %s", time.Since(start).Round(time.Millisecond))
	if lost := lostPatchStatus(wr); lost != nil {
		wr = e.reapplyLostPatchPolicy(ctx, t, eng, target, *lost)
	}
	if !wr.OK() || wr.Accepted != expected {
		t.Fatalf("wait: accepted %d of %d, not accepted %+v\nlog:\n%s", wr.Accepted, expected, wr.NotAccepted, logTail())
	}

	// The verdicts are the controller's: every status was written by its
	// field manager, and the routes name it as their controller.
	managers := map[string]bool{}
	routeControllers := map[string]bool{}
	for _, o := range target.Objects {
		gk := o.GroupVersionKind().GroupKind()
		if !status.Expects(gk) {
			continue
		}
		live := e.mustGet(c.Name, gvrOf(o), o.GetNamespace(), o.GetName())
		statusManagers := 0
		for _, mf := range live.GetManagedFields() {
			if mf.Subresource == "status" {
				statusManagers++
				managers[mf.Manager] = true
			}
		}
		if statusManagers == 0 {
			t.Errorf("%s %s: no status writer in managedFields", o.GetKind(), o.GetName())
		}
		if o.GetKind() == "EnvoyPatchPolicy" {
			assertAncestorsTrue(t, live, "Accepted", "Programmed")
		}
		if o.GetKind() == "HTTPRoute" || o.GetKind() == "TLSRoute" {
			parents, _, _ := unstructured.NestedSlice(live.Object, "status", "parents")
			for _, pa := range parents {
				cn, _ := pa.(map[string]any)["controllerName"].(string)
				routeControllers[o.GetKind()+" "+cn] = true
			}
		}
	}
	t.Logf("status field managers: %v; route controllers: %v", managers, routeControllers)
	if len(managers) != 1 || !managers["envoy-gateway"] {
		t.Errorf("statuses written by %v, want the controller alone", managers)
	}
	if !routeControllers["HTTPRoute "+envoygateway.ControllerName] {
		t.Errorf("HTTPRoute parents name controllers %v, want %s", routeControllers, envoygateway.ControllerName)
	}

	// Without the Secret the Backend presents and verifies with, the
	// controller keeps the Backend but no longer resolves the HTTPRoute's
	// reference to it, so the rule's cluster is gone and the patch policy,
	// still Accepted, is no longer Programmed; Wait says both with the
	// controller's reasons.
	if err := cs.CoreV1().Secrets(ns).Delete(ctx, render.FailoverUpstreamSecret, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		wr = eng.Wait(ctx, p, res, 5*time.Second)
		if len(wr.NotAccepted) == 2 && !wr.TimedOut {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the controller still accepts the route or the patch policy without %s: %+v\nlog:\n%s", render.FailoverUpstreamSecret, wr, logTail())
		}
		time.Sleep(time.Second)
	}
	if wr.Accepted != expected-2 {
		t.Fatalf("wait without %s: %+v", render.FailoverUpstreamSecret, wr)
	}
	route := "gatefed-" + e.svcNS + "-shop"
	patch, it := wr.NotAccepted[0], wr.NotAccepted[1] // sorted by kind
	want := "eg: ResolvedRefs=False (InvalidBackendTLS): Failed to process route rule 0 backendRef 1: secret failover-upstream not found in namespace envoy-gateway-system"
	if it.Cluster != c.Name || it.Kind != "HTTPRoute" || it.Name != route || it.Status.State != status.Rejected || !strings.HasPrefix(it.Status.Reason, want) {
		t.Errorf("not accepted: %+v, want HTTPRoute %s rejected with %q", it, route, want)
	}
	wantPatch := ns + "/eg: Programmed=False (ResourceNotFound): Unable to find xds resources: type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment/httproute/" + ns + "/" + route + "/rule/0"
	if patch.Kind != "EnvoyPatchPolicy" || patch.Status.State != status.Rejected || !strings.HasPrefix(patch.Status.Reason, wantPatch) {
		t.Errorf("not accepted: %+v, want the EnvoyPatchPolicy rejected with %q", patch, wantPatch)
	}
	live := e.mustGet(c.Name, gvrOf(&unstructured.Unstructured{Object: map[string]any{"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyPatchPolicy"}}), patch.Namespace, patch.Name)
	assertAncestorsTrue(t, live, "Accepted")
}

// assertAncestorsTrue checks that every ancestor in a policy's status has
// the conditions True, and that there is one.
func assertAncestorsTrue(t *testing.T, live *unstructured.Unstructured, conds ...string) {
	t.Helper()
	ancestors, _, _ := unstructured.NestedSlice(live.Object, "status", "ancestors")
	if len(ancestors) == 0 {
		t.Errorf("%s %s: no ancestor status", live.GetKind(), live.GetName())
	}
	for _, a := range ancestors {
		got := map[string]string{}
		cs, _ := a.(map[string]any)["conditions"].([]any)
		for _, c := range cs {
			m, _ := c.(map[string]any)
			got[fmt.Sprint(m["type"])] = fmt.Sprint(m["status"])
		}
		for _, c := range conds {
			if got[c] != "True" {
				t.Errorf("%s %s: ancestor conditions %v, want %s True", live.GetKind(), live.GetName(), got, c)
			}
		}
	}
}

// lostPatchStatus is the one object a wait left pending when it is a patch
// policy without a status: Envoy Gateway v1.9 drops a patch policy's status
// when another Gateway's translation follows its own at once.
func lostPatchStatus(wr *WaitReport) *WaitItem {
	if len(wr.NotAccepted) != 1 {
		return nil
	}
	it := wr.NotAccepted[0]
	if it.Kind != "EnvoyPatchPolicy" || it.Status.State != status.Pending {
		return nil
	}
	return &it
}

// reapplyLostPatchPolicy does what the wait report's hint says about a patch
// policy whose status the controller dropped: delete it and apply again.
func (e *env) reapplyLostPatchPolicy(ctx context.Context, t *testing.T, eng *Engine, target Target, lost WaitItem) *WaitReport {
	t.Helper()
	t.Logf("the controller dropped the status of %s %s/%s (%s): as the hint says, deleting it and applying again", lost.Kind, lost.Namespace, lost.Name, lost.Status.Reason)
	if !strings.Contains(lost.Hint, "kubectl delete envoypatchpolicy "+lost.Name) {
		t.Errorf("the pending patch policy's hint: %q", lost.Hint)
	}
	gvr := schema.GroupVersionResource{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Resource: "envoypatchpolicies"}
	if err := e.dyn(lost.Cluster).Resource(gvr).Namespace(lost.Namespace).Delete(ctx, lost.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p := eng.Plan(ctx, []Target{target})
	res := eng.Apply(ctx, p)
	expectOK(t, res)
	return eng.Wait(ctx, p, res, 2*time.Minute)
}

// gvrOf is the resource of a rendered object's kind (the kinds with a status
// here pluralise by rule: Policy -> policies, Route -> routes).
func gvrOf(o *unstructured.Unstructured) schema.GroupVersionResource {
	gvk := o.GroupVersionKind()
	plural := strings.ToLower(gvk.Kind)
	if strings.HasSuffix(plural, "policy") {
		plural = strings.TrimSuffix(plural, "y") + "ies"
	} else {
		plural += "s"
	}
	return gvk.GroupVersion().WithResource(plural)
}
