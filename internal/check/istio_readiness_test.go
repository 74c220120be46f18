package check_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/istio"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// failover-readiness and sizing on istio clusters against real API servers
// with the real Istio CRDs. east runs checkout and is a failover target (its
// failover address is a TLS listener of this test); west routes to it.
// Before apply, east has neither the failover Gateway nor an ingress gateway
// Service with the failover port: both fail. A Service of the gateway pods
// without the port still fails; with it, and after apply, both pass. Sizing
// reads the ingress gateway Deployment (istio-proxy's memory limit, its
// replicas) and counts west's Istio objects.
func TestCheckIstioFailoverReadinessAndSizing(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{
		{Name: "east", CRDs: localfleet.Families(istio.Name)},
		{Name: "west", CRDs: localfleet.Families(istio.Name)},
	}})
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	ctx := context.Background()
	target := httptest.NewUnstartedServer(http.NotFoundHandler())
	target.StartTLS()
	t.Cleanup(target.Close)
	_, p, _ := net.SplitHostPort(target.Listener.Addr().String())
	port, _ := strconv.Atoi(p)

	east, err := tf.Cluster("east").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"east", "west"} {
		if err := tf.Cluster(name).Sim().EnsureNamespace(ctx, "istio-system"); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"failover-upstream", "failover-downstream"} {
		if _, err := east.CoreV1().Secrets("istio-system").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	fleettest.Write(t, dir, fleettest.YAML(
		fleettest.Cluster("east", "istio").Kubeconfig(tf.Kubeconfig).Failover("127.0.0.1", port),
		fleettest.Cluster("west", "istio").Kubeconfig(tf.Kubeconfig),
		fleettest.Service("shop", "checkout", 8080).On("east").HealthCheck(),
		fleettest.Route("shop", "web", "shop.example.com").On("west").To("checkout"),
	))
	only := []string{"-x", "config-status,drift,service-presence", "-o", "json"}
	run := func() jsonReport { t.Helper(); return checkReport(t, dir, only...) }
	ready := func(rep jsonReport) []check.Finding { return rep.findings("east", check.FailoverReadiness) }

	rep := run()
	fs := ready(rep)
	if rep.grid()["east"][check.FailoverReadiness] != "fail" ||
		!hasFinding(fs, check.Failure, "the failover Gateway istio-system/gatefed-failover does not exist") ||
		!hasFinding(fs, check.Failure, "no Service in istio-system selects the ingress gateway pods (istio=ingressgateway)") ||
		!hasFinding(fs, check.Info, "TLS answered") {
		t.Fatalf("before apply: %+v", fs)
	}

	// The gateway pods' Service, without the failover port; another Service
	// with it, of other pods, does not count.
	svc := func(name string, selector map[string]string, ports ...int32) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "istio-system"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: selector}}
		for _, p := range ports {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "p" + strconv.Itoa(int(p)), Port: p, Protocol: corev1.ProtocolTCP})
		}
		return s
	}
	if _, err := east.CoreV1().Services("istio-system").Create(ctx, svc("eastwest", map[string]string{"istio": "eastwestgateway"}, int32(port)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ingress, err := east.CoreV1().Services("istio-system").Create(ctx, svc("istio-ingressgateway", map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}, 80, 443), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fs := ready(run()); !hasFinding(fs, check.Failure, "the ingress gateway Service istio-system/istio-ingressgateway does not expose port "+p) {
		t.Fatalf("Service without the failover port: %+v", fs)
	}

	ingress.Spec.Ports = append(ingress.Spec.Ports, corev1.ServicePort{Name: "tls", Port: int32(port), Protocol: corev1.ProtocolTCP})
	if _, err := east.CoreV1().Services("istio-system").Update(ctx, ingress, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ios, _, out, errOut := iostreams.Test()
	if code := cmd.Main([]string{"-f", dir, "apply", "--yes"}, ios); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	one := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-ingressgateway", Namespace: "istio-system"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"istio": "ingressgateway"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "istio-proxy", Image: "docker.io/istio/proxyv2",
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
					},
				}}},
			},
		},
	}
	if _, err := east.AppsV1().Deployments("istio-system").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	rep = run()
	fs = ready(rep)
	if rep.grid()["east"][check.FailoverReadiness] != "pass" ||
		!hasFinding(fs, check.Info, "the failover Gateway istio-system/gatefed-failover exists with 1 server on port "+p) ||
		!hasFinding(fs, check.Info, "the ingress gateway Service istio-system/istio-ingressgateway exposes port "+p+` ("tls")`) {
		t.Fatalf("after apply: %s %+v", rep.grid()["east"][check.FailoverReadiness], fs)
	}

	d := sizingOf(t, &rep, "east")
	if d.ProxyDeployment != "istio-system/istio-ingressgateway" || d.ProxyReplicas != 1 || d.ProxyMemoryLimit != 1<<30 || d.ProxyMemoryRequest != 128<<20 {
		t.Errorf("east sizing: %+v", d)
	}
	if !hasFinding(rep.findings("east", check.Sizing), check.Warning, "the gateway proxy runs 1 replica") {
		t.Errorf("east sizing findings: %+v", rep.findings("east", check.Sizing))
	}
	// west: one HTTP server, one route, checkout's ServiceEntry with east's
	// failover address as its one endpoint.
	w := sizingOf(t, &rep, "west")
	if w.HTTPListeners != 1 || w.TCPListeners != 0 || w.Routes != 1 || w.EnvoyClusters != 1 || w.Endpoints != 1 {
		t.Errorf("west load: %+v", w.ProxyLoad)
	}
	if !hasFinding(rep.findings("west", check.Sizing), check.Warning, "the gateway proxy Deployment was not found") {
		t.Errorf("west has no ingress gateway Deployment: %+v", rep.findings("west", check.Sizing))
	}
	checkIstioLeastPrivilege(t, tf, dir)
}

// checkIstioLeastPrivilege runs every check but drift (which needs what
// gatefed diff needs) as an admin and as the service account gatefed
// cluster register creates for istio would (cluster.PermissionsFor, no
// Gateway API read): each check ends the same, sizing counts the same, and
// nothing is forbidden but sizing's cluster-wide lists.
func checkIstioLeastPrivilege(t *testing.T, tf *testfleet.Fleet, dir string) {
	t.Helper()
	const user = "gatefed-istio-checker"
	for _, c := range []string{"east", "west"} {
		grantRegistered(t, tf.Cluster(c).Sim().Kube, user, istio.Name, "istio-system")
	}
	kubeconfig, err := tf.FleetUserKubeconfig(user)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(dir, fleettest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	userDir := t.TempDir()
	fleettest.Write(t, userDir, strings.ReplaceAll(string(doc), tf.Kubeconfig, kubeconfig))
	admin, sa := checkReport(t, dir, "-x", "drift", "-o", "json"), checkReport(t, userDir, "-x", "drift", "-o", "json")
	for _, c := range []string{"east", "west"} {
		if len(sa.grid()[c]) != 7 {
			t.Errorf("%s: checks %v, want every check but drift", c, sa.grid()[c])
		}
		for name, st := range admin.grid()[c] {
			if sa.grid()[c][name] != st {
				t.Errorf("%s %s as the service account: %s, as an admin %s: %+v", c, name, sa.grid()[c][name], st, sa.findings(c, name))
			}
		}
		for _, f := range forbiddenFindings(&sa, c) {
			t.Errorf("%s: a read was forbidden: %+v", c, f)
		}
	}
	// The service account may list the Istio kinds in istio-system only.
	if !hasFinding(sa.findings("west", check.Sizing), check.Info, "listing them cluster-wide is forbidden", "Gateway.networking.istio.io (in istio-system)") {
		t.Errorf("west sizing does not say it counted in istio-system only: %+v", sa.findings("west", check.Sizing))
	}
	if a, s := sizingOf(t, &admin, "west").ProxyLoad, sizingOf(t, &sa, "west").ProxyLoad; a != s {
		t.Errorf("west load as the service account %+v, as an admin %+v", s, a)
	}
}

// checkReport runs check on the fleet in dir and reads its JSON report; the
// checks may pass or fail, but check must run.
func checkReport(t *testing.T, dir string, args ...string) jsonReport {
	t.Helper()
	out, errOut, code := runCheckIn(t, dir, false, args...)
	if code != 0 && code != 1 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return rep
}
