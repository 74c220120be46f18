package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/kube"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/providers"
	"github.com/gatefed/gatefed/internal/testfleet"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The shared fleet: c1 and c2 have every CRD, c3 has none. Tests use
// distinct registration names and namespaces so that they do not collide.
var testFleet *testfleet.Fleet

func TestMain(m *testing.M) {
	providers.Register()
	flag.Parse()
	os.Exit(testfleet.Main(m, localfleet.Options{Clusters: []localfleet.ClusterOptions{
		{Name: "c1"}, {Name: "c2"}, {Name: "c3", CRDs: localfleet.NoCRDs},
	}}, &testFleet))
}

func admin(t *testing.T, name string) (*testfleet.Cluster, kubernetes.Interface) {
	t.Helper()
	c := testFleet.Cluster(name)
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return c, cs
}

func ensureNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// gatewayService creates a LoadBalancer Service with the given named ports
// and writes the load-balancer ingress a cloud controller would.
func gatewayService(t *testing.T, cs kubernetes.Interface, ns, name string, labels map[string]string, ingressIP string, ports map[string]int32) {
	t.Helper()
	ctx := context.Background()
	ensureNamespace(t, cs, ns)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": name}},
	}
	for _, n := range sortedKeys(ports) {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: n, Port: ports[n], Protocol: corev1.ProtocolTCP})
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

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readFile(t, path)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func loadFleet(t *testing.T, paths ...string) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Load(paths, nil)
	if err != nil {
		t.Fatalf("the written fleet does not load: %v", err)
	}
	return f
}

const handWritten = `# Fleet clusters, kept in git.

# us-east is the primary region.
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata:
  name: us-east   # the primary
  labels:
    env: prod     # production traffic
spec:
  context: c1
  # moved from us-east-2 in May
  region: us-east-1
  gateway:
    provider: gloo
    namespace: gloo-system
  failover: {address: 198.51.100.7}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: checkout, namespace: shop}
spec:
    port: 8080    # indented differently, and kept that way
    healthCheck: {path: /healthz, interval: 5s, timeout: 1s}
`

// Register by context into a fleet file written by hand: the new cluster is
// appended, and registering an existing one again edits it in place; every
// comment, other document and key order stays.
func TestRegisterByContextKeepsTheFile(t *testing.T) {
	t.Setenv("KUBECONFIG", testFleet.Kubeconfig)
	_, cs1 := admin(t, "c1")
	_, cs2 := admin(t, "c2")
	gatewayService(t, cs1, "gloo-system", "gateway-proxy", nil, "203.0.113.10", map[string]int32{"http": 80, "failover": 15443})
	// Envoy Gateway's Service for Gateway eg/eg-gw: not in the gateway
	// namespace, ports named <protocol>-<port>.
	gatewayService(t, cs2, "eg-gw", "placeholder", nil, "", map[string]int32{"http": 80})
	gatewayService(t, cs2, "envoy-gateway-system", "envoy-eg-gw-eg-1a2b3c",
		map[string]string{"gateway.envoyproxy.io/owning-gateway-name": "eg", "gateway.envoyproxy.io/owning-gateway-namespace": "eg-gw"}, "203.0.113.21", map[string]int32{"tls-15443": 15443})
	// The failover Gateway's Service wins over the main Gateway's.
	gatewayService(t, cs2, "envoy-gateway-system", "envoy-eg-gw-gatefed-failover-4d5e6f",
		map[string]string{"gateway.envoyproxy.io/owning-gateway-name": "gatefed-failover", "gateway.envoyproxy.io/owning-gateway-namespace": "eg-gw"}, "203.0.113.20", map[string]int32{"tls-15443": 15443})

	dir := t.TempDir()
	path := filepath.Join(dir, DefaultFileName)
	if err := os.WriteFile(path, []byte(handWritten), 0o644); err != nil {
		t.Fatal(err)
	}
	region, zone, gwns := "eu-west-1", "eu-west-1b", "eg-gw"
	res, err := Register(context.Background(), RegisterOptions{
		Name: "eu-west", Context: "c2", Provider: "envoy-gateway",
		Region: &region, Zone: &zone, GatewayNamespace: &gwns, Labels: []string{"env=prod"},
		FleetPaths: []string{dir}, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.File != path || res.Version != localfleet.KubeVersion || res.Server != testFleet.Cluster("c2").URL {
		t.Fatalf("unexpected result %+v", res)
	}
	if res.Failover == nil || res.Failover.String() != "203.0.113.20:15443" || res.Failover.Service != "envoy-gateway-system/envoy-eg-gw-gatefed-failover-4d5e6f" {
		t.Fatalf("failover: got %+v, want 203.0.113.20:15443 from Envoy Gateway's Service", res.Failover)
	}
	if len(res.Warnings) != 0 {
		t.Fatalf("c2 has every CRD, yet: %v", res.Warnings)
	}
	golden(t, "register-new.golden", readFile(t, path))

	// Register us-east again: a zone, a label, the discovered failover
	// address, and Gloo's facts: the IP families of the gateway-proxy Service
	// and the version of the gloo Deployment's image.
	if _, err := cs1.AppsV1().Deployments("gloo-system").Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "gloo", Namespace: "gloo-system"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"gloo": "gloo"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"gloo": "gloo"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "gloo", Image: "quay.io/solo-io/gloo-ee:1.19.6"}}},
			},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	zone = "us-east-1a"
	res, err = Register(context.Background(), RegisterOptions{
		Name: "us-east", Context: "c1", Zone: &zone, Labels: []string{"tier=gold"},
		FleetPaths: []string{dir}, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created || res.Failover == nil || res.Failover.String() != "203.0.113.10:15443" {
		t.Fatalf("re-register: got %+v", res)
	}
	notes := strings.Join(res.Notes, "\n")
	for _, want := range []string{"IP families IPv4 from Service gloo-system/gateway-proxy", "Gloo version 1.19.6 from Deployment gloo-system/gloo (image quay.io/solo-io/gloo-ee:1.19.6)"} {
		if !strings.Contains(notes, want) {
			t.Errorf("re-register notes %q lack %q", res.Notes, want)
		}
	}
	golden(t, "reregister.golden", readFile(t, path))

	f := loadFleet(t, dir)
	us := f.Cluster("us-east")
	if us.Spec.Region != "us-east-1" || us.Spec.Zone != "us-east-1a" || us.Metadata.Labels["tier"] != "gold" || us.Metadata.Labels["env"] != "prod" ||
		us.Spec.Failover.Address != "203.0.113.10" || us.Spec.Failover.Port != 15443 || us.Spec.Gateway.Provider != "gloo" ||
		fmt.Sprint(us.Spec.Gateway.IPFamilies) != "[IPv4]" || us.Spec.Gateway.Version != "1.19.6" {
		t.Fatalf("us-east after re-register: %+v", us)
	}

	// The same registration again changes nothing at all.
	before := readFile(t, path)
	if _, err := Register(context.Background(), RegisterOptions{Name: "us-east", Context: "c1", FleetPaths: []string{dir}, Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if after := readFile(t, path); !bytes.Equal(before, after) {
		t.Fatalf("an identical registration changed the file:\n%s", after)
	}
}

// A cluster without the provider's CRDs registers with a warning naming
// each; one whose gateway has no failover port is no failover target.
func TestRegisterWarnsAboutMissingCRDsAndNoFailover(t *testing.T) {
	t.Setenv("KUBECONFIG", testFleet.Kubeconfig)
	dir := t.TempDir()
	res, err := Register(context.Background(), RegisterOptions{
		Name: "bare", Context: "c3", Provider: "envoy-gateway",
		FleetPaths: []string{dir}, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range descriptor("envoy-gateway").CRDs {
		found := false
		for _, w := range res.Warnings {
			found = found || strings.Contains(w, "no CRD "+crd.CRDName()) && strings.Contains(w, "install")
		}
		if !found {
			t.Errorf("no warning about %s in %q", crd.CRDName(), res.Warnings)
		}
	}
	if res.Failover != nil || !strings.Contains(strings.Join(res.Notes, "\n"), "not a failover target: no Service in envoy-gateway-system has a port named failover") {
		t.Fatalf("want no failover target and a note why; got %+v, notes %q", res.Failover, res.Notes)
	}
	c := loadFleet(t, dir).Cluster("bare")
	if c == nil || c.FailoverTarget() {
		t.Fatalf("want cluster bare, not a failover target: %+v", c)
	}
}

// A second name for an API server already in the fleet is refused, and
// the file is left as it was; --force allows it.
func TestRegisterRefusesADuplicateServer(t *testing.T) {
	t.Setenv("KUBECONFIG", testFleet.Kubeconfig)
	dir := t.TempDir()
	opts := RegisterOptions{Name: "first", Context: "c1", Provider: "gloo", FleetPaths: []string{dir}, Timeout: 10 * time.Second}
	if _, err := Register(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, DefaultFileName)
	before := readFile(t, path)
	opts.Name = "second"
	_, err := Register(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), `is already registered as cluster "first"`) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("got %v, want a duplicate-server error", err)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Fatal("a refused registration changed the file")
	}
	opts.Force = true
	res, err := Register(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `also registered as cluster "first"`) {
		t.Fatalf("want a warning about the duplicate, got %q", res.Warnings)
	}
	if got := len(loadFleet(t, dir).Clusters); got != 2 {
		t.Fatalf("got %d clusters, want 2", got)
	}
}

// --dry-run prints the document and writes nothing, not even the file.
func TestRegisterDryRunWritesNothing(t *testing.T) {
	t.Setenv("KUBECONFIG", testFleet.Kubeconfig)
	dir := t.TempDir()
	res, err := Register(context.Background(), RegisterOptions{
		Name: "dry", Context: "c2", Provider: "gloo", FleetPaths: []string{dir}, DryRun: true,
		Timeout: 10 * time.Second, ServiceAccount: true, TokenTTL: time.Hour, CredentialsDir: filepath.Join(dir, "creds"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.Document), "name: dry") || len(res.Objects) == 0 {
		t.Fatalf("dry run: got %+v", res)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("dry run wrote %v", entries)
	}
	_, cs := admin(t, "c2")
	if _, err := cs.CoreV1().ServiceAccounts(SystemNamespace).Get(context.Background(), ServiceAccountName("dry"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry run created a ServiceAccount: %v", err)
	}
}

// --- service accounts ---

var gvrConfigMap = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func obj(apiVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name, "namespace": ns}}}
	if spec != nil {
		o.Object["spec"] = spec
	}
	return o
}

// serverSideApply sends a real apply request as gatefed apply does.
func serverSideApply(dyn dynamic.Interface, gvr schema.GroupVersionResource, o *unstructured.Unstructured) error {
	data, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	force := true
	_, err = dyn.Resource(gvr).Namespace(o.GetNamespace()).Patch(context.Background(), o.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: "gatefed", Force: &force, FieldValidation: "Strict"})
	return err
}

// identity loads the Cluster document's kubeconfig as gatefed would and
// returns its clients and the user the API server sees.
func identity(t *testing.T, c *fleet.Cluster) (*rest.Config, kubernetes.Interface, dynamic.Interface, string) {
	t.Helper()
	cfg, err := kube.RESTConfig(c, "")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, cs, dyn, review.Status.UserInfo.Username
}

func wantAllowed(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("%s: want allowed, got %v", what, err)
	}
}

func wantForbidden(t *testing.T, what string, err error) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: want Forbidden, got %v", what, err)
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// --service-account on an envoy-gateway cluster: a 0600 kubeconfig whose
// identity can server-side apply the provider's objects in the gateway
// namespace (and ReferenceGrants in service namespaces), and is forbidden
// everything else; re-registering rotates the token and drops Roles of
// namespaces the fleet no longer has; purge deletes exactly what register
// created.
func TestServiceAccountEnvoyGateway(t *testing.T) {
	t.Setenv("KUBECONFIG", testFleet.Kubeconfig)
	ctx := context.Background()
	_, cs := admin(t, "c2")
	for _, ns := range []string{"eg-sa", "shop", "pay", "elsewhere"} {
		ensureNamespace(t, cs, ns)
	}
	dir, creds := t.TempDir(), t.TempDir()
	services := fleettest.YAML(
		fleettest.Service("shop", "checkout", 8080),
		fleettest.Service("pay", "billing", 8080),
		fleettest.Service("not-there", "ghost", 8080),
	)
	routes := fleettest.Route("shop", "web", "shop.example.com").TLS("shop-tls", false).To("checkout").YAML()
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(routes), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(services), 0o644); err != nil {
		t.Fatal(err)
	}
	gwns := "eg-sa"
	opts := RegisterOptions{
		Name: "eu-sa", Context: "c2", Provider: "envoy-gateway", GatewayNamespace: &gwns,
		FailoverAddress: "eu.example.net", FleetPaths: []string{dir}, Timeout: 20 * time.Second,
		ServiceAccount: true, TokenTTL: 2 * time.Hour, CredentialsDir: creds,
	}
	res, err := Register(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Credentials != CredentialsPath(creds, "eu-sa") || fileMode(t, res.Credentials) != 0o600 {
		t.Fatalf("credentials %s: want %s with mode 0600", res.Credentials, CredentialsPath(creds, "eu-sa"))
	}
	if time.Until(res.TokenExpires) < 110*time.Minute {
		t.Fatalf("token expires %s, want about 2h from now", res.TokenExpires)
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "namespace not-there (of a GlobalService) does not exist yet") {
		t.Fatalf("want a warning about namespace not-there, got %q", res.Warnings)
	}
	c := loadFleet(t, dir).Cluster("eu-sa")
	if c.Spec.Kubeconfig != res.Credentials || c.Spec.Context != "eu-sa" ||
		c.Metadata.Annotations[AnnotationAdminContext] != "c2" {
		t.Fatalf("document: %+v", c)
	}
	cfg, sacs, dyn, user := identity(t, c)
	if user != "system:serviceaccount:gatefed-system:gatefed-eu-sa" {
		t.Fatalf("identity %q", user)
	}
	if cfg.Host != testFleet.Cluster("c2").URL {
		t.Fatalf("server %s, want c2's", cfg.Host)
	}

	route := obj("gateway.networking.k8s.io/v1", "HTTPRoute", "eg-sa", "checkout", map[string]any{
		"parentRefs": []any{map[string]any{"name": "eg"}},
		"rules":      []any{map[string]any{"backendRefs": []any{map[string]any{"name": "checkout", "namespace": "shop", "port": int64(8080)}}}},
	})
	wantAllowed(t, "apply HTTPRoute in the gateway namespace", serverSideApply(dyn, testfleet.HTTPRouteGVR, route))
	wantAllowed(t, "apply Backend in the gateway namespace", serverSideApply(dyn, testfleet.BackendGVR, obj("gateway.envoyproxy.io/v1alpha1", "Backend", "eg-sa", "checkout-us", map[string]any{
		"endpoints": []any{map[string]any{"fqdn": map[string]any{"hostname": "us.example.net", "port": int64(15443)}}},
	})))
	grant := func(ns string) *unstructured.Unstructured {
		return obj("gateway.networking.k8s.io/v1", "ReferenceGrant", ns, "gatefed-eg-sa", map[string]any{
			"from": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "eg-sa"}},
			"to":   []any{map[string]any{"group": "", "kind": "Service"}},
		})
	}
	wantAllowed(t, "apply ReferenceGrant in service namespace shop", serverSideApply(dyn, testfleet.ReferenceGrantGVR, grant("shop")))
	wantAllowed(t, "apply ReferenceGrant in service namespace pay", serverSideApply(dyn, testfleet.ReferenceGrantGVR, grant("pay")))
	parent := obj("v1", "ConfigMap", "eg-sa", ApplySetParentName, nil)
	parent.SetLabels(map[string]string{"applyset.kubernetes.io/id": "applyset-test-v1"})
	wantAllowed(t, "apply the ApplySet parent (create)", serverSideApply(dyn, gvrConfigMap, parent))
	parent.SetAnnotations(map[string]string{"applyset.kubernetes.io/contains-group-kinds": "HTTPRoute.gateway.networking.k8s.io"})
	wantAllowed(t, "apply the ApplySet parent (update)", serverSideApply(dyn, gvrConfigMap, parent))
	_, err = sacs.CoreV1().Secrets("eg-sa").Get(ctx, FailoverUpstreamSecret, metav1.GetOptions{})
	wantAllowed(t, "get Secret failover-upstream", err)
	_, err = sacs.CoreV1().Secrets("eg-sa").Get(ctx, "shop-tls", metav1.GetOptions{})
	wantAllowed(t, "get the TLS Secret of a GlobalRoute", err)
	for _, list := range []struct {
		what string
		do   func() error
	}{
		{"list Services everywhere", func() error { _, err := sacs.CoreV1().Services("").List(ctx, metav1.ListOptions{}); return err }},
		{"list Pods everywhere", func() error { _, err := sacs.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); return err }},
		{"list EndpointSlices everywhere", func() error {
			_, err := sacs.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list Deployments everywhere", func() error { _, err := sacs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{}); return err }},
		{"list GatewayClasses (check gateway-install reads its class)", func() error {
			_, err := dyn.Resource(testfleet.GatewayClassGVR).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"get a CRD", func() error {
			_, err := missingCRDs(ctx, cfg, "envoy-gateway")
			return err
		}},
	} {
		wantAllowed(t, list.what, list.do())
	}

	// Forbidden: Secrets, other names, other namespaces, other kinds.
	_, err = sacs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	wantForbidden(t, "list Secrets cluster-wide", err)
	_, err = sacs.CoreV1().Secrets("eg-sa").List(ctx, metav1.ListOptions{})
	wantForbidden(t, "list Secrets in the gateway namespace", err)
	_, err = sacs.CoreV1().Secrets("eg-sa").Get(ctx, "tls-cert", metav1.GetOptions{})
	wantForbidden(t, "get another Secret", err)
	route.SetNamespace("elsewhere")
	wantForbidden(t, "apply HTTPRoute in another namespace", serverSideApply(dyn, testfleet.HTTPRouteGVR, route))
	wantForbidden(t, "apply ReferenceGrant in a namespace without services", serverSideApply(dyn, testfleet.ReferenceGrantGVR, grant("elsewhere")))
	wantForbidden(t, "apply another ConfigMap", serverSideApply(dyn, gvrConfigMap, obj("v1", "ConfigMap", "eg-sa", "other", nil)))
	_, err = sacs.CoreV1().ConfigMaps("eg-sa").List(ctx, metav1.ListOptions{})
	wantForbidden(t, "list ConfigMaps", err)
	err = sacs.CoreV1().Namespaces().Delete(ctx, "shop", metav1.DeleteOptions{})
	wantForbidden(t, "delete a namespace", err)
	_, err = sacs.CoreV1().ServiceAccounts(SystemNamespace).CreateToken(ctx, ServiceAccountName("eu-sa"), &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	wantForbidden(t, "mint itself a token", err)
	_, err = sacs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	wantForbidden(t, "read RBAC", err)

	// Rotate: register again without pay's service; a new token, pay's Role gone.
	oldToken := kubeconfigToken(t, res.Credentials)
	if err := os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(strings.SplitN(services, "---\n", 2)[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = Register(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if kubeconfigToken(t, res.Credentials) == oldToken {
		t.Fatal("re-registering did not mint a new token")
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "removed Role pay/gatefed:eu-sa") {
		t.Fatalf("want pay's Role removed, got %q", res.Warnings)
	}
	_, _, dyn, _ = identity(t, loadFleet(t, dir).Cluster("eu-sa"))
	wantForbidden(t, "apply ReferenceGrant in pay after it left the fleet", serverSideApply(dyn, testfleet.ReferenceGrantGVR, grant("pay")))
	wantAllowed(t, "apply ReferenceGrant in shop with the new token", serverSideApply(dyn, testfleet.ReferenceGrantGVR, grant("shop")))

	// A second registration of the same server (--force) shares gatefed-system.
	opts2 := opts
	opts2.Name, opts2.Force = "eu-sa-two", true
	if _, err := Register(ctx, opts2); err != nil {
		t.Fatal(err)
	}

	// Foreign objects with similar names, without the registration label.
	foreign := []struct {
		kind string
		get  func() error
	}{
		{"ClusterRole gatefed:eu-sa-x", create(t, func() error {
			_, err := cs.RbacV1().ClusterRoles().Create(ctx, clusterRole("gatefed:eu-sa-x", nil), metav1.CreateOptions{})
			return err
		}, func() error {
			_, err := cs.RbacV1().ClusterRoles().Get(ctx, "gatefed:eu-sa-x", metav1.GetOptions{})
			return err
		})},
		{"ClusterRole gatefed:eu-sa.old (labelled by someone else's tool)", create(t, func() error {
			_, err := cs.RbacV1().ClusterRoles().Create(ctx, clusterRole("gatefed:eu-sa.old", map[string]string{LabelRegistration: "eu-sa"}), metav1.CreateOptions{})
			return err
		}, func() error {
			_, err := cs.RbacV1().ClusterRoles().Get(ctx, "gatefed:eu-sa.old", metav1.GetOptions{})
			return err
		})},
		{"ServiceAccount elsewhere/gatefed-eu-sa", create(t, func() error {
			_, err := cs.CoreV1().ServiceAccounts("elsewhere").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "gatefed-eu-sa"}}, metav1.CreateOptions{})
			return err
		}, func() error {
			_, err := cs.CoreV1().ServiceAccounts("elsewhere").Get(ctx, "gatefed-eu-sa", metav1.GetOptions{})
			return err
		})},
	}

	before := registrationObjects(t, cs, "eu-sa")
	if len(before) != 7 { // ServiceAccount, ClusterRole, ClusterRoleBinding, Role and RoleBinding in eg-sa and shop
		t.Fatalf("registration eu-sa has %d objects, want 7: %v", len(before), before)
	}
	two := registrationObjects(t, cs, "eu-sa-two")
	dr, err := Deregister(ctx, DeregisterOptions{Name: "eu-sa", FleetPaths: []string{dir}, Purge: true, Timeout: 20 * time.Second, CredentialsDir: creds})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(dr.Deleted, "\n") != strings.Join(before, "\n") {
		t.Fatalf("purge deleted:\n%s\nwant exactly:\n%s", strings.Join(dr.Deleted, "\n"), strings.Join(before, "\n"))
	}
	if left := registrationObjects(t, cs, "eu-sa"); len(left) != 0 {
		t.Fatalf("left after purge: %v", left)
	}
	if got := registrationObjects(t, cs, "eu-sa-two"); strings.Join(got, ",") != strings.Join(two, ",") {
		t.Fatalf("purging eu-sa touched eu-sa-two: %v, was %v", got, two)
	}
	for _, f := range foreign {
		if err := f.get(); err != nil {
			t.Errorf("%s: %v", f.kind, err)
		}
	}
	if _, err := os.Stat(CredentialsPath(creds, "eu-sa")); !os.IsNotExist(err) {
		t.Fatalf("the minted kubeconfig is still there: %v", err)
	}
	if !strings.Contains(strings.Join(dr.Warnings, "\n"), "kept namespace gatefed-system: it still holds ServiceAccounts gatefed-eu-sa-two") {
		t.Fatalf("want gatefed-system kept for eu-sa-two, got %q", dr.Warnings)
	}
	f := loadFleet(t, dir)
	if f.Cluster("eu-sa") != nil || f.Cluster("eu-sa-two") == nil {
		t.Fatal("want eu-sa's document gone and eu-sa-two's kept")
	}

	// The last registration out deletes gatefed-system.
	dr, err = Deregister(ctx, DeregisterOptions{Name: "eu-sa-two", FleetPaths: []string{dir}, Purge: true, Timeout: 20 * time.Second, CredentialsDir: creds})
	if err != nil {
		t.Fatal(err)
	}
	if last := dr.Deleted[len(dr.Deleted)-1]; last != "Namespace "+SystemNamespace {
		t.Fatalf("want gatefed-system deleted last, got %v", dr.Deleted)
	}
}

func create(t *testing.T, do, get func() error) func() error {
	t.Helper()
	if err := do(); err != nil {
		t.Fatal(err)
	}
	return get
}

func clusterRole(name string, labels map[string]string) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// registrationObjects lists, sorted as Purge reports them, what carries a registration's labels.
func registrationObjects(t *testing.T, cs kubernetes.Interface, name string) []string {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: RegistrationSelector(name)}
	var out []string
	crbs, err := cs.RbacV1().ClusterRoleBindings().List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range crbs.Items {
		out = append(out, "ClusterRoleBinding "+o.Name)
	}
	crs, _ := cs.RbacV1().ClusterRoles().List(ctx, sel)
	for _, o := range crs.Items {
		out = append(out, "ClusterRole "+o.Name)
	}
	rbs, _ := cs.RbacV1().RoleBindings("").List(ctx, sel)
	for _, o := range rbs.Items {
		out = append(out, "RoleBinding "+o.Namespace+"/"+o.Name)
	}
	roles, _ := cs.RbacV1().Roles("").List(ctx, sel)
	for _, o := range roles.Items {
		out = append(out, "Role "+o.Namespace+"/"+o.Name)
	}
	secrets, _ := cs.CoreV1().Secrets(SystemNamespace).List(ctx, sel)
	for _, o := range secrets.Items {
		out = append(out, "Secret "+o.Namespace+"/"+o.Name)
	}
	sas, _ := cs.CoreV1().ServiceAccounts("").List(ctx, sel)
	for _, o := range sas.Items {
		out = append(out, "ServiceAccount "+o.Namespace+"/"+o.Name)
	}
	return out
}

func kubeconfigToken(t *testing.T, path string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cfg.AuthInfos {
		return a.Token
	}
	t.Fatalf("%s has no user", path)
	return ""
}

// --service-account on a gloo cluster: Upstreams and VirtualServices in the
// gateway namespace only; deregister --purge from the CLI's point of view
// (the recorded admin context) removes exactly what was created.
func TestServiceAccountGloo(t *testing.T) {
	t.Setenv("KUBECONFIG", testFleet.Kubeconfig)
	ctx := context.Background()
	_, cs := admin(t, "c1")
	ensureNamespace(t, cs, "gloo-sa")
	ensureNamespace(t, cs, "team-a")
	dir, creds := t.TempDir(), t.TempDir()
	gwns := "gloo-sa"
	res, err := Register(ctx, RegisterOptions{
		Name: "us-sa", Context: "c1", Provider: "gloo", GatewayNamespace: &gwns,
		FleetPaths: []string{dir}, Timeout: 20 * time.Second, ServiceAccount: true, TokenTTL: time.Hour, CredentialsDir: creds,
	})
	if err != nil {
		t.Fatal(err)
	}
	if fileMode(t, res.Credentials) != 0o600 {
		t.Fatal("kubeconfig is not 0600")
	}
	_, sacs, dyn, _ := identity(t, loadFleet(t, dir).Cluster("us-sa"))
	up := obj("gloo.solo.io/v1", "Upstream", "gloo-sa", "gatefed-checkout", map[string]any{
		"static": map[string]any{"hosts": []any{map[string]any{"addr": "10.0.0.1", "port": int64(8080)}}},
	})
	wantAllowed(t, "apply Upstream in the gateway namespace", serverSideApply(dyn, testfleet.UpstreamGVR, up))
	vs := obj("gateway.solo.io/v1", "VirtualService", "gloo-sa", "gatefed-shop", map[string]any{
		"virtualHost": map[string]any{"domains": []any{"shop.example.com"}},
	})
	wantAllowed(t, "apply VirtualService in the gateway namespace", serverSideApply(dyn, testfleet.VirtualServiceGVR, vs))
	up.SetNamespace("team-a")
	wantForbidden(t, "apply Upstream in another namespace", serverSideApply(dyn, testfleet.UpstreamGVR, up))
	wantForbidden(t, "apply HTTPRoute (not this provider's)", serverSideApply(dyn, testfleet.HTTPRouteGVR, obj("gateway.networking.k8s.io/v1", "HTTPRoute", "gloo-sa", "x", nil)))
	_, err = dyn.Resource(testfleet.GatewayClassGVR).List(ctx, metav1.ListOptions{})
	wantForbidden(t, "list GatewayClasses (gloo's checks read none)", err)
	_, err = sacs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	wantForbidden(t, "list Secrets cluster-wide", err)
	_, err = sacs.RbacV1().Roles("team-a").List(ctx, metav1.ListOptions{})
	wantForbidden(t, "list Roles", err)

	dr, err := Deregister(ctx, DeregisterOptions{Name: "us-sa", FleetPaths: []string{dir}, Purge: true, Timeout: 20 * time.Second, CredentialsDir: creds})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ClusterRoleBinding gatefed:us-sa", "ClusterRole gatefed:us-sa", "RoleBinding gloo-sa/gatefed:us-sa", "Role gloo-sa/gatefed:us-sa",
		"ServiceAccount gatefed-system/gatefed-us-sa", "Namespace gatefed-system"}
	if strings.Join(dr.Deleted, "\n") != strings.Join(want, "\n") {
		t.Fatalf("purge deleted:\n%s\nwant:\n%s", strings.Join(dr.Deleted, "\n"), strings.Join(want, "\n"))
	}
	if len(loadFleetOrEmpty(t, dir)) != 0 {
		t.Fatal("the document is still there")
	}
}

// loadFleetOrEmpty loads the fleet in dir; a dir whose files hold no
// document any more (the last cluster deregistered) has no clusters.
func loadFleetOrEmpty(t *testing.T, dir string) []*fleet.Cluster {
	t.Helper()
	f, err := fleet.Load([]string{dir}, nil)
	var errs fleet.Errors
	if errors.As(err, &errs) && len(errs) == 1 && strings.HasPrefix(errs[0].Message, "no fleet documents") {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return f.Clusters
}

// A cluster that does not serve the TokenRequest API: register falls back to
// a service-account-token Secret and waits for the token controller (played
// here by the test) to fill it in; the token works against the real server.
func TestServiceAccountTokenSecretFallback(t *testing.T) {
	ctx := context.Background()
	c3, cs := admin(t, "c3")
	ensureNamespace(t, cs, "gloo-system")

	// A proxy to c3 that does not serve serviceaccounts/token.
	transport, err := rest.TransportFor(c3.Config)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(c3.URL)
	tokenPath := regexp.MustCompile(`/serviceaccounts/[^/]+/token$`)
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPost && tokenPath.MatchString(r.URL.Path) {
				return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
					Body: httpBody(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"the server could not find the requested resource"}`)}, nil
			}
			return transport.RoundTrip(r)
		}),
	})
	defer proxy.Close()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["old"] = &clientcmdapi.Cluster{Server: proxy.URL}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["old"] = &clientcmdapi.Context{Cluster: "old", AuthInfo: "admin"}
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kcPath); err != nil {
		t.Fatal(err)
	}

	// The token controller: fill in the Secret once it appears.
	done := make(chan error, 1)
	go func() {
		done <- fillTokenSecret(ctx, cs, TokenSecretName("legacy"), ServiceAccountName("legacy"))
	}()
	dir, creds := t.TempDir(), t.TempDir()
	res, err := Register(ctx, RegisterOptions{
		Name: "legacy", Kubeconfig: kcPath, Context: "old", Provider: "gloo",
		FleetPaths: []string{dir}, Timeout: 20 * time.Second, ServiceAccount: true, TokenTTL: time.Hour, CredentialsDir: creds,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !res.TokenExpires.IsZero() || !strings.Contains(strings.Join(res.Warnings, "\n"), "does not serve the TokenRequest API") {
		t.Fatalf("want a Secret-based token and a warning, got %+v", res)
	}
	direct := &rest.Config{Host: c3.URL, TLSClientConfig: rest.TLSClientConfig{CAData: c3.CACert}, BearerToken: kubeconfigToken(t, res.Credentials)}
	dcs, err := kubernetes.NewForConfig(direct)
	if err != nil {
		t.Fatal(err)
	}
	review, err := dcs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := review.Status.UserInfo.Username; got != "system:serviceaccount:gatefed-system:gatefed-legacy" {
		t.Fatalf("the Secret's token authenticates as %q", got)
	}
	// Purge deletes the token Secret too.
	dr, err := Deregister(ctx, DeregisterOptions{Name: "legacy", FleetPaths: []string{dir}, Purge: true, Timeout: 20 * time.Second, CredentialsDir: creds})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(dr.Deleted, "\n"), "Secret gatefed-system/gatefed-legacy-token") {
		t.Fatalf("purge did not delete the token Secret: %v", dr.Deleted)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func httpBody(s string) *readCloser { return &readCloser{strings.NewReader(s)} }

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// fillTokenSecret does what kube-controller-manager's token controller
// does: it writes a token for the Secret's service account into it.
func fillTokenSecret(ctx context.Context, cs kubernetes.Interface, secret, sa string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		s, err := cs.CoreV1().Secrets(SystemNamespace).Get(ctx, secret, metav1.GetOptions{})
		if err == nil {
			tr, err := cs.CoreV1().ServiceAccounts(SystemNamespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			s.Data = map[string][]byte{corev1.ServiceAccountTokenKey: []byte(tr.Status.Token)}
			_, err = cs.CoreV1().Secrets(SystemNamespace).Update(ctx, s, metav1.UpdateOptions{})
			return err
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// --- list ---

// Probe: reachable clusters report their version; a stopped one and one
// that accepts connections but never answers show Reachable=false, and
// Probe returns although the hanging one never answers.
func TestProbeReportsUnreachableClusters(t *testing.T) {
	t.Setenv("KUBECONFIG", testFleet.Kubeconfig)
	// A server that accepts connections and never says a word.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			conn, err := hang.Accept()
			if err != nil {
				return
			}
			conns = append(conns, conn)
		}
	}()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["hang"] = &clientcmdapi.Cluster{Server: "https://" + hang.Addr().String(), InsecureSkipTLSVerify: true}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "x"}
	kc.Contexts["hang"] = &clientcmdapi.Context{Cluster: "hang", AuthInfo: "u"}
	hangConfig := filepath.Join(t.TempDir(), "hang.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, hangConfig); err != nil {
		t.Fatal(err)
	}

	if err := testFleet.StopCluster("c3"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := testFleet.StartCluster(context.Background(), "c3"); err != nil {
			t.Errorf("restart c3: %v", err)
		}
	})
	clusters := []*fleet.Cluster{
		{Metadata: fleet.ObjectMeta{Name: "one"}, Spec: fleet.ClusterSpec{Context: "c1", Gateway: fleet.GatewaySpec{Provider: "gloo"}, Failover: &fleet.ClusterFailover{Address: "203.0.113.1"}}},
		{Metadata: fleet.ObjectMeta{Name: "two"}, Spec: fleet.ClusterSpec{Context: "c2", Region: "eu-west-1", Zone: "eu-west-1a", Gateway: fleet.GatewaySpec{Provider: "envoy-gateway"}}},
		{Metadata: fleet.ObjectMeta{Name: "stopped"}, Spec: fleet.ClusterSpec{Context: "c3", Gateway: fleet.GatewaySpec{Provider: "gloo"}}},
		{Metadata: fleet.ObjectMeta{Name: "hanging"}, Spec: fleet.ClusterSpec{Kubeconfig: hangConfig, Context: "hang", Gateway: fleet.GatewaySpec{Provider: "gloo"}}},
	}
	result := make(chan []Status, 1)
	go func() { result <- Probe(context.Background(), clusters, ProbeOptions{Timeout: time.Second}) }()
	var rows []Status
	select {
	case rows = <-result:
	case <-time.After(60 * time.Second):
		t.Fatal("Probe hangs on a cluster that never answers")
	}
	for i, want := range []bool{true, true, false, false} {
		r := rows[i]
		if !r.Probed || r.Reachable != want {
			t.Errorf("%s: reachable %v, want %v (%s)", r.Name, r.Reachable, want, r.Error)
		}
		if want && (r.Version != localfleet.KubeVersion || r.LatencyMS <= 0) {
			t.Errorf("%s: version %q latency %v", r.Name, r.Version, r.LatencyMS)
		}
		if !want && (r.Error == "" || r.Version != "") {
			t.Errorf("%s: want an error and no version, got %+v", r.Name, r)
		}
	}
	if got := strings.Join(rows[0].Row(), " "); got != "one c1 gloo - 203.0.113.1:15443 true "+localfleet.KubeVersion+" "+rows[0].Row()[7] {
		t.Errorf("row: %s", got)
	}
	if got := rows[2].Row(); got[5] != "false" || got[6] != "-" {
		t.Errorf("stopped row: %v", got)
	}
	offline := Probe(context.Background(), clusters, ProbeOptions{Timeout: time.Second, Offline: true})
	if offline[2].Probed || offline[2].Row()[5] != "-" || offline[1].Row()[3] != "eu-west-1/eu-west-1a" {
		t.Errorf("offline: %+v", offline)
	}
}
