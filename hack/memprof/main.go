// Command memprof runs one gatefed command, as the gatefed binary would, and
// records where its memory went: a heap profile taken when the live heap was
// at its largest, and on stderr the peak live heap and the peak resident set.
//
// hack/bench-scale.sh uses it for the heap profiles of apply, diff and check.
//
// Usage: go run ./hack/memprof -heap FILE -- apply -f fleet.yaml --yes
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/render"
)

const liveHeap = "/gc/heap/live:bytes"

func main() {
	heap := flag.String("heap", "", "write the heap profile taken at the largest live heap to this file")
	flag.Parse()
	runtime.MemProfileRate = 64 << 10 // finer than the default 512 KiB
	render.UseBinaryGC()

	done := make(chan struct{})
	peak := make(chan peakHeap)
	go watch(done, peak)
	code := cmd.Main(flag.Args(), iostreams.System())
	close(done)
	p := <-peak
	if *heap != "" && p.profile != nil {
		if err := os.WriteFile(*heap, p.profile, 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "memprof:", err)
		}
	}
	fmt.Fprintf(os.Stderr, "memprof: peak live heap %.1f MB, peak RSS %.1f MB\n", float64(p.bytes)/1e6, float64(peakRSS())/1e6)
	os.Exit(code)
}

type peakHeap struct {
	bytes   uint64
	profile []byte
}

// watch samples the live heap (as of the last GC) every 20ms and keeps a
// heap profile of the largest one seen.
func watch(done <-chan struct{}, out chan<- peakHeap) {
	sample := []metrics.Sample{{Name: liveHeap}}
	var p peakHeap
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			runtime.GC()
			out <- p
			return
		case <-tick.C:
		}
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > p.bytes+p.bytes/20 {
			var buf bytes.Buffer
			if err := pprof.Lookup("heap").WriteTo(&buf, 0); err == nil {
				p = peakHeap{bytes: v, profile: buf.Bytes()}
			}
		}
	}
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func peakRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb uint64
			fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb * 1024
		}
	}
	return 0
}
