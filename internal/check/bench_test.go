package check_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/check/applydiff"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// benchServices and benchRoutes size each cluster of the benchmark fleet.
const (
	benchClusters = 5
	benchServices = 10
	benchRoutes   = 5
)

// benchFleet writes a fleet of benchClusters healthy Gloo clusters, b1..bN
// on the test fleet's contexts c1..cN: every service runs everywhere and
// fails over by locality, every route is served everywhere, every cluster is
// a failover target listening on its own loopback TLS port.
func benchFleet(kubeconfig string, ports []int) string {
	var docs []fleettest.Doc
	for i, p := range ports {
		docs = append(docs, fleettest.Cluster(fmt.Sprintf("b%d", i+1), "gloo").Kubeconfig(kubeconfig).
			Context(fmt.Sprintf("c%d", i+1)).Region(fmt.Sprintf("r%d", i%2)).Failover("127.0.0.1", p))
	}
	for s := range benchServices {
		docs = append(docs, fleettest.Service("shop", fmt.Sprintf("svc%d", s), 8080).Spec("outlierDetection", "{consecutive5xx: 5}"))
	}
	for r := range benchRoutes {
		docs = append(docs, fleettest.Route("shop", fmt.Sprintf("route%d", r), fmt.Sprintf("r%d.example.com", r)).
			Rule("match: {pathPrefix: /a}", "backends: "+fleettest.Backends(fmt.Sprintf("svc%d", (2*r)%benchServices))).
			Rule("match: {pathPrefix: /b}", "backends: "+fleettest.Backends(fmt.Sprintf("svc%d", (2*r+1)%benchServices))))
	}
	return fleettest.YAML(docs...)
}

// setupBenchFleet starts benchClusters clusters and brings each to the
// state a healthy Gloo installation reports.
func setupBenchFleet(b *testing.B) *fleet.Fleet {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tf := testfleet.StartT(b, localfleet.Options{Count: benchClusters})
	var ports []int
	for range benchClusters {
		ln, err := check.NewTLSListener(true)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	f := fleettest.Load(b, benchFleet(tf.Kubeconfig, ports))
	res, err := render.Render(f, render.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i, c := range tf.Clusters {
		sim := c.Sim()
		for _, ns := range []string{"gloo-system", "shop"} {
			if err := sim.EnsureNamespace(ctx, ns); err != nil {
				b.Fatal(err)
			}
		}
		// Failover needs Gloo Edge Enterprise, told by the gloo Deployment's image.
		images := map[string]string{"gloo": "quay.io/solo-io/gloo-ee:1.22.0"}
		for _, d := range []string{"gloo", "gateway-proxy"} {
			if err := sim.Deployment(ctx, localfleet.Deployment{Namespace: "gloo-system", Name: d, Replicas: 2, Available: true, Image: images[d]}); err != nil {
				b.Fatal(err)
			}
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "gloo-system", Name: "gateway-proxy"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "gateway-proxy"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: check.FailoverPortName, Port: int32(ports[i])}}},
		}
		if _, err := sim.Kube.CoreV1().Services("gloo-system").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		for s := range benchServices {
			if err := sim.Service(ctx, localfleet.Service{Namespace: "shop", Name: fmt.Sprintf("svc%d", s), Port: 8080, Ready: 3}); err != nil {
				b.Fatal(err)
			}
		}
		for _, name := range []string{render.FailoverUpstreamSecret, render.FailoverDownstreamSecret} {
			if err := createSecret(ctx, sim, "gloo-system", name); err != nil {
				b.Fatal(err)
			}
		}
	}
	eng := apply.New(apply.Options{Prune: true, CacheDir: b.TempDir()})
	var targets []apply.Target
	for _, c := range res.Clusters {
		targets = append(targets, apply.Target{Cluster: c.Cluster, Objects: c.Objects})
	}
	if ar := eng.Apply(ctx, eng.Plan(ctx, targets)); ar.Failed() {
		b.Fatalf("apply the bench fleet: %+v", ar.Clusters)
	}
	for i, c := range res.Clusters {
		sim := tf.Clusters[i].Sim()
		for _, o := range c.Objects {
			gvr := testfleet.UpstreamGVR
			switch o.GetKind() {
			case "VirtualService":
				gvr = testfleet.VirtualServiceGVR
			case "Gateway":
				gvr = testfleet.GlooGatewayGVR
			}
			if err := sim.GlooStatus(ctx, gvr, o.GetNamespace(), o.GetName(), testfleet.GlooStatus{State: gloo.StateAccepted}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return f
}

// BenchmarkCheck checks one cluster, then all five, with every check. The
// clusters and their checks run in parallel, so five should take about as
// long as one: compare the ns/op of clusters=1 and clusters=5.
//
// "local" talks to the loopback API servers as they are: every request
// costs only CPU, which the API servers and this process share. "rtt=20ms"
// delays every request by a round trip, as clusters in other zones or
// regions would.
//
// The benchmark runs with the binary's garbage collector target
// (render.UseBinaryGC) unless GOGC is set.
func BenchmarkCheck(b *testing.B) {
	f := setupBenchFleet(b)
	b.Cleanup(render.UseBinaryGC())
	for _, rtt := range []time.Duration{0, 20 * time.Millisecond} {
		network := "local"
		var wrap func(string, http.RoundTripper) http.RoundTripper
		if rtt > 0 {
			network = fmt.Sprintf("rtt=%s", rtt)
			wrap = func(_ string, rt http.RoundTripper) http.RoundTripper { return delayed{rt, rtt} }
		}
		opts := check.Options{Timeout: time.Minute, WrapTransport: wrap,
			Differ: applydiff.Differ{CacheDir: b.TempDir(), WrapTransport: wrap}}
		run := func(b *testing.B, clusters []string) {
			o := opts
			o.Clusters = clusters
			// One run outside the timer fills the discovery cache, as a user's earlier runs would.
			if rep, err := check.Run(context.Background(), f, o); err != nil || rep.Failed() || rep.Warned() {
				b.Fatalf("the bench fleet is not healthy: %v %s", err, reportProblems(rep))
			}
			b.ResetTimer()
			for b.Loop() {
				rep, err := check.Run(context.Background(), f, o)
				if err != nil || rep.Failed() {
					b.Fatalf("check: %v %s", err, reportProblems(rep))
				}
			}
		}
		b.Run(network+"/clusters=1", func(b *testing.B) { run(b, []string{"b1"}) })
		b.Run(fmt.Sprintf("%s/clusters=%d", network, benchClusters), func(b *testing.B) { run(b, nil) })
	}
}

// delayed adds a network round trip to every request.
type delayed struct {
	rt  http.RoundTripper
	rtt time.Duration
}

func (d delayed) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case <-time.After(d.rtt):
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return d.rt.RoundTrip(req)
}

func reportProblems(rep *check.Report) string {
	if rep == nil {
		return ""
	}
	var out []string
	for _, c := range rep.Clusters {
		for _, r := range c.Checks {
			for _, f := range r.Findings {
				if f.Severity != check.Info {
					out = append(out, c.Name+" "+r.Name+": "+f.Message)
				}
			}
		}
	}
	return strings.Join(out, "\n")
}
