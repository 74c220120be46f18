package localfleet

import (
	"strings"
	"testing"
)

func TestStartSlots(t *testing.T) {
	gb := func(n uint64) func() (uint64, bool) { return func() (uint64, bool) { return n << 30, true } }
	unknown := func() (uint64, bool) { return 0, false }
	cases := []struct {
		name        string
		n, parallel int
		available   func() (uint64, bool)
		want        int
	}{
		{"memory for all", 5, 0, gb(16), 5},
		{"memory for some", 20, 0, gb(4), 8},
		{"memory for none still starts one", 20, 0, gb(0), 1},
		{"memory unknown: all at once", 20, 0, unknown, 20},
		{"asked for", 20, 3, gb(16), 3},
		{"asked for more than there are", 2, 8, gb(16), 2},
	}
	for _, tc := range cases {
		if got := startSlots(tc.n, tc.parallel, tc.available); got != tc.want {
			t.Errorf("%s: startSlots(%d, %d) = %d, want %d", tc.name, tc.n, tc.parallel, got, tc.want)
		}
	}
}

func TestParseMemAvailable(t *testing.T) {
	got, ok := parseMemAvailable(strings.NewReader("MemTotal:       24576000 kB\nMemFree:         4096000 kB\nMemAvailable:   16085636 kB\n"))
	if !ok || got != 16085636<<10 {
		t.Errorf("got %d, %v; want %d", got, ok, uint64(16085636)<<10)
	}
	if _, ok := parseMemAvailable(strings.NewReader("MemTotal: 1 kB\n")); ok {
		t.Error("no MemAvailable line read as known")
	}
}

func TestCRDInstallSlots(t *testing.T) {
	cases := []struct{ start, cpus, want int }{
		{20, 2, 4}, // two per CPU
		{3, 2, 3},  // never more than start at once
		{20, 16, 20},
		{1, 0, 1}, // at least one
	}
	for _, tc := range cases {
		if got := crdInstallSlots(tc.start, tc.cpus); got != tc.want {
			t.Errorf("crdInstallSlots(%d, %d) = %d, want %d", tc.start, tc.cpus, got, tc.want)
		}
	}
}
