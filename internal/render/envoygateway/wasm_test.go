package envoygateway_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/status"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// emptyWasm is the smallest valid WebAssembly module: magic number and version.
var emptyWasm = []byte("\x00asm\x01\x00\x00\x00")

// moduleServer serves emptyWasm over HTTPS at /filters/ok.wasm with a
// certificate of ca, counting the downloads.
func moduleServer(t *testing.T, ca *localfleet.CertAuthority) (url string, fetches *atomic.Int32) {
	t.Helper()
	cert, key, err := ca.ServerCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	fetches = &atomic.Int32{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/filters/ok.wasm" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		_, _ = w.Write(emptyWasm)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL + "/filters/ok.wasm", fetches
}

// wasmFleet is one envoy-gateway cluster serving shop.example.com with a
// GlobalExtension on the route, its module at url pinned by digest.
func wasmFleet(t *testing.T, url, digest string) *fleet.Fleet {
	t.Helper()
	doc := `apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: eg-west}
spec:
  gateway: {provider: envoy-gateway}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: web, namespace: shop}
spec: {port: 80}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalRoute
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop.example.com]
  rules:
  - backends: [{service: web}]
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalExtension
metadata: {name: greeter, namespace: shop}
spec:
  wasm:
    url: "` + url + `"
    sha256: "` + digest + `"
    config: {greeting: hello}
  routes: [shop]
`
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := fleet.Load([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestEnvoyGatewayControllerRunsWasm applies a GlobalExtension's
// EnvoyExtensionPolicy to a cluster the real Envoy Gateway controller
// watches, with the module served over HTTPS from this test. With the right
// digest the controller fetches the module, accepts the policy and puts the
// Wasm filter, pinned by the module's sha256, on the route in the proxy's
// Envoy configuration. With a wrong digest it refuses the policy, and
// status.Of (what check config-status and apply --wait read) says Rejected.
func TestEnvoyGatewayControllerRunsWasm(t *testing.T) {
	ca, err := localfleet.NewCertAuthority("wasm-modules")
	if err != nil {
		t.Fatal(err)
	}
	url, fetches := moduleServer(t, ca)
	sum := sha256.Sum256(emptyWasm)
	digest := hex.EncodeToString(sum[:])

	tf := testfleet.StartT(t, localfleet.Options{Count: 1})
	tc := tf.Clusters[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // includes waiting for the one controller per machine
	defer cancel()
	eg, err := tc.StartEnvoyGatewayWith(ctx, testfleet.EnvoyGatewayOptions{TrustedCAs: ca.CertPEM()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := eg.Stop(); err != nil {
			t.Error(err)
		}
	})
	live := newLiveCluster(t, tc)

	apply := func(f *fleet.Fleet) (*unstructured.Unstructured, *render.ClusterInput) {
		res, err := render.Render(f, render.Options{})
		if err != nil {
			t.Fatal(err)
		}
		in := render.Input(f, res.Clusters[0].Cluster, nil)
		var eep *unstructured.Unstructured
		for _, o := range res.Clusters[0].Objects {
			live.apply(ctx, o.Object)
			if o.GetKind() == "EnvoyExtensionPolicy" {
				eep = o
			}
		}
		if eep == nil {
			t.Fatal("no EnvoyExtensionPolicy rendered")
		}
		return eep, in
	}
	// verdict waits for the controller's verdict on the policy's current generation.
	verdict := func(eep *unstructured.Unstructured) (*unstructured.Unstructured, status.Result) {
		gvr := live.gvr(eep.GetAPIVersion(), eep.GetKind())
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got, err := live.sim.Dynamic.Resource(gvr).Namespace(eep.GetNamespace()).Get(ctx, eep.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r := status.Of(got); r.State != status.Pending {
				return got, r
			}
			if time.Now().After(deadline) {
				t.Fatalf("no verdict on %s %s: %v\nlog: %s", eep.GetKind(), eep.GetName(), got.Object["status"], eg.LogPath)
			}
			time.Sleep(time.Second)
		}
	}

	f := wasmFleet(t, url, digest)
	in := render.Input(f, f.Clusters[0], nil)
	w := newEGWorld(t, f, in, ca)
	live.install(ctx, w)
	eep, _ := apply(f)
	live.waitForVerdicts(ctx, nil, eg, in.Cluster)

	got, r := verdict(eep)
	if r.State != status.Accepted {
		t.Fatalf("EnvoyExtensionPolicy with the module's digest: %s (%s), want Accepted\nstatus: %v", r.State, r.Reason, got.Object["status"])
	}
	if fetches.Load() == 0 {
		t.Errorf("the controller never fetched the module from %s", url)
	}
	filter := "envoy.filters.http.wasm/envoyextensionpolicy/" + eep.GetNamespace() + "/" + eep.GetName() + "/wasm/0"
	var wasm, route map[string]any
	deadline := time.Now().Add(2 * time.Minute)
	for wasm == nil || route == nil {
		cfg, err := eg.EnvoyConfig(ctx, in.Cluster.Spec.Gateway.Namespace, in.Cluster.Spec.Gateway.Name)
		if err != nil {
			t.Fatal(err)
		}
		wasm, route = nil, nil
		for _, l := range cfg["listeners"] {
			walk(l, func(m map[string]any) {
				if m["name"] == filter {
					wasm = m
				}
			})
		}
		for _, rc := range cfg["routes"] {
			for _, vh := range list(rc, "virtualHosts") {
				for _, rt := range list(vh, "routes") {
					if strings.HasPrefix(str(rt, "name"), "httproute/envoy-gateway-system/gatefed-shop-shop/rule/0/") && get(rt, "typedPerFilterConfig", filter) != nil {
						route = rt.(map[string]any)
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Wasm filter %s on the route in the proxy's configuration (filter %v, route %v)\nlog: %s", filter, wasm != nil, route != nil, eg.LogPath)
		}
		time.Sleep(time.Second)
	}
	plugin := get(wasm, "typedConfig", "config")
	if got := str(plugin, "name"); got != "shop/greeter" {
		t.Errorf("Wasm plugin name %q, want shop/greeter", got)
	}
	if got := str(plugin, "vmConfig", "code", "remote", "sha256"); got != digest {
		t.Errorf("Envoy fetches the module pinned to sha256 %q, want %q", got, digest)
	}
	if got := str(plugin, "configuration", "value"); got != `{"greeting":"hello"}` {
		t.Errorf("module configuration %q, want {\"greeting\":\"hello\"}", got)
	}
	if get(plugin, "failOpen") == true {
		t.Errorf("failOpen set, want the default false")
	}
	t.Logf("controller: %s Accepted; filter %s on route %s, module from %s (sha256 %s)", eep.GetName(), filter, str(route, "name"),
		str(plugin, "vmConfig", "code", "remote", "httpUri", "uri"), str(plugin, "vmConfig", "code", "remote", "sha256"))

	// A digest the module does not have.
	wrong := sha256.Sum256([]byte("another module"))
	eep, _ = apply(wasmFleet(t, url, hex.EncodeToString(wrong[:])))
	got, r = verdict(eep)
	if r.State != status.Rejected || !r.Final {
		t.Fatalf("EnvoyExtensionPolicy with a wrong digest: %s (%s), want a final Rejected\nstatus: %v", r.State, r.Reason, got.Object["status"])
	}
	if !strings.Contains(r.Reason, "checksum") {
		t.Errorf("reason %q does not name the checksum", r.Reason)
	}
	t.Logf("controller on a wrong digest: %s", r.Reason)
	// The module is not optional (failOpen false): the route answers 500.
	deadline = time.Now().Add(2 * time.Minute)
	for {
		cfg, err := eg.EnvoyConfig(ctx, in.Cluster.Spec.Gateway.Namespace, in.Cluster.Spec.Gateway.Name)
		if err != nil {
			t.Fatal(err)
		}
		var answer any
		for _, rc := range cfg["routes"] {
			for _, vh := range list(rc, "virtualHosts") {
				for _, rt := range list(vh, "routes") {
					if strings.HasPrefix(str(rt, "name"), "httproute/envoy-gateway-system/gatefed-shop-shop/rule/0/") {
						answer = get(rt, "directResponse", "status")
					}
				}
			}
		}
		if answer == float64(500) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with a wrong digest the route's direct response is %v, want 500", answer)
		}
		time.Sleep(time.Second)
	}
}

// walk calls fn on every mapping in v.
func walk(v any, fn func(map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		fn(t)
		for _, e := range t {
			walk(e, fn)
		}
	case []any:
		for _, e := range t {
			walk(e, fn)
		}
	}
}

// TestEgctlHasNoWasmCache records what egctl x translate does with a
// GlobalExtension's EnvoyExtensionPolicy: having no Wasm module cache, it
// refuses the policy and answers the route with a 500. So the translator
// test leaves these policies out, and TestEnvoyGatewayControllerRunsWasm
// proves them on the real controller.
func TestEgctlHasNoWasmCache(t *testing.T) {
	if err := testfleet.CheckEnvoyGatewayBinaries(); err != nil {
		t.Fatal(err)
	}
	f := wasmFleet(t, "https://modules.example.com/ok.wasm", strings.Repeat("ab", 32))
	res, err := render.Render(f, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := render.Input(f, res.Clusters[0].Cluster, nil)
	ca, err := localfleet.NewCertAuthority("egctl")
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	for _, o := range append(newEGWorld(t, f, in, ca).objects, objectsOf(res.Clusters[0].Objects)...) {
		data, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n" + string(data))
	}
	file := filepath.Join(t.TempDir(), "in.yaml")
	if err := os.WriteFile(file, []byte(buf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testfleet.EgctlBin(), "x", "translate", "--from", "gateway-api", "--to", "gateway-api,xds", "-t", "all", "-o", "json", "-f", file).Output()
	if err != nil {
		t.Fatalf("egctl x translate: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	eeps := list(got, "envoyExtensionPolicies")
	if len(eeps) != 1 {
		t.Fatalf("egctl returned %d EnvoyExtensionPolicies, want 1", len(eeps))
	}
	cond := get(eeps[0], "status", "ancestors", 0, "conditions", 0)
	if str(cond, "type") != "Accepted" || str(cond, "status") != "False" || !strings.Contains(str(cond, "message"), "wasm cache is not initialized") {
		t.Errorf("egctl's verdict on the policy: %v, want Accepted False: wasm cache is not initialized", cond)
	}
	answered := false
	walk(get(got, "xds"), func(m map[string]any) {
		if strings.HasPrefix(str(m, "name"), "httproute/envoy-gateway-system/gatefed-shop-shop/rule/0/match/") && num(m, "directResponse", "status") == 500 {
			answered = true
		}
	})
	if !answered {
		t.Errorf("egctl did not answer the route with a 500")
	}
	t.Logf("egctl: %s: %s", str(cond, "reason"), str(cond, "message"))
}

func objectsOf(objs []*unstructured.Unstructured) []any {
	out := make([]any, len(objs))
	for i, o := range objs {
		out[i] = o.Object
	}
	return out
}
