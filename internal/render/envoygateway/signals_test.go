package envoygateway

import (
	"reflect"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/provider"
)

// A rule with fallback Backends is a failover path; its BackendTrafficPolicy's
// passive health check is its signal, and without one the path is named.
func TestHealthSignals(t *testing.T) {
	objs, _ := renderCluster(t, orderedFleet(), "a")
	if got, want := Descriptor.Failover.HealthSignals(objs), (provider.HealthSignals{Paths: 1}); !reflect.DeepEqual(got, want) {
		t.Errorf("with outlier detection: got %+v, want %+v", got, want)
	}

	f := orderedFleet()
	f.Services[0].Spec.OutlierDetection = nil
	objs, _ = renderCluster(t, f, "a")
	want := provider.HealthSignals{Paths: 1, Missing: []string{"HTTPRoute envoy-gateway-system/gatefed-shop-storefront rule 0 (GlobalRoute/shop/storefront)"}}
	if got := Descriptor.Failover.HealthSignals(objs); !reflect.DeepEqual(got, want) {
		t.Errorf("without a health signal: got %+v, want %+v", got, want)
	}

	// A service that runs in one cluster only has no failover path.
	f.Services[0].Spec.Clusters = &fleet.Placement{Names: []string{"a"}}
	objs, _ = renderCluster(t, f, "a")
	if got := Descriptor.Failover.HealthSignals(objs); !reflect.DeepEqual(got, provider.HealthSignals{}) {
		t.Errorf("without failover: got %+v, want no path", got)
	}
}
