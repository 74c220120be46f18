package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/plan"
	"github.com/gatefed/gatefed/internal/providers"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// TestMain lets the test binary stand in for "gatefed demo failover-listener",
// which Up starts from the running executable.
func TestMain(m *testing.M) {
	providers.Register()
	if len(os.Args) >= 5 && os.Args[1] == "demo" && os.Args[2] == "failover-listener" && os.Args[3] == "--state-dir" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		if err := ServeFailover(ctx, Options{IO: iostreams.System(), StateDir: os.Args[4]}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The demo's fleet loads and renders without a warning at every size: its
// failover addresses are all 127.0.0.1, and no gateway that refuses a
// loopback failover target (Envoy Gateway's) is a failover source.
func TestFleetDocumentsLoadForEverySize(t *testing.T) {
	for n := 1; n <= MaxClusters; n++ {
		dir := t.TempDir()
		plans, err := layout(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFleetDocs(dir, plans); err != nil {
			t.Fatal(err)
		}
		f, err := fleet.Load([]string{dir}, nil)
		if err != nil {
			t.Fatalf("%d clusters: %v", n, err)
		}
		// One cluster is a Gloo one: no inventory, no api route.
		services, routes := 5, 2
		if n == 1 {
			services, routes = 4, 1
		}
		if len(f.Clusters) != n || len(f.Services) != services || len(f.Routes) != routes {
			t.Fatalf("%d clusters: loaded %d clusters, %d services, %d routes", n, len(f.Clusters), len(f.Services), len(f.Routes))
		}
		res, err := render.Render(f, render.Options{})
		if err != nil {
			t.Fatalf("%d clusters: %v", n, err)
		}
		if len(res.Warnings) > 0 {
			t.Errorf("%d clusters: render warns:\n%s", n, strings.Join(res.Warnings, "\n"))
		}
		for _, c := range res.Clusters {
			if len(c.Objects) == 0 {
				t.Errorf("%d clusters: nothing rendered for %s", n, c.Cluster.Name())
			}
		}
		ports := map[int32]bool{}
		for _, c := range f.Clusters {
			if c.Spec.Failover == nil || c.Spec.Failover.Address != "127.0.0.1" || ports[c.FailoverPort()] {
				t.Errorf("%d clusters: %s failover %+v", n, c.Name(), c.Spec.Failover)
			}
			ports[c.FailoverPort()] = true
		}
	}
}

func TestThreeClusterLayoutShowsLocalityAndOrder(t *testing.T) {
	dir := t.TempDir()
	plans, err := layout(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFleetDocs(dir, plans); err != nil {
		t.Fatal(err)
	}
	f, err := fleet.Load([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	providers := map[string]int{}
	for _, c := range f.Clusters {
		providers[c.Spec.Gateway.Provider]++
	}
	if providers["gloo"] != 2 || providers["envoy-gateway"] != 1 {
		t.Errorf("providers %v, want two gloo and one envoy-gateway", providers)
	}
	tierNames := func(svc, from string) string {
		tiers, _ := plan.Tiers(f, f.Service(fleet.Ref(ServiceNamespace, svc)), f.Cluster(from), nil)
		var out []string
		for _, tr := range tiers {
			out = append(out, tr.Cluster.Name())
		}
		return strings.Join(out, ">")
	}
	// Locality: the same-region neighbour before the other region.
	if got := tierNames("checkout", "east-1"); got != "east-1>east-2>west-1" {
		t.Errorf("checkout from east-1: %s", got)
	}
	if got := tierNames("checkout", "west-1"); got != "west-1>east-1>east-2" {
		t.Errorf("checkout from west-1: %s", got)
	}
	// Ordered: the service's own order, last cluster first.
	if got := tierNames("payments", "east-2"); got != "west-1>east-1" {
		t.Errorf("payments from east-2: %s", got)
	}
}

func TestUpWithoutBinariesSaysHowToBuild(t *testing.T) {
	t.Setenv(localfleet.EnvEtcdBin, filepath.Join(t.TempDir(), "missing-etcd"))
	streams, _, _, _ := iostreams.Test()
	err := Up(context.Background(), UpOptions{Options: Options{IO: streams, StateDir: t.TempDir()}, Clusters: 1})
	if err == nil {
		t.Fatal("up without etcd: no error")
	}
	// The binary, where it was looked for, and the command that builds only what the demo runs.
	for _, want := range []string{"etcd  (want " + os.Getenv(localfleet.EnvEtcdBin) + ")", "hack/build-kube.sh --demo", "make kube-bins-demo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

// TestDemoLifecycle runs up, status, the seeded objects, the failover
// listener, reconcile, stop-cluster, start-cluster and down on one fleet.
func TestDemoLifecycle(t *testing.T) {
	ctx := context.Background()
	stateDir := filepath.Join(t.TempDir(), "demo")
	streams, _, out, errOut := iostreams.Test()
	opts := Options{IO: streams, StateDir: stateDir, Attached: true}
	downDone := false
	t.Cleanup(func() {
		if !downDone {
			Down(opts)
		}
	})
	err := Up(ctx, UpOptions{Options: opts, Clusters: 3, Commands: []string{"validate", "render", "check"}})
	if err != nil {
		t.Fatalf("up: %v\n%s", err, errOut)
	}
	for _, want := range []string{"--kubeconfig " + opts.Kubeconfig() + " validate", "demo down", "demo reconcile"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out.String(), " apply\n") {
		t.Errorf("up suggests apply, which is not among the commands:\n%s", out)
	}

	st, err := opts.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Fleet.Clusters) != 3 || st.Listener.Pid == 0 {
		t.Fatalf("state %+v", st)
	}
	if err := Up(ctx, UpOptions{Options: opts, Clusters: 3}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second up: %v", err)
	}

	rep, err := Status(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(rep.Clusters, rep.Etcd, rep.Listener) {
		if c.State != StateReady {
			t.Errorf("%s: %s %s", c.Name, c.State, c.Detail)
		}
	}

	f, err := fleet.Load([]string{opts.FleetDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]kubernetes.Interface{}
	dyns := map[string]dynamic.Interface{}
	for _, c := range f.Clusters {
		cfg, err := opts.restConfig(c.Name())
		if err != nil {
			t.Fatal(err)
		}
		clients[c.Name()] = kubernetes.NewForConfigOrDie(cfg)
		dyns[c.Name()] = dynamic.NewForConfigOrDie(cfg)
	}
	checkSeeded(t, f, clients, dyns)
	checkFailoverListener(t, f, clients, st)
	checkReconcile(t, opts, f, dyns)

	// A cluster goes away and comes back with its data.
	if err := StopCluster(opts, "west-1"); err != nil {
		t.Fatal(err)
	}
	rep, _ = Status(ctx, opts)
	if s := statusOf(rep, "west-1"); s.State != StateStopped {
		t.Fatalf("west-1 after stop-cluster: %+v", s)
	}
	if s := statusOf(rep, "east-1"); s.State != StateReady {
		t.Fatalf("east-1 after stopping west-1: %+v", s)
	}
	if err := StartCluster(ctx, opts, "west-1"); err != nil {
		t.Fatal(err)
	}
	rep, _ = Status(ctx, opts)
	if s := statusOf(rep, "west-1"); s.State != StateReady {
		t.Fatalf("west-1 after start-cluster: %+v", s)
	}
	if _, err := clients["west-1"].CoreV1().Services(ServiceNamespace).Get(ctx, "checkout", metav1.GetOptions{}); err != nil {
		t.Fatalf("west-1 lost its data: %v", err)
	}

	st, _ = opts.LoadState()
	pids := []int{st.Fleet.Etcd.Pid, st.Listener.Pid}
	for _, c := range st.Fleet.Clusters {
		pids = append(pids, c.APIServer.Pid)
	}
	if err := Down(opts); err != nil {
		t.Fatal(err)
	}
	downDone = true
	for _, pid := range pids {
		if !localfleet.ProcessGone(pid) {
			t.Errorf("pid %d still runs after down", pid)
		}
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Errorf("state dir remains after down: %v", err)
	}
	if _, err := Status(ctx, opts); err == nil {
		t.Error("status without a demo succeeded")
	}
}

func statusOf(rep *Report, name string) ClusterStatus {
	for _, c := range rep.Clusters {
		if c.Name == name {
			return c
		}
	}
	return ClusterStatus{}
}

func checkSeeded(t *testing.T, f *fleet.Fleet, clients map[string]kubernetes.Interface, dyns map[string]dynamic.Interface) {
	t.Helper()
	ctx := context.Background()
	for _, s := range f.Services {
		for _, c := range f.ServiceClusters(s) {
			kc := clients[c.Name()]
			if _, err := kc.CoreV1().Services(s.Metadata.Namespace).Get(ctx, s.ServiceName(), metav1.GetOptions{}); err != nil {
				t.Errorf("%s: service %s: %v", c.Name(), s.Key(), err)
			}
			slices, err := kc.DiscoveryV1().EndpointSlices(s.Metadata.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + s.ServiceName()})
			if err != nil || len(slices.Items) != 1 || len(slices.Items[0].Endpoints) == 0 {
				t.Errorf("%s: endpoint slices of %s: %v", c.Name(), s.Key(), err)
			}
		}
	}
	for _, c := range f.Clusters {
		kc, gw := clients[c.Name()], c.Spec.Gateway
		for _, name := range []string{"failover-upstream", "failover-downstream"} {
			sec, err := kc.CoreV1().Secrets(gw.Namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil || len(sec.Data["tls.crt"]) == 0 || len(sec.Data["ca.crt"]) == 0 {
				t.Errorf("%s: secret %s/%s: %v", c.Name(), gw.Namespace, name, err)
			}
		}
		available := func(name string) {
			d, err := kc.AppsV1().Deployments(gw.Namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Errorf("%s: deployment %s: %v", c.Name(), name, err)
				return
			}
			for _, cond := range d.Status.Conditions {
				if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
					return
				}
			}
			t.Errorf("%s: deployment %s not Available: %+v", c.Name(), name, d.Status)
		}
		switch gw.Provider {
		case "gloo":
			available("gloo")
			available(gw.Name)
			svc, err := kc.CoreV1().Services(gw.Namespace).Get(ctx, gw.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range svc.Spec.Ports {
				found = found || (p.Name == "failover" && p.Port == c.FailoverPort())
			}
			if !found {
				t.Errorf("%s: gateway Service ports %+v lack failover %d", c.Name(), svc.Spec.Ports, c.FailoverPort())
			}
		case "envoy-gateway":
			available("envoy-gateway")
			gwObj, err := dyns[c.Name()].Resource(testfleet.GatewayGVR).Namespace(gw.Namespace).Get(ctx, gw.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(gwObj.Object["status"])
			if !strings.Contains(string(data), `"type":"Programmed"`) {
				t.Errorf("%s: Gateway status %s", c.Name(), data)
			}
		}
	}
}

// checkFailoverListener dials every failover port with the client
// certificate seeded in the first cluster's failover-upstream Secret.
func checkFailoverListener(t *testing.T, f *fleet.Fleet, clients map[string]kubernetes.Interface, st *State) {
	t.Helper()
	first := f.Clusters[0]
	secret, err := clients[first.Name()].CoreV1().Secrets(first.Spec.Gateway.Namespace).Get(context.Background(), "failover-upstream", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(secret.Data["tls.crt"], secret.Data["tls.key"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(secret.Data["ca.crt"]) {
		t.Fatal("failover-upstream: no CA in ca.crt")
	}
	for _, c := range st.Clusters {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(c.FailoverPort)))
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{
			ServerName: "checkout-8080.shop.failover.gatefed.internal", RootCAs: pool, Certificates: []tls.Certificate{cert},
		})
		if err != nil {
			t.Errorf("%s: mutual TLS to %s: %v", c.Name, addr, err)
			continue
		}
		conn.Close()
	}
}

func checkReconcile(t *testing.T, opts Options, f *fleet.Fleet, dyns map[string]dynamic.Interface) {
	t.Helper()
	ctx := context.Background()
	force := true
	upstream := []byte(`{"apiVersion":"gloo.solo.io/v1","kind":"Upstream","metadata":{"name":"gatefed-shop-checkout","namespace":"gloo-system",
		"labels":{"app.kubernetes.io/managed-by":"gatefed","gatefed.dev/cluster":"east-1"}},
		"spec":{"kube":{"serviceName":"checkout","serviceNamespace":"shop","servicePort":8080}}}`)
	if _, err := dyns["east-1"].Resource(testfleet.UpstreamGVR).Namespace("gloo-system").Patch(ctx, "gatefed-shop-checkout", types.ApplyPatchType, upstream,
		metav1.PatchOptions{FieldManager: "gatefed", Force: &force}); err != nil {
		t.Fatal(err)
	}
	route := []byte(`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":"gatefed-shop-storefront","namespace":"envoy-gateway-system",
		"labels":{"app.kubernetes.io/managed-by":"gatefed","gatefed.dev/cluster":"east-2"}},
		"spec":{"parentRefs":[{"name":"eg"}],"rules":[{"backendRefs":[{"name":"checkout","namespace":"shop","port":8080}]}]}}`)
	if _, err := dyns["east-2"].Resource(testfleet.HTTPRouteGVR).Namespace("envoy-gateway-system").Patch(ctx, "gatefed-shop-storefront", types.ApplyPatchType, route,
		metav1.PatchOptions{FieldManager: "gatefed", Force: &force}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	ropts := opts
	ropts.IO = &iostreams.IOStreams{Out: &buf, ErrOut: &buf}
	if err := Reconcile(ctx, ropts); err != nil {
		t.Fatalf("reconcile: %v\n%s", err, buf.String())
	}
	if !strings.Contains(buf.String(), "east-1: accepted 1 Upstream") || !strings.Contains(buf.String(), "east-2: accepted 1 HTTPRoute") {
		t.Errorf("reconcile output:\n%s", buf.String())
	}
	u, err := dyns["east-1"].Resource(testfleet.UpstreamGVR).Namespace("gloo-system").Get(ctx, "gatefed-shop-checkout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := u.Object["status"].(map[string]any)["statuses"].(map[string]any)["gloo-system"].(map[string]any)["state"]; st != int64(1) {
		t.Errorf("upstream state %v, want 1 (Accepted)", st)
	}
	r, err := dyns["east-2"].Resource(testfleet.HTTPRouteGVR).Namespace("envoy-gateway-system").Get(ctx, "gatefed-shop-storefront", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parents := r.Object["status"].(map[string]any)["parents"].([]any)
	ref := parents[0].(map[string]any)["parentRef"].(map[string]any)
	if len(parents) != 1 || ref["name"] != "eg" || ref["namespace"] != "envoy-gateway-system" {
		t.Errorf("route parents %v", parents)
	}
	// The kubeconfig the demo wrote has one context per cluster.
	raw, err := clientcmd.LoadFromFile(opts.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Clusters {
		if raw.Contexts[c.Name()] == nil {
			t.Errorf("kubeconfig lacks context %s", c.Name())
		}
	}
}
