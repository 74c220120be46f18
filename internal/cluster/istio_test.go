package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/istio"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// ingressGatewayService creates a LoadBalancer Service that selects the
// pods labelled selector, with the given ports, and writes the ingress IP a
// cloud controller would ("" for none).
func ingressGatewayService(t *testing.T, cs kubernetes.Interface, ns, name string, selector map[string]string, ingressIP string, ports ...corev1.ServicePort) {
	t.Helper()
	ctx := context.Background()
	ensureNamespace(t, cs, ns)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: selector},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: selector, Ports: ports},
	}
	created, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ingressIP != "" {
		created.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ingressIP}}
		if _, err := cs.CoreV1().Services(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func port(name string, n int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: n, Protocol: corev1.ProtocolTCP}
}

// register --provider istio against an API server serving the real Istio
// CRDs: the failover address is the ingress gateway Service's port 15443
// named tls (as istioctl installs it), found in istio-system by the default
// selector istio=ingressgateway; a Service of other pods with a failover
// port is not taken. A hand-written selector is kept and used, and a
// Service without a load-balancer address is named in the note. A server
// without the CRDs gets a warning per CRD.
func TestRegisterIstio(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{
		{Name: "mesh", CRDs: localfleet.Families(istio.Name)},
		{Name: "bare", CRDs: localfleet.NoCRDs},
	}})
	t.Setenv("KUBECONFIG", tf.Kubeconfig)
	cs, err := tf.Cluster("mesh").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	// Another gateway's pods, with a failover port and an address: not ours.
	ingressGatewayService(t, cs, "istio-system", "eastwest", map[string]string{"istio": "eastwestgateway"}, "203.0.113.99", port("failover", 15443))
	ingressGatewayService(t, cs, "istio-system", "istio-ingressgateway", map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}, "203.0.113.40",
		port("status-port", 15021), port("http2", 80), port("https", 443), port("tls", 15443))
	// A gateway of its own, selected by app=edge, with a failover port but
	// no address yet; Istio's default gateway in the same namespace is not it.
	ingressGatewayService(t, cs, "edge", "edge-gateway", map[string]string{"app": "edge"}, "", port("http", 80), port("failover", 16443))
	ingressGatewayService(t, cs, "edge", "istio-ingressgateway", map[string]string{"istio": "ingressgateway"}, "203.0.113.41", port("tls", 15443))

	dir := t.TempDir()
	path := filepath.Join(dir, DefaultFileName)
	res, err := Register(context.Background(), RegisterOptions{
		Name: "mesh-east", Context: "mesh", Provider: "istio", FleetPaths: []string{dir}, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 0 {
		t.Fatalf("mesh serves the Istio CRDs, yet: %q", res.Warnings)
	}
	if res.Failover == nil || res.Failover.String() != "203.0.113.40:15443" || res.Failover.Service != "istio-system/istio-ingressgateway" {
		t.Fatalf("failover: got %+v, want 203.0.113.40:15443 from istio-system/istio-ingressgateway", res.Failover)
	}
	c := loadFleet(t, dir).Cluster("mesh-east")
	if c.Spec.Gateway.Provider != "istio" || c.Spec.Gateway.Namespace != "istio-system" || c.Spec.Failover.Address != "203.0.113.40" || c.Spec.Failover.Port != 15443 {
		t.Fatalf("mesh-east: %+v", c.Spec)
	}

	// A hand-written selector and namespace: register keeps both and finds
	// the gateway's Service by them.
	edge := `apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata:
  name: mesh-edge
spec:
  context: mesh
  gateway:
    provider: istio
    namespace: edge
    selector: {app: edge}   # our own gateway
  failover: {address: 198.51.100.9}
`
	if err := os.WriteFile(path, []byte(edge), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = Register(context.Background(), RegisterOptions{Name: "mesh-edge", Context: "mesh", FleetPaths: []string{dir}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(res.Notes, "\n")
	if res.Failover != nil || !strings.Contains(notes, "not a failover target: Service edge/edge-gateway of the ingress gateway has a failover port but no load-balancer address yet") {
		t.Fatalf("want no failover target because edge-gateway has no address; got %+v, notes %q", res.Failover, notes)
	}
	c = loadFleet(t, dir).Cluster("mesh-edge")
	if c.Spec.Gateway.Selector["app"] != "edge" || len(c.Spec.Gateway.Selector) != 1 || c.FailoverTarget() {
		t.Fatalf("mesh-edge: %+v", c.Spec)
	}
	if text := string(readFile(t, path)); !strings.Contains(text, "selector: {app: edge}") || !strings.Contains(text, "# our own gateway") {
		t.Fatalf("the selector and its comment are not kept:\n%s", text)
	}

	// No Istio CRDs, no ingress gateway.
	res, err = Register(context.Background(), RegisterOptions{
		Name: "bare", Context: "bare", Provider: "istio", FleetPaths: []string{t.TempDir()}, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range descriptor("istio").CRDs {
		found := false
		for _, w := range res.Warnings {
			found = found || strings.Contains(w, "no CRD "+r.CRDName()) && strings.Contains(w, "install Istio")
		}
		if !found {
			t.Errorf("no warning about %s in %q", r.CRDName(), res.Warnings)
		}
	}
	if res.Failover != nil || !strings.Contains(strings.Join(res.Notes, "\n"),
		"not a failover target: no Service in istio-system for the ingress gateway pods (istio=ingressgateway) has a port named failover or port 15443 named tls") {
		t.Fatalf("bare: got %+v, notes %q", res.Failover, res.Notes)
	}
}

// --service-account on an istio cluster: the identity can server-side apply
// the four Istio kinds gatefed renders in the gateway namespace and read the
// failover Secrets by name, and nothing else.
func TestServiceAccountIstio(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{{Name: "mesh", CRDs: localfleet.Families(istio.Name)}}})
	t.Setenv("KUBECONFIG", tf.Kubeconfig)
	ctx := context.Background()
	cs, err := tf.Cluster("mesh").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ensureNamespace(t, cs, "istio-system")
	ensureNamespace(t, cs, "shop")
	for _, name := range []string{FailoverUpstreamSecret, "other"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "istio-system"}, Data: map[string][]byte{"x": []byte("y")}}
		if _, err := cs.CoreV1().Secrets("istio-system").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dir, creds := t.TempDir(), t.TempDir()
	if _, err := Register(ctx, RegisterOptions{
		Name: "mesh-sa", Context: "mesh", Provider: "istio", FleetPaths: []string{dir},
		Timeout: 20 * time.Second, ServiceAccount: true, TokenTTL: time.Hour, CredentialsDir: creds,
	}); err != nil {
		t.Fatal(err)
	}
	_, sacs, dyn, _ := identity(t, loadFleet(t, dir).Cluster("mesh-sa"))
	istio := func(resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: resource}
	}
	host := map[string]any{"hosts": []any{"checkout.shop.tiers.gatefed.internal"}}
	objects := []struct {
		gvr  schema.GroupVersionResource
		kind string
		spec map[string]any
	}{
		{istio("gateways"), "Gateway", map[string]any{"selector": map[string]any{"istio": "ingressgateway"}, "servers": []any{
			map[string]any{"port": map[string]any{"number": int64(80), "name": "http", "protocol": "HTTP"}, "hosts": []any{"shop.example.com"}},
		}}},
		{istio("virtualservices"), "VirtualService", host},
		{istio("destinationrules"), "DestinationRule", map[string]any{"host": "checkout.shop.tiers.gatefed.internal"}},
		{istio("serviceentries"), "ServiceEntry", map[string]any{"hosts": []any{"checkout.shop.tiers.gatefed.internal"},
			"ports": []any{map[string]any{"number": int64(8080), "name": "http", "protocol": "HTTP"}}, "location": "MESH_EXTERNAL", "resolution": "STATIC",
			"endpoints": []any{map[string]any{"address": "203.0.113.10"}}}},
	}
	for _, o := range objects {
		u := obj("networking.istio.io/v1", o.kind, "istio-system", "gatefed-shop-checkout", o.spec)
		wantAllowed(t, "apply "+o.kind+" in the gateway namespace", serverSideApply(dyn, o.gvr, u))
		u.SetNamespace("shop")
		wantForbidden(t, "apply "+o.kind+" in a service namespace", serverSideApply(dyn, o.gvr, u))
	}
	wantForbidden(t, "apply an Upstream (not this provider's)", serverSideApply(dyn, testfleet.UpstreamGVR, obj("gloo.solo.io/v1", "Upstream", "istio-system", "x", nil)))
	_, err = sacs.CoreV1().Secrets("istio-system").Get(ctx, FailoverUpstreamSecret, metav1.GetOptions{})
	wantAllowed(t, "get Secret failover-upstream", err)
	_, err = sacs.CoreV1().Secrets("istio-system").Get(ctx, "other", metav1.GetOptions{})
	wantForbidden(t, "get another Secret", err)
	_, err = sacs.CoreV1().Secrets("istio-system").List(ctx, metav1.ListOptions{})
	wantForbidden(t, "list Secrets", err)
}
