package check_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/check/applydiff"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// wasmModule is the smallest valid WebAssembly module.
var wasmModule = []byte("\x00asm\x01\x00\x00\x00")

// wasmFleet is the envoy-gateway cluster "eg" serving shop.example.com, with
// a GlobalExtension on the route whose module at url is pinned to digest.
func wasmFleet(kubeconfig, url, digest string) string {
	return fleettest.YAML(
		fleettest.Cluster("eg", "envoy-gateway").Kubeconfig(kubeconfig),
		fleettest.Service("shop", "web", 80).On("eg"),
		fleettest.Route("shop", "shop", "shop.example.com").On("eg").Rule("backends: "+fleettest.Backends("web")),
		fleettest.Raw(`apiVersion: gatefed.dev/v1alpha1
kind: GlobalExtension
metadata: {name: greeter, namespace: shop}
spec:
  wasm: {url: "`+url+`", sha256: "`+digest+`"}
  routes: [shop]
`),
	)
}

// check reports a GlobalExtension whose module the real Envoy Gateway
// controller refuses: with the module's own digest every check passes; with
// a wrong one config-status fails with the controller's reason.
func TestCheckReportsARefusedWasmModule(t *testing.T) {
	ca, err := localfleet.NewCertAuthority("wasm-modules")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.ServerCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(wasmModule) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	url := srv.URL + "/greeter.wasm"

	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{{Name: "eg"}}})
	c := tf.Cluster("eg")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // includes waiting for the one controller per machine
	defer cancel()
	sim := startEnvoyGatewayCluster(ctx, t, c, testfleet.EnvoyGatewayOptions{TrustedCAs: ca.CertPEM()})
	if err := sim.Service(ctx, localfleet.Service{Namespace: "shop", Name: "web", Port: 80, Ready: 1}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	run := func(digest string) *check.ClusterReport {
		t.Helper()
		fleettest.Write(t, dir, wasmFleet(tf.Kubeconfig, url, digest))
		f := fleettest.LoadDir(t, dir)
		res, err := render.Render(f, render.Options{})
		if err != nil {
			t.Fatal(err)
		}
		eng := apply.New(apply.Options{Prune: true, CacheDir: filepath.Join(dir, "cache")})
		p := eng.Plan(ctx, []apply.Target{{Cluster: res.Clusters[0].Cluster, Objects: res.Clusters[0].Objects}})
		if ar := eng.Apply(ctx, p); ar.Failed() {
			t.Fatalf("apply: %+v", ar.Clusters[0])
		}
		if _, err := sim.ProxyInfra(ctx, "192.0.2.10", "envoy-gateway-system/eg"); err != nil {
			t.Fatal(err)
		}
		rep, err := check.RunUntil(ctx, f, check.Options{
			Clusters: []string{"eg"}, Timeout: time.Minute,
			Exclude: []string{check.FailoverReadiness, check.FailoverTrust, check.Sizing},
			Differ:  applydiff.Differ{CacheDir: filepath.Join(dir, "differ")},
		}, time.Minute, false, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Clusters[0]
	}

	sum := sha256.Sum256(wasmModule)
	cr := run(hex.EncodeToString(sum[:]))
	for _, r := range cr.Checks {
		if r.Status != check.Pass {
			t.Errorf("with the module's digest: %s: %s %+v", r.Name, r.Status, r.Findings)
		}
	}

	wrong := sha256.Sum256([]byte("another module"))
	cr = run(hex.EncodeToString(wrong[:]))
	r := cr.Check(check.ConfigStatus)
	var msg string
	for _, fd := range r.Findings {
		if fd.Severity == check.Failure && strings.Contains(fd.Message, "EnvoyExtensionPolicy envoy-gateway-system/gatefed-shop-shop is rejected") &&
			strings.Contains(fd.Message, "which does not match: "+hex.EncodeToString(wrong[:])) {
			msg = fd.Message
		}
	}
	if r.Status != check.Fail || msg == "" {
		t.Fatalf("config-status with a wrong module digest: %s %+v", r.Status, r.Findings)
	}
	t.Logf("config-status: %s", msg)
}
