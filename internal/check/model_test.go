package check

import "testing"

// The model's arithmetic, pinned: a change to a constant or the formula
// must change these numbers on purpose.
func TestProxyBytesDefaults(t *testing.T) {
	m := DefaultSizingModel
	cases := []struct {
		name string
		load ProxyLoad
		want int64
	}{
		{"empty proxy is the base", ProxyLoad{}, 26_888_000},
		{"one cluster with one host", ProxyLoad{EnvoyClusters: 1, Endpoints: 1}, 26_888_000 + 72_000},
		// 10 clusters, 110 hosts: 100 beyond the first host of each.
		{"extra hosts", ProxyLoad{EnvoyClusters: 10, Endpoints: 110}, 26_888_000 + 10*72_000 + 100*250},
		{"fewer hosts than clusters add nothing", ProxyLoad{EnvoyClusters: 4, Endpoints: 2}, 26_888_000 + 4*72_000},
		{"listeners", ProxyLoad{HTTPListeners: 2, TCPListeners: 1}, 26_888_000 + 2*63_000 + 18_000},
		{"everything", ProxyLoad{EnvoyClusters: 200, Endpoints: 1200, Routes: 500, HTTPListeners: 2, TCPListeners: 1},
			26_888_000 + 200*72_000 + 1000*250 + 2*63_000 + 18_000},
	}
	for _, c := range cases {
		if got := m.ProxyBytes(c.load); got != c.want {
			t.Errorf("%s: ProxyBytes(%+v) = %d, want %d", c.name, c.load, got, c.want)
		}
	}
	// Routes are counted but carry no cost of their own in the model.
	if a, b := m.ProxyBytes(ProxyLoad{Routes: 0}), m.ProxyBytes(ProxyLoad{Routes: 1000}); a != b {
		t.Errorf("routes changed the estimate: %d vs %d", a, b)
	}
}

func TestProxyBytesOverrides(t *testing.T) {
	m := SizingModel{BytesPerCluster: 100, BytesPerHost: 10, BytesPerHTTPListener: 1000, BytesPerTCPListener: 500, ProxyBaseBytes: 1}
	got := m.ProxyBytes(ProxyLoad{EnvoyClusters: 3, Endpoints: 7, HTTPListeners: 1, TCPListeners: 2})
	if want := int64(1 + 3*100 + 4*10 + 1000 + 2*500); got != want {
		t.Errorf("ProxyBytes = %d, want %d", got, want)
	}
	// Unset fields take the defaults.
	half := SizingModel{BytesPerCluster: 1}
	if got, want := half.ProxyBytes(ProxyLoad{EnvoyClusters: 2, HTTPListeners: 1}), int64(26_888_000+2+63_000); got != want {
		t.Errorf("partial override: ProxyBytes = %d, want %d", got, want)
	}
}

func TestControlPlaneBytes(t *testing.T) {
	m := DefaultSizingModel
	if got, want := m.ControlPlaneBytes(0), int64(256<<20); got != want {
		t.Errorf("ControlPlaneBytes(0) = %d, want %d", got, want)
	}
	if got, want := m.ControlPlaneBytes(1_000_000), int64(256<<20+10_000_000); got != want {
		t.Errorf("ControlPlaneBytes(1e6) = %d, want %d", got, want)
	}
	o := SizingModel{ControlPlaneBaseBytes: 1000, ControlPlaneBytesPerConfigByte: 2.5}
	if got, want := o.ControlPlaneBytes(400), int64(2000); got != want {
		t.Errorf("override: ControlPlaneBytes(400) = %d, want %d", got, want)
	}
}

func TestOverLimit(t *testing.T) {
	m := DefaultSizingModel
	cases := []struct {
		estimate, limit int64
		want            bool
	}{
		{800, 1000, false}, // exactly 80% is still fine
		{801, 1000, true},
		{999, 0, false}, // no limit
		{100, 1000, false},
	}
	for _, c := range cases {
		if got := m.OverLimit(c.estimate, c.limit); got != c.want {
			t.Errorf("OverLimit(%d, %d) = %v, want %v", c.estimate, c.limit, got, c.want)
		}
	}
	if !(SizingModel{MemoryLimitRatio: 0.5}).OverLimit(501, 1000) {
		t.Error("a 0.5 ratio should flag 501 of 1000")
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 26_888_000: "25.6 MiB", 256 << 20: "256.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
