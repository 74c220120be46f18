package check_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/check/applydiff"
	"github.com/gatefed/gatefed/internal/cluster"
	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/providers"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// The shared fleet starts on first use (benchmarks start their own) and
// stops when the test binary ends.
var (
	sharedOnce sync.Once
	shared     *testfleet.Fleet
	sharedErr  error
	tmpRoot    string
)

func TestMain(m *testing.M) {
	providers.Register()
	var err error
	tmpRoot, err = os.MkdirTemp("", "gatefed-check-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Keep discovery caches and config away from the user's, after pinning
	// where the fleet's binaries are (they live in the cache).
	if os.Getenv(localfleet.EnvKubeBinDir) == "" {
		os.Setenv(localfleet.EnvKubeBinDir, localfleet.KubeBinDir())
	}
	if os.Getenv(localfleet.EnvEtcdBin) == "" {
		os.Setenv(localfleet.EnvEtcdBin, localfleet.EtcdBin())
	}
	if os.Getenv(testfleet.EnvEGBinDir) == "" {
		os.Setenv(testfleet.EnvEGBinDir, testfleet.EnvoyGatewayBinDir())
	}
	os.Setenv("XDG_CACHE_HOME", filepath.Join(tmpRoot, "cache"))
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(tmpRoot, "config"))
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: stop test fleet: %v\n", err)
			code = 1
		}
	}
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

// sharedFleet is three clusters: east and west with every CRD, north
// without Gloo's CRDs.
func sharedFleet(t testing.TB) *testfleet.Fleet {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = testfleet.Start(context.Background(), localfleet.Options{Clusters: []localfleet.ClusterOptions{
			{Name: "east"},
			{Name: "west"},
			{Name: "north", CRDs: localfleet.Families(localfleet.GatewayAPI, envoygateway.Name)},
		}})
	})
	if sharedErr != nil {
		t.Fatalf("start test fleet: %v", sharedErr)
	}
	return shared
}

// scenario is the shared fleet in a known state:
//
//   - east (Gloo): gloo Available, the gateway proxy not Available; its
//     Upstreams Accepted (Gloo's numeric state), its VirtualService Rejected
//     (state as a string, with a reason), its failover Gateway Accepted in
//     the older flat status; ledger has no ready endpoints; the failover
//     endpoint listens (TLS); failover-upstream is missing; the checkout
//     Upstream was changed out of band.
//   - west (Envoy Gateway): everything accepted, programmed, present and
//     listening; two proxy replicas with a memory limit: every check passes.
//   - north (Gloo): no Gloo CRDs; its failover endpoint does not listen.
type scenario struct {
	tf  *testfleet.Fleet
	dir string // fleet directory
}

var (
	scenarioOnce sync.Once
	theScenario  *scenario
	scenarioErr  error
	listeners    []net.Listener
)

// scenarioFleet is the scenario's fleet: every cluster on one kubeconfig,
// each failover target at its own loopback port.
func scenarioFleet(kubeconfig string, eastPort, westPort, northPort int) string {
	return fleettest.YAML(
		fleettest.Cluster("east", "gloo").Kubeconfig(kubeconfig).Region("r1").Zone("r1-a").Failover("127.0.0.1", eastPort),
		fleettest.Cluster("west", "envoy-gateway").Kubeconfig(kubeconfig).Region("r1").Zone("r1-b").Failover("127.0.0.1", westPort),
		fleettest.Cluster("north", "gloo").Kubeconfig(kubeconfig).Region("r2").Failover("127.0.0.1", northPort),
		fleettest.Service("shop", "checkout", 8080).On("east", "west").HealthCheck(),
		fleettest.Service("shop", "ledger", 9090).On("east"),
		fleettest.Route("shop", "web", "shop.example.com").
			Rule("name: checkout", "backends: "+fleettest.Backends("checkout")).
			Rule("name: ledger", "match: {pathPrefix: /ledger}", "backends: "+fleettest.Backends("ledger")),
	)
}

func setupScenario(t *testing.T) *scenario {
	t.Helper()
	tf := sharedFleet(t)
	scenarioOnce.Do(func() { theScenario, scenarioErr = buildScenario(tf) })
	if scenarioErr != nil {
		t.Fatalf("set up the scenario: %v", scenarioErr)
	}
	return theScenario
}

func buildScenario(tf *testfleet.Fleet) (*scenario, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	eastLn, err := check.NewTLSListener(true)
	if err != nil {
		return nil, err
	}
	westLn, err := check.NewTLSListener(true)
	if err != nil {
		return nil, err
	}
	listeners = append(listeners, eastLn, westLn)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	s := &scenario{tf: tf, dir: filepath.Join(tmpRoot, "fleet")}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, err
	}
	doc := scenarioFleet(tf.Kubeconfig, port(eastLn), port(westLn), closedPort)
	if err := os.WriteFile(filepath.Join(s.dir, fleettest.FileName), []byte(doc), 0o644); err != nil {
		return nil, err
	}
	f, err := fleet.Load([]string{s.dir}, nil)
	if err != nil {
		return nil, err
	}
	res, err := render.Render(f, render.Options{})
	if err != nil {
		return nil, err
	}
	objects := map[string][]*unstructured.Unstructured{}
	for _, c := range res.Clusters {
		objects[c.Cluster.Name()] = c.Objects
	}
	east, west := tf.Cluster("east").Sim(), tf.Cluster("west").Sim()
	for _, step := range []struct {
		sim *testfleet.Sim
		ns  []string
	}{{east, []string{"gloo-system", "shop"}}, {west, []string{"envoy-gateway-system", "shop"}}} {
		for _, ns := range step.ns {
			if err := step.sim.EnsureNamespace(ctx, ns); err != nil {
				return nil, err
			}
		}
	}

	// West's GatewayClass and Gateway exist before gatefed's routes attach.
	if err := west.EnvoyGatewayParents(ctx, "eg", "envoy-gateway-system", "eg"); err != nil {
		return nil, err
	}
	// Apply the render to east and west as gatefed apply does.
	eng := apply.New(apply.Options{Prune: true, CacheDir: filepath.Join(tmpRoot, "cache", "apply")})
	var targets []apply.Target
	for _, c := range res.Clusters {
		if c.Cluster.Name() != "north" {
			targets = append(targets, apply.Target{Cluster: c.Cluster, Objects: c.Objects})
		}
	}
	p := eng.Plan(ctx, targets)
	if p.Failed() {
		for _, cp := range p.Clusters {
			if cp.Err != nil {
				return nil, fmt.Errorf("plan %s: %w", cp.Name, cp.Err)
			}
		}
	}
	if ar := eng.Apply(ctx, p); ar.Failed() {
		for _, cr := range ar.Clusters {
			if cr.Err != nil {
				return nil, fmt.Errorf("apply %s: %w", cr.Name, cr.Err)
			}
			for _, e := range cr.Errors {
				return nil, fmt.Errorf("apply %s: %w", cr.Name, e)
			}
		}
	}

	if err := simulateEast(ctx, east, objects["east"], port(eastLn)); err != nil {
		return nil, fmt.Errorf("east: %w", err)
	}
	if err := simulateWest(ctx, tf.Cluster("west"), west, objects["west"]); err != nil {
		return nil, fmt.Errorf("west: %w", err)
	}
	return s, nil
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

func simulateEast(ctx context.Context, sim *testfleet.Sim, objs []*unstructured.Unstructured, failoverPort int) error {
	if err := sim.Deployment(ctx, localfleet.Deployment{Namespace: "gloo-system", Name: "gloo", Available: true, Image: "quay.io/solo-io/gloo-ee:1.22.0"}); err != nil {
		return err
	}
	if err := sim.Deployment(ctx, localfleet.Deployment{Namespace: "gloo-system", Name: "gateway-proxy", Available: false}); err != nil {
		return err
	}
	// The gateway proxy's Service exposes the failover port under its name.
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "gloo-system", Name: "gateway-proxy"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "gateway-proxy"},
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80},
				{Name: check.FailoverPortName, Port: int32(failoverPort)},
			},
		},
	}
	if _, err := sim.Kube.CoreV1().Services("gloo-system").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := sim.Service(ctx, localfleet.Service{Namespace: "shop", Name: "checkout", Port: 8080, Ready: 2}); err != nil {
		return err
	}
	if err := sim.Service(ctx, localfleet.Service{Namespace: "shop", Name: "ledger", Port: 9090, NotReady: 2}); err != nil {
		return err
	}
	// failover-downstream only: failover-upstream is missing.
	if err := createSecret(ctx, sim, "gloo-system", render.FailoverDownstreamSecret); err != nil {
		return err
	}
	for _, o := range objs {
		gvr := testfleet.UpstreamGVR
		st := testfleet.GlooStatus{State: gloo.StateAccepted}
		switch o.GetKind() {
		case "VirtualService":
			gvr = testfleet.VirtualServiceGVR
			st = testfleet.GlooStatus{State: gloo.StateRejected, StateAsString: true,
				Reason: "domain shop.example.com is already used by VirtualService gloo-system/legacy"}
		case "Gateway":
			gvr = testfleet.GlooGatewayGVR
			st = testfleet.GlooStatus{State: gloo.StateAccepted, Flat: true}
		}
		if o.GetName() == "gatefed-local-shop-ledger" {
			st = testfleet.GlooStatus{State: gloo.StateWarning, Reason: "upstream has no healthy endpoints"}
		}
		if err := sim.GlooStatus(ctx, gvr, o.GetNamespace(), o.GetName(), st); err != nil {
			return err
		}
	}
	// Someone edits the checkout Upstream's health check path by hand.
	patch := []byte(`{"spec":{"healthChecks":[{"timeout":"1s","interval":"5s","healthyThreshold":1,"unhealthyThreshold":3,"httpHealthCheck":{"path":"/edited-by-hand"}}]}}`)
	_, err := sim.Dynamic.Resource(testfleet.UpstreamGVR).Namespace("gloo-system").Patch(ctx, "gatefed-shop-checkout",
		types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"})
	return err
}

// scenarioCA issues the scenario's failover Secrets; scenarioKeys holds a
// line of each of their keys, which the report never holds.
var (
	scenarioCAOnce sync.Once
	scenarioCA     *failovertls.Authority
	scenarioCAErr  error
	scenarioKeysMu sync.Mutex
	scenarioKeys   []string
)

// createSecret issues a failover Secret from the scenario's CA: the client
// certificate (failover-upstream) or a serving one for every shop service.
func createSecret(ctx context.Context, sim *testfleet.Sim, ns, name string) error {
	scenarioCAOnce.Do(func() {
		scenarioCA, _, scenarioCAErr = failovertls.NewAuthorityPEM("scenario-failover-ca", 10*365*24*time.Hour)
	})
	if scenarioCAErr != nil {
		return scenarioCAErr
	}
	role, dns := failovertls.Client, []string(nil)
	if name == render.FailoverDownstreamSecret {
		role, dns = failovertls.Server, []string{"*.shop." + render.FailoverDomain}
	}
	iss, err := scenarioCA.Issue(name, role, "scenario", dns, 365*24*time.Hour)
	if err != nil {
		return err
	}
	data := iss.Data()
	scenarioKeysMu.Lock()
	scenarioKeys = append(scenarioKeys, strings.Split(string(data["tls.key"]), "\n")[1])
	scenarioKeysMu.Unlock()
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       data,
	}
	_, err = sim.Kube.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{})
	return err
}

var (
	gatewayClassGVR = testfleet.GatewayClassGVR
	gatewayGVR      = testfleet.GatewayGVR
)

func simulateWest(ctx context.Context, c *testfleet.Cluster, sim *testfleet.Sim, objs []*unstructured.Unstructured) error {
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		return err
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	gvrOf := func(o *unstructured.Unstructured) (schema.GroupVersionResource, error) {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return schema.GroupVersionResource{}, err
		}
		return m.Resource, nil
	}

	if err := sim.Conditions(ctx, gatewayClassGVR, "", "eg", localfleet.True("Accepted", "")); err != nil {
		return err
	}
	programmed := []localfleet.Condition{localfleet.True("Accepted", ""), localfleet.True("Programmed", "")}
	if err := sim.Conditions(ctx, gatewayGVR, "envoy-gateway-system", "eg", programmed...); err != nil {
		return err
	}
	for _, o := range objs {
		gvr, err := gvrOf(o)
		if err != nil {
			return err
		}
		ns, name := o.GetNamespace(), o.GetName()
		switch o.GetKind() {
		case "HTTPRoute", "TLSRoute":
			refs, _, _ := unstructured.NestedSlice(o.Object, "spec", "parentRefs")
			var parents []localfleet.ParentStatus
			for _, r := range refs {
				rm := r.(map[string]any)
				section, _ := rm["sectionName"].(string)
				parents = append(parents, localfleet.ParentStatus{ControllerName: envoygateway.ControllerName, Gateway: rm["name"].(string), SectionName: section,
					Conditions: []localfleet.Condition{localfleet.True("Accepted", ""), localfleet.True("ResolvedRefs", "")}})
			}
			err = sim.RouteStatus(ctx, gvr, ns, name, parents...)
		case "BackendTrafficPolicy", "ClientTrafficPolicy":
			err = sim.PolicyStatus(ctx, gvr, ns, name, localfleet.ParentStatus{ControllerName: envoygateway.ControllerName, Gateway: "eg",
				Conditions: []localfleet.Condition{localfleet.True("Accepted", "")}})
		case "Backend":
			err = sim.Conditions(ctx, gvr, ns, name, localfleet.True("Accepted", ""))
		case "Gateway":
			err = sim.Conditions(ctx, gvr, ns, name, programmed...)
		}
		if err != nil {
			return err
		}
	}
	if err := sim.Service(ctx, localfleet.Service{Namespace: "shop", Name: "checkout", Port: 8080, Ready: 3}); err != nil {
		return err
	}
	for _, name := range []string{render.FailoverUpstreamSecret, render.FailoverDownstreamSecret} {
		if err := createSecret(ctx, sim, "envoy-gateway-system", name); err != nil {
			return err
		}
	}
	// Envoy Gateway's proxy Deployment: two replicas with a memory limit.
	labels := map[string]string{
		"app.kubernetes.io/name":                         "envoy",
		"gateway.envoyproxy.io/owning-gateway-name":      "eg",
		"gateway.envoyproxy.io/owning-gateway-namespace": "envoy-gateway-system",
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "envoy-gateway-system", Name: "envoy-envoy-gateway-system-eg-5f4d", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "envoy", Image: "docker.io/envoyproxy/envoy:distroless-v1.37.0",
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
					},
				}}},
			},
		},
	}
	_, err = sim.Kube.AppsV1().Deployments("envoy-gateway-system").Create(ctx, dep, metav1.CreateOptions{})
	return err
}

// runCheck runs gatefed check as a user would and returns stdout, stderr and the exit status.
// runCheck checks the scenario without failover-trust's probe: its
// failover listeners are self-signed stand-ins (trust_cluster_test.go
// probes real mutual-TLS ones).
func runCheck(t *testing.T, s *scenario, tty bool, args ...string) (string, string, int) {
	t.Helper()
	return runCheckIn(t, s.dir, tty, append(args, "--failover-probe=false")...)
}

func runCheckIn(t *testing.T, dir string, tty bool, args ...string) (string, string, int) {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	streams.OutTTY = tty
	streams.NoColor = true
	all := append([]string{"-f", dir, "check", "--timeout", "60s"}, args...)
	code := cmd.Main(all, streams)
	return out.String(), errOut.String(), code
}

type jsonReport struct {
	Clusters []struct {
		Name   string `json:"name"`
		Checks []struct {
			Name     string          `json:"name"`
			Status   string          `json:"status"`
			Findings []check.Finding `json:"findings"`
			Details  json.RawMessage `json:"details"`
		} `json:"checks"`
	} `json:"clusters"`
	Summary struct {
		Clusters, Pass, Warn, Fail, Skip int
		Status                           string
		Sizing                           *check.FleetSizing
	} `json:"summary"`
}

func (r *jsonReport) grid() map[string]map[string]string {
	g := map[string]map[string]string{}
	for _, c := range r.Clusters {
		g[c.Name] = map[string]string{}
		for _, ch := range c.Checks {
			g[c.Name][ch.Name] = ch.Status
		}
	}
	return g
}

func (r *jsonReport) findings(cluster, name string) []check.Finding {
	for _, c := range r.Clusters {
		for _, ch := range c.Checks {
			if c.Name == cluster && ch.Name == name {
				return ch.Findings
			}
		}
	}
	return nil
}

// hasFinding reports whether a finding of the severity contains every part.
func hasFinding(fs []check.Finding, sev check.Severity, parts ...string) bool {
	for _, f := range fs {
		if f.Severity != sev {
			continue
		}
		ok := true
		for _, p := range parts {
			if !strings.Contains(f.Message, p) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// wantGrid is every cluster's status per check in the scenario.
var wantGrid = map[string]map[string]string{
	"east": {
		check.Connectivity: "pass", check.GatewayInstall: "fail", check.ConfigStatus: "fail", check.Drift: "fail",
		check.ServicePresence: "fail", check.FailoverReadiness: "fail", check.FailoverTrust: "pass", check.Sizing: "warn",
	},
	"west": {
		check.Connectivity: "pass", check.GatewayInstall: "pass", check.ConfigStatus: "pass", check.Drift: "pass",
		check.ServicePresence: "pass", check.FailoverReadiness: "pass", check.FailoverTrust: "pass", check.Sizing: "pass",
	},
	"north": {
		check.Connectivity: "pass", check.GatewayInstall: "fail", check.ConfigStatus: "pass", check.Drift: "fail",
		check.ServicePresence: "skip", check.FailoverReadiness: "fail", check.FailoverTrust: "pass", check.Sizing: "warn",
	},
}

func TestCheckFleetJSON(t *testing.T) {
	s := setupScenario(t)
	out, errOut, code := runCheck(t, s, false, "-o", "json")
	if code != 1 {
		t.Fatalf("exit status %d, want 1 (checks failed)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	got := rep.grid()
	for cluster, checks := range wantGrid {
		for name, want := range checks {
			if got[cluster][name] != want {
				t.Errorf("%s %s: status %q, want %q; findings: %+v", cluster, name, got[cluster][name], want, rep.findings(cluster, name))
			}
		}
	}
	if rep.Summary.Status != "fail" || rep.Summary.Clusters != 3 || rep.Summary.Pass+rep.Summary.Warn+rep.Summary.Fail+rep.Summary.Skip != 24 {
		t.Errorf("summary %+v, want status fail over 3 clusters and 24 checks", rep.Summary)
	}

	finds := []struct {
		cluster, check string
		sev            check.Severity
		parts          []string
	}{
		// A Rejected object (Gloo state as a string) with its reason; the Accepted ones are counted.
		{"east", check.ConfigStatus, check.Failure, []string{"VirtualService gloo-system/gatefed-shop-web is rejected", "already used by VirtualService gloo-system/legacy"}},
		{"east", check.ConfigStatus, check.Info, []string{"6 objects managed: 5 accepted, 1 rejected"}},
		// Gloo's Warning state (a number) is accepted, with its reason as a warning.
		{"east", check.ConfigStatus, check.Warning, []string{"Upstream gloo-system/gatefed-local-shop-ledger is accepted with warnings: upstream has no healthy endpoints"}},
		// A Deployment not Available.
		{"east", check.GatewayInstall, check.Failure, []string{"the gateway proxy (Deployment gloo-system/gateway-proxy) is not Available (MinimumReplicasUnavailable)"}},
		{"east", check.GatewayInstall, check.Info, []string{"Gloo's control plane is Available"}},
		// An object changed out of band, and who changed it.
		{"east", check.Drift, check.Failure, []string{"Upstream gloo-system/gatefed-shop-checkout was changed out of band", `"kubectl-edit"`}},
		// A Service with no ready endpoints.
		{"east", check.ServicePresence, check.Failure, []string{"Service shop/ledger port 9090 has no ready endpoints (2 not ready)"}},
		{"east", check.ServicePresence, check.Info, []string{"Service shop/checkout port 8080 has 2 ready endpoints"}},
		// A failover endpoint that listens, and a missing failover Secret.
		{"east", check.FailoverReadiness, check.Info, []string{"listening, TLS answered from this host"}},
		{"east", check.FailoverReadiness, check.Failure, []string{"Secret gloo-system/failover-upstream is missing"}},
		{"east", check.FailoverReadiness, check.Info, []string{`exposes port "failover"`}},
		{"east", check.Sizing, check.Warning, []string{"the gateway proxy runs 1 replica"}},
		{"east", check.Sizing, check.Warning, []string{"N-1: if east were lost, GlobalService shop/ledger would have no cluster left to serve traffic entering west"}},
		// Gateway API conditions as Envoy Gateway writes them.
		{"west", check.GatewayInstall, check.Info, []string{"GatewayClass eg is Accepted"}},
		{"west", check.GatewayInstall, check.Info, []string{"Gateway envoy-gateway-system/eg is Programmed"}},
		{"west", check.Drift, check.Info, []string{"in sync"}},
		{"west", check.FailoverReadiness, check.Info, []string{"every failover path (1) has a health signal"}},
		// A cluster started without Gloo's CRDs.
		{"north", check.GatewayInstall, check.Failure, []string{"the gloo CRDs upstreams.gloo.solo.io, virtualservices.gateway.solo.io, gateways.gateway.solo.io are not installed"}},
		{"north", check.Drift, check.Failure, []string{"kinds the API does not serve"}},
		// A failover endpoint that does not listen.
		{"north", check.FailoverReadiness, check.Failure, []string{"not reachable from this host: connection refused"}},
	}
	for _, f := range finds {
		if !hasFinding(rep.findings(f.cluster, f.check), f.sev, f.parts...) {
			t.Errorf("%s %s: no %s finding with %q in %+v", f.cluster, f.check, f.sev, f.parts, rep.findings(f.cluster, f.check))
		}
	}
	// West's config-status counts every object as accepted.
	for _, f := range rep.findings("west", check.ConfigStatus) {
		if f.Severity != check.Info {
			t.Errorf("west config-status: unexpected %s: %s", f.Severity, f.Message)
		}
	}
	// Key material never shows: failover-trust reads the failover Secrets in memory.
	scenarioKeysMu.Lock()
	for _, k := range scenarioKeys {
		if strings.Contains(out, k) {
			t.Error("a failover key appears in the report")
		}
	}
	scenarioKeysMu.Unlock()
	// Sizing details: west's proxy has a 1Gi limit and two replicas.
	var wd check.SizingDetails
	for _, c := range rep.Clusters {
		for _, ch := range c.Checks {
			if c.Name == "west" && ch.Name == check.Sizing {
				if err := json.Unmarshal(ch.Details, &wd); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if wd.ProxyMemoryLimit != 1<<30 || wd.ProxyReplicas != 2 || !wd.LiveRead || wd.EnvoyClusters == 0 {
		t.Errorf("west sizing details %+v: want limit 1Gi, 2 replicas, live, Envoy clusters counted", wd)
	}
	if wd.Endpoints < 3 {
		t.Errorf("west endpoints %d: the 3 ready checkout endpoints are not counted", wd.Endpoints)
	}
	if rep.Summary.Sizing == nil || rep.Summary.Sizing.ConfigBytes == 0 {
		t.Errorf("summary sizing %+v, want the fleet's config bytes", rep.Summary.Sizing)
	}
}

func TestCheckFleetTable(t *testing.T) {
	s := setupScenario(t)
	out, _, code := runCheck(t, s, false)
	if code != 1 {
		t.Fatalf("exit status %d, want 1\n%s", code, out)
	}
	for _, line := range []string{
		"CLUSTER\tconnectivity\tgateway-install\tconfig-status\tdrift\tservice-presence\tfailover-readiness\tfailover-trust\tsizing",
		"east\tpass\tfail\tfail\tfail\tfail\tfail\tpass\twarn",
		"west\tpass\tpass\tpass\tpass\tpass\tpass\tpass\tpass",
		"north\tpass\tfail\tpass\tfail\tskip\tfail\tpass\twarn",
		"SEVERITY\tCLUSTER\tCHECK\tFINDING\tHINT",
		"fail\tnorth\tfailover-readiness\tfailover endpoint 127.0.0.1:",
		"3 clusters, 24 checks: 13 pass, 2 warn, 8 fail, 1 skip",
		"warn\teast\tconfig-status\tUpstream gloo-system/gatefed-local-shop-ledger is accepted with warnings: upstream has no healthy endpoints\t",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("table output lacks %q:\n%s", line, out)
		}
	}
	// Every failure comes with a hint.
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "fail\t") && strings.HasSuffix(l, "\t") {
			t.Errorf("finding without a hint: %q", l)
		}
	}

	// On a terminal: a lipgloss grid, no colour with NO_COLOR.
	out, _, code = runCheck(t, s, true, "--cluster", "west", "--cluster", "north")
	if code != 1 {
		t.Fatalf("tty: exit status %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"╭", "✓ pass", "✗ fail", "- skip", "✗ north · gateway-install:", "→ install Gloo Edge"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour escape codes with NO_COLOR:\n%q", out)
	}
}

func TestCheckExitStatus(t *testing.T) {
	s := setupScenario(t)
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"a healthy cluster", []string{"--cluster", "west"}, 0},
		{"a healthy cluster, strict", []string{"--cluster", "west", "--strict"}, 0},
		{"a healthy cluster, JSON", []string{"--cluster", "west", "-o", "json"}, 0},
		// north without the failing checks has only sizing's warning left.
		{"warnings only", []string{"--cluster", "north", "-x", "gateway-install", "-x", "drift", "-x", "failover-readiness"}, 0},
		{"warnings only, strict", []string{"--cluster", "north", "-x", "gateway-install,drift,failover-readiness", "--strict"}, 1},
		{"warnings only, strict, JSON", []string{"--cluster", "north", "-x", "gateway-install,drift,failover-readiness", "--strict", "-o", "json"}, 1},
		{"a failure", []string{"--cluster", "east", "-x", "sizing"}, 1},
		{"an unknown check", []string{"-x", "latency"}, 2},
		{"an unknown cluster", []string{"--cluster", "south"}, 2},
		{"an unknown output", []string{"-o", "yaml"}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCheck(t, s, false, c.args...)
			if code != c.want {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.want, out, errOut)
			}
			if c.want == 2 && (out != "" || !strings.HasPrefix(errOut, "Error: ")) {
				t.Errorf("bad input: want only an error on stderr, got stdout %q stderr %q", out, errOut)
			}
		})
	}
	// Excluded checks are not in the report.
	out, _, _ := runCheck(t, s, false, "--cluster", "west", "-x", "sizing", "-x", "drift", "-o", "json", "--failover-probe=false")
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if g := rep.grid()["west"]; len(g) != 6 || g[check.Sizing] != "" || g[check.Drift] != "" {
		t.Errorf("with -x sizing -x drift: checks %v", g)
	}
}

func TestCheckWait(t *testing.T) {
	s := setupScenario(t)
	// The failure does not go away: --wait tries again until the time is up,
	// saying so on stderr, and ends with the failure.
	start := time.Now()
	out, errOut, code := runCheck(t, s, false, "--cluster", "north", "-x", "sizing,drift,gateway-install", "--wait", "3s")
	if code != 1 {
		t.Fatalf("exit status %d, want 1\n%s\n%s", code, out, errOut)
	}
	if n := strings.Count(errOut, "check: attempt "); n < 2 {
		t.Errorf("%d progress lines, want at least 2:\n%s", n, errOut)
	}
	if !strings.Contains(errOut, "north/failover-readiness") {
		t.Errorf("progress does not name the failing check:\n%s", errOut)
	}
	if time.Since(start) < 3*time.Second {
		t.Errorf("gave up after %s, before --wait 3s", time.Since(start))
	}
	// A passing cluster ends at once, with no progress.
	out, errOut, code = runCheck(t, s, false, "--cluster", "west", "--wait", "1m")
	if code != 0 || strings.Contains(errOut, "attempt") {
		t.Errorf("west with --wait: exit %d, stderr %q\n%s", code, errOut, out)
	}
}

// TestCheckStoppedCluster stops north, checks, and starts it again.
func TestCheckStoppedCluster(t *testing.T) {
	s := setupScenario(t)
	if err := s.tf.StopCluster("north"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := s.tf.StartCluster(ctx, "north"); err != nil {
			t.Errorf("restart north: %v", err)
		}
	}()
	out, errOut, code := runCheck(t, s, false, "--cluster", "north", "--cluster", "west", "-o", "json")
	if code != 1 {
		t.Fatalf("exit status %d, want 1\n%s\n%s", code, out, errOut)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		check.Connectivity: "fail", check.GatewayInstall: "skip", check.ConfigStatus: "skip", check.Drift: "skip",
		check.ServicePresence: "skip", check.FailoverReadiness: "fail", check.FailoverTrust: "skip", check.Sizing: "warn",
	}
	got := rep.grid()
	for name, w := range want {
		if got["north"][name] != w {
			t.Errorf("stopped north %s: %q, want %q (%+v)", name, got["north"][name], w, rep.findings("north", name))
		}
	}
	if got["west"][check.Connectivity] != "pass" {
		t.Errorf("west is still up: connectivity %q", got["west"][check.Connectivity])
	}
	if !hasFinding(rep.findings("north", check.Connectivity), check.Failure, `API server of context "north" is not reachable`) {
		t.Errorf("connectivity findings %+v", rep.findings("north", check.Connectivity))
	}
	if !hasFinding(rep.findings("north", check.Sizing), check.Info, "figures come from the render alone") {
		t.Errorf("sizing findings %+v", rep.findings("north", check.Sizing))
	}

	// The table shows the same.
	out, _, code = runCheck(t, s, false, "--cluster", "north")
	if code != 1 || !strings.Contains(out, "north\tfail\tskip\tskip\tskip\tskip\tfail\tskip\twarn") {
		t.Errorf("table for stopped north (exit %d):\n%s", code, out)
	}
}

// TestCheckLeastPrivilege checks west (envoy-gateway) and east (gloo) as
// the service accounts gatefed cluster register creates would, each with
// its provider's rules (cluster.PermissionsFor): every check but drift ends
// as it does for an admin, and nothing is forbidden but sizing's
// cluster-wide lists. gloo's rules hold no Gateway API read: its checks
// read none.
func TestCheckLeastPrivilege(t *testing.T) {
	s := setupScenario(t)
	const user = "gatefed-checker"
	grantRegistered(t, s.tf.Cluster("west").Sim().Kube, user, envoygateway.Name, "envoy-gateway-system", "shop")
	grantRegistered(t, s.tf.Cluster("east").Sim().Kube, user, gloo.Name, "gloo-system", "shop")
	kubeconfig, err := s.tf.FleetUserKubeconfig(user)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(s.dir, "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fleet.yaml"), []byte(strings.ReplaceAll(string(doc), s.tf.Kubeconfig, kubeconfig)), 0o644); err != nil {
		t.Fatal(err)
	}
	// drift needs what gatefed diff needs (docs/apply.md), which lists every
	// ApplySet kind in every ApplySet namespace: not covered here.
	out, errOut, code := runCheckIn(t, dir, false, "--cluster", "west", "--cluster", "east", "-x", "drift", "-o", "json", "--failover-probe=false")
	if code != 1 {
		t.Fatalf("exit status %d, want 1 (east fails as it does for an admin)\n%s\n%s", code, out, errOut)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"west", "east"} {
		if len(rep.grid()[c]) != 7 {
			t.Errorf("%s: checks %v, want every check but drift", c, rep.grid()[c])
		}
		for name, st := range rep.grid()[c] {
			if st != wantGrid[c][name] {
				t.Errorf("%s %s: %s, want %s: %+v", c, name, st, wantGrid[c][name], rep.findings(c, name))
			}
		}
		for _, f := range forbiddenFindings(&rep, c) {
			t.Errorf("%s: a read was forbidden: %+v", c, f)
		}
	}
	// Routes of other namespaces cannot be listed: sizing says what it counted.
	if !hasFinding(rep.findings("west", check.Sizing), check.Info, "listing them cluster-wide is forbidden", "HTTPRoute.gateway.networking.k8s.io (in envoy-gateway-system)") {
		t.Errorf("sizing does not say it counted some kinds in some namespaces only: %+v", rep.findings("west", check.Sizing))
	}
	for _, r := range cluster.PermissionsFor(gloo.Name).Cluster {
		if slices.Contains(r.APIGroups, "gateway.networking.k8s.io") {
			t.Errorf("gloo's ClusterRole reads the Gateway API: %+v", r)
		}
	}
}

// grantRegistered binds user to the rules cluster register grants a
// provider's service account: the ClusterRole, and the Roles of the gateway
// namespace and of each service namespace (when it has rules there).
func grantRegistered(t *testing.T, kc kubernetes.Interface, user, providerName, gatewayNamespace string, serviceNamespaces ...string) {
	t.Helper()
	ctx := context.Background()
	perms := cluster.PermissionsFor(providerName)
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	if _, err := kc.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: perms.Cluster}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	grantRole(t, ctx, kc, user, gatewayNamespace, perms.GatewayNamespace)
	if len(perms.ServiceNamespace) > 0 {
		for _, ns := range serviceNamespaces {
			grantRole(t, ctx, kc, user, ns, perms.ServiceNamespace)
		}
	}
}

// forbiddenFindings are a cluster's findings that say a read was
// forbidden, but sizing's note that it counted the kinds it may not list
// cluster-wide where gatefed manages them.
func forbiddenFindings(rep *jsonReport, clusterName string) []check.Finding {
	var out []check.Finding
	for _, c := range rep.Clusters {
		if c.Name != clusterName {
			continue
		}
		for _, ch := range c.Checks {
			for _, f := range ch.Findings {
				if strings.Contains(f.Message, "listing them cluster-wide is forbidden") {
					continue
				}
				if strings.Contains(strings.ToLower(f.Message+" "+f.Hint), "forbidden") || strings.Contains(f.Hint, "the identity in the kubeconfig needs") {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// Differ is used as the CLI uses it; a check without one skips drift.
func TestCheckWithoutDiffer(t *testing.T) {
	s := setupScenario(t)
	f, err := fleet.Load([]string{s.dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := check.Run(context.Background(), f, check.Options{Clusters: []string{"west"}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Clusters[0].Check(check.Drift); r.Status != check.Skip {
		t.Errorf("drift without a Differ: %s %+v", r.Status, r.Findings)
	}
	rep, err = check.Run(context.Background(), f, check.Options{Clusters: []string{"west"}, Timeout: time.Minute,
		Differ: applydiff.Differ{CacheDir: filepath.Join(tmpRoot, "cache", "differ")}})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Clusters[0].Check(check.Drift); r.Status != check.Pass {
		t.Errorf("drift with the apply Differ: %s %+v", r.Status, r.Findings)
	}
}

// A run reads each list and object once per cluster: drift takes the run's
// connection, resolved kinds and lists instead of reading them again.
func TestCheckReadsOnce(t *testing.T) {
	s := setupScenario(t)
	f, err := fleet.Load([]string{s.dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	reads := map[string]int{}
	count := func(cluster string, rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodGet {
				q := req.URL.Query()
				q.Del("timeout")
				mu.Lock()
				reads[cluster+" "+req.URL.Path+"?"+q.Encode()]++
				mu.Unlock()
			}
			return rt.RoundTrip(req)
		})
	}
	rep, err := check.Run(context.Background(), f, check.Options{Clusters: []string{"east", "west"}, Timeout: time.Minute,
		WrapTransport: count, Differ: applydiff.Differ{CacheDir: filepath.Join(tmpRoot, "cache", "reads-once")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Clusters {
		if r := c.Check(check.Drift); r.Status == check.Skip || hasFinding(r.Findings, check.Failure, "could not compare") {
			t.Errorf("%s: drift did not run: %+v", c.Name, r.Findings)
		}
	}
	// Config-status, sizing and drift all read the rendered kinds: one list each.
	lists := map[string]int{}
	for req, n := range reads {
		if n > 1 {
			t.Errorf("read %d times: %s", n, req)
		}
		path, _, _ := strings.Cut(req, "?")
		if strings.HasSuffix(path, "/upstreams") || strings.HasSuffix(path, "/httproutes") {
			lists[strings.Fields(req)[0]] += n
		}
	}
	if lists["east"] != 1 || lists["west"] != 1 {
		t.Errorf("want one list of upstreams (east) and of httproutes (west), got %v:\n%v", lists, reads)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
