package render

import (
	"runtime/debug"
	"testing"
)

func TestFitMemoryLimitOnlyUnderBinaryGC(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)

	FitMemoryLimit(20)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("without UseBinaryGC the limit changed from %d to %d", before, got)
	}

	restore := UseBinaryGC()
	defer restore()
	FitMemoryLimit(20)
	if got, want := debug.SetMemoryLimit(-1), int64(MemoryBase+20*MemoryPerCluster); got != want {
		t.Errorf("limit for 20 clusters %d, want %d", got, want)
	}
	FitMemoryLimit(100)
	if got, want := debug.SetMemoryLimit(-1), int64(MemoryBase+100*MemoryPerCluster); got != want {
		t.Errorf("limit for 100 clusters %d, want %d", got, want)
	}
}
