package fleet

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// memoryBound is the most heap a hostile input may make loading use. A fleet
// file of a few kilobytes that expands to gigabytes fails it.
const memoryBound = 1 << 30

// measure runs fn and returns the peak heap in use while it ran (sampled)
// and the bytes it allocated in all.
func measure(fn func()) (peak, allocated uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return max(peak, after.HeapInuse), after.TotalAlloc - before.TotalAlloc
}

// aliasBomb is a "billion laughs": ten levels of ten aliases each, 10^9
// strings if expanded, under keys the decoder does not know.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: bomb}\nspec: {gateway: {provider: gloo}}\n")
	b.WriteString("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// typedAliasBomb aims the aliases at fields the decoder does fill: n rules
// that are each an alias of one rule with n aliased backends, n*n backends
// from some 10n bytes.
func typedAliasBomb(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: c}\nspec: {gateway: {provider: gloo}}\n---\n")
	b.WriteString("apiVersion: gatefed.dev/v1alpha1\nkind: GlobalService\nmetadata: {name: s}\nspec: {port: 80}\n---\n")
	b.WriteString("apiVersion: gatefed.dev/v1alpha1\nkind: GlobalRoute\nmetadata: {name: r}\nspec:\n  hosts: [r.example.com]\n  rules:\n")
	b.WriteString("  - &rule\n    backends:\n    - &b {service: s}\n")
	for i := 1; i < n; i++ {
		b.WriteString("    - *b\n")
	}
	for i := 1; i < n; i++ {
		b.WriteString("  - *rule\n")
	}
	return b.String()
}

// deepNesting nests flow lists depth levels deep under a known field.
func deepNesting(depth int) string {
	return "apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: deep}\nspec:\n  gateway: " +
		strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n"
}

// deepFlowMappings nests flow mappings depth levels deep.
func deepFlowMappings(depth int) string {
	return "apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: deep}\nspec:\n  gateway: " +
		strings.Repeat("{a: ", depth) + "x" + strings.Repeat("}", depth) + "\n"
}

// deepBlockLists nests block lists depth levels deep ("- - - x").
func deepBlockLists(depth int) string {
	return "apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: deep}\nspec:\n  gateway:\n    " +
		strings.Repeat("- ", depth) + "x\n"
}

// manyDocuments is n Cluster documents, all valid.
func manyDocuments(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "---\napiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: c%04d}\nspec:\n  gateway: {provider: gloo}\n  failover: {address: c%04d.example.net}\n", i, i)
	}
	return b.String()
}

// TestHostileYAMLStaysBounded loads inputs built to exhaust a YAML loader's
// memory or time. Each must end in an error naming the file (or, for many
// documents, load) without the heap growing past memoryBound.
func TestHostileYAMLStaysBounded(t *testing.T) {
	scalar := func(size int) func() string {
		return func() string {
			return "apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: big}\nspec:\n  gateway: {provider: gloo}\n  region: " + strings.Repeat("x", size) + "\n"
		}
	}
	for _, tc := range []struct {
		name     string
		input    func() string
		clusters int // a valid fleet of that many clusters; 0: the input must fail to load
	}{
		{"alias bomb", aliasBomb, 0},
		{"alias bomb in typed fields", func() string { return typedAliasBomb(3000) }, 0},
		{"alias bombs in many documents", func() string { return strings.Repeat(typedAliasBomb(100)+"\n---\n", 500) }, 0},
		{"10000 nested flow lists", func() string { return deepNesting(10000) }, 0},
		{"10000 nested flow mappings", func() string { return deepFlowMappings(10000) }, 0},
		{"10000 nested block lists", func() string { return deepBlockLists(10000) }, 0},
		{"50 MB scalar", scalar(50 << 20), 0},
		{"50 MB key", func() string {
			return "apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: big}\nspec:\n  gateway: {provider: gloo}\n  " + strings.Repeat("x", 50<<20) + ": 1\n"
		}, 0},
		{"15 MB scalar", scalar(15 << 20), 1},
		{"5000 documents", func() string { return manyDocuments(5000) }, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hostile.yaml")
			if err := os.WriteFile(path, []byte(tc.input()), 0o644); err != nil {
				t.Fatal(err)
			}
			var fl *Fleet
			var err error
			peak, allocated := measure(func() { fl, err = Load([]string{path}, nil) })
			t.Logf("peak heap %d MiB, allocated %d MiB", peak>>20, allocated>>20)
			if peak > memoryBound {
				t.Errorf("peak heap %d MiB, want under %d MiB", peak>>20, memoryBound>>20)
			}
			if tc.clusters > 0 {
				if err != nil {
					t.Fatalf("want a fleet, got %.500v", err)
				}
				if len(fl.Clusters) != tc.clusters {
					t.Fatalf("got %d clusters, want %d", len(fl.Clusters), tc.clusters)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("want fleet errors, got %T %.500v", err, err)
			}
			for _, e := range errs {
				if e.File != path || e.Line < 1 {
					t.Fatalf("error without file and line: %.500v", e)
				}
			}
			t.Logf("%d errors, first: %.300s", len(errs), errs[0].Error())
		})
	}
}

// TestStdinIsBounded reads no more than MaxFileSize from standard input.
func TestStdinIsBounded(t *testing.T) {
	_, err := Load([]string{"-"}, io.LimitReader(zeros{}, 1<<40))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != "-" || !strings.Contains(errs[0].Message, "16 MiB") {
		t.Fatalf("got %v", err)
	}
}

// zeros reads as newlines forever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '\n'
	}
	return len(p), nil
}

// TestAliasesWithinTheLimitLoad keeps the ordinary use of an alias working.
func TestAliasesWithinTheLimitLoad(t *testing.T) {
	in := "apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: a, labels: &l {tier: gold}, annotations: *l}\nspec: {gateway: {provider: gloo}}\n"
	fl, err := Load([]string{"-"}, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := fl.Clusters[0].Metadata.Annotations["tier"]; got != "gold" {
		t.Fatalf("annotation tier = %q", got)
	}
}
