package render_test

import (
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
)

// writeBenchFleet writes a fleet of n clusters (half gloo, half
// envoy-gateway, ten regions of three zones, every one a failover target) and
// m services, each running in three clusters with locality failover, routed by
// m/10 routes of ten rules served on every cluster.
func writeBenchFleet(tb testing.TB, n, m int) string {
	docs := make([]fleettest.Doc, 0, n+m+m/10)
	for i := 0; i < n; i++ {
		provider := "gloo"
		if i%2 == 1 {
			provider = "envoy-gateway"
		}
		docs = append(docs, fleettest.Cluster(fmt.Sprintf("c%03d", i), provider).Region(fmt.Sprintf("r%d", i%10)).
			Zone(fmt.Sprintf("r%d-z%d", i%10, i%3)).Failover(fmt.Sprintf("10.%d.%d.1", i/250, i%250), 0))
	}
	for j := 0; j < m; j++ {
		docs = append(docs, fleettest.Service(fmt.Sprintf("ns%d", j%10), fmt.Sprintf("s%04d", j), 8080).
			On(fmt.Sprintf("c%03d", j%n), fmt.Sprintf("c%03d", (j+7)%n), fmt.Sprintf("c%03d", (j+31)%n)).HealthCheck())
	}
	for r := 0; r < m/10; r++ {
		route := fleettest.Route(fmt.Sprintf("ns%d", r%10), fmt.Sprintf("r%03d", r), fmt.Sprintf("r%03d.example.com", r))
		for k := 0; k < 10; k++ {
			j := r*10 + k
			route.Rule(fmt.Sprintf("match: {pathPrefix: /s%04d}", j), "backends: "+fleettest.Backends(fmt.Sprintf("ns%d/s%04d", j%10, j)))
		}
		docs = append(docs, route)
	}
	return fleettest.Write(tb, tb.TempDir(), fleettest.YAML(docs...))
}

// BenchmarkRender loads, validates and renders fleets of growing size the
// way gatefed render does: cluster by cluster, in parallel, without holding
// the whole fleet's objects, with the binary's garbage collector target
// (render.GCPercent) unless GOGC is set.
// peak-MB is the largest heap in use seen while it ran; objects is the
// number of rendered objects.
func BenchmarkRender(b *testing.B) {
	b.Cleanup(render.UseBinaryGC())
	for _, size := range []struct{ clusters, services int }{
		{100, 250}, {100, 500}, {25, 1000}, {50, 1000}, {100, 1000},
	} {
		b.Run(fmt.Sprintf("clusters=%d/services=%d", size.clusters, size.services), func(b *testing.B) {
			path := writeBenchFleet(b, size.clusters, size.services)
			runtime.GC()
			var peak atomic.Uint64
			done := make(chan struct{})
			go samplePeak(&peak, done)
			objects := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f, err := fleet.Load([]string{path}, nil)
				if err != nil {
					b.Fatal(err)
				}
				objects = 0
				err = render.Each(f, render.Options{}, func(c *render.ClusterOutput) error {
					objects += len(c.Objects)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			close(done)
			b.ReportMetric(float64(peak.Load())/1e6, "peak-MB")
			b.ReportMetric(float64(objects), "objects")
		})
	}
}

// BenchmarkRenderYAML adds writing the YAML stream to rendering.
func BenchmarkRenderYAML(b *testing.B) {
	b.Cleanup(render.UseBinaryGC())
	path := writeBenchFleet(b, 100, 1000)
	for i := 0; i < b.N; i++ {
		f, err := fleet.Load([]string{path}, nil)
		if err != nil {
			b.Fatal(err)
		}
		w := render.NewYAMLWriter(io.Discard)
		if err := render.Each(f, render.Options{}, w.Write); err != nil {
			b.Fatal(err)
		}
	}
}

func samplePeak(peak *atomic.Uint64, done <-chan struct{}) {
	var ms runtime.MemStats
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}
