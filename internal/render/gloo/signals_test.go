package gloo

import (
	"reflect"
	"testing"

	"github.com/gatefed/gatefed/internal/provider"
)

// An Upstream with a failover block is a failover path; its healthChecks or
// outlierDetection is its signal, and without either the path is named.
func TestHealthSignals(t *testing.T) {
	objs, _ := renderCluster(t, shopFleet(), "edge", nil)
	got := Descriptor.Failover.HealthSignals(objs)
	if got.Paths == 0 || len(got.Missing) != 0 {
		t.Errorf("every service has a health signal: got %+v, want paths and none missing", got)
	}

	f := shopFleet()
	checkout := f.Service("shop/checkout")
	checkout.Spec.HealthCheck = nil
	objs, _ = renderCluster(t, f, "edge", nil)
	want := provider.HealthSignals{Paths: got.Paths, Missing: []string{"Upstream gloo-system/gatefed-shop-checkout (GlobalService/shop/checkout)"}}
	if got := Descriptor.Failover.HealthSignals(objs); !reflect.DeepEqual(got, want) {
		t.Errorf("checkout without a health check: got %+v, want %+v", got, want)
	}

	// A service in one cluster only renders no failover block.
	one := shopFleet()
	one.Services = one.Services[3:] // legacy, in edge only
	one.Routes = one.Routes[1:]
	objs, _ = renderCluster(t, one, "edge", nil)
	if got := Descriptor.Failover.HealthSignals(objs); !reflect.DeepEqual(got, provider.HealthSignals{}) {
		t.Errorf("without failover: got %+v, want no path", got)
	}
}
