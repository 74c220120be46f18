package render_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// writeBenchFleet writes a fleet of n clusters (half gloo, half
// envoy-gateway, ten regions of three zones, every one a failover target) and
// m services, each running in three clusters with locality failover, routed by
// m/10 routes of ten rules served on every cluster.
func writeBenchFleet(tb testing.TB, n, m int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		provider := "gloo"
		if i%2 == 1 {
			provider = "envoy-gateway"
		}
		fmt.Fprintf(&b, "apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: c%03d}\nspec:\n  region: r%d\n  zone: r%d-z%d\n  gateway: {provider: %s}\n  failover: {address: 10.%d.%d.1}\n---\n",
			i, i%10, i%10, i%3, provider, i/250, i%250)
	}
	for j := 0; j < m; j++ {
		fmt.Fprintf(&b, "apiVersion: gatefed.dev/v1alpha1\nkind: GlobalService\nmetadata: {name: s%04d, namespace: ns%d}\nspec:\n  port: 8080\n  clusters: {names: [c%03d, c%03d, c%03d]}\n  healthCheck: {path: /healthz, interval: 5s, timeout: 1s}\n---\n",
			j, j%10, j%n, (j+7)%n, (j+31)%n)
	}
	for r := 0; r < m/10; r++ {
		fmt.Fprintf(&b, "apiVersion: gatefed.dev/v1alpha1\nkind: GlobalRoute\nmetadata: {name: r%03d, namespace: ns%d}\nspec:\n  hosts: [r%03d.example.com]\n  rules:\n", r, r%10, r)
		for k := 0; k < 10; k++ {
			j := r*10 + k
			fmt.Fprintf(&b, "  - match: {pathPrefix: /s%04d}\n    backends: [{service: ns%d/s%04d}]\n", j, j%10, j)
		}
		b.WriteString("---\n")
	}
	path := filepath.Join(tb.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
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
