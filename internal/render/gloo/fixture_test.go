package gloo

import (
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/plan"
	"github.com/gatefed/gatefed/internal/render"
)

// shopFleet is four clusters and a shop:
//   - east, east2 (same region, another zone) and west are failover targets; edge is not.
//   - checkout runs in east, east2 and west with locality failover and an HTTP health check.
//   - payments runs everywhere with ordered failover west, east2, east and outlier detection.
//   - catalog runs in east2 and west only.
//   - legacy runs in edge only, so no other cluster can reach it.
func shopFleet() *fleet.Fleet {
	checkout := fleettest.NewService("shop", "checkout", 8080, "east", "east2", "west")
	checkout.Spec.HealthCheck = &fleet.HealthCheck{
		Path:               "/healthz",
		Interval:           "10s",
		Timeout:            "1500ms",
		HealthyThreshold:   2,
		UnhealthyThreshold: 4,
	}
	payments := fleettest.NewService("shop", "payments", 9090)
	payments.Spec.ServiceName = "payments-api"
	payments.Spec.Failover = &fleet.FailoverPolicy{Policy: fleet.PolicyOrdered, Order: []string{"west", "east2", "east"}}
	payments.Spec.OutlierDetection = &fleet.OutlierDetection{
		Consecutive5xx:     3,
		Interval:           "5s",
		BaseEjectionTime:   "1m",
		MaxEjectionPercent: 50,
	}
	catalog := fleettest.NewService("shop", "catalog", 80, "east2", "west")
	// Only a path, with what the loader fills in for the rest.
	catalog.Spec.HealthCheck = &fleet.HealthCheck{
		Path:               "/ready",
		Interval:           fleet.DefaultHealthCheckInterval,
		Timeout:            fleet.DefaultHealthCheckTimeout,
		HealthyThreshold:   fleet.DefaultHealthyThreshold,
		UnhealthyThreshold: fleet.DefaultUnhealthyThreshold,
	}
	legacy := fleettest.NewService("shop", "legacy", 8000, "edge")

	storefront := fleettest.NewRoute("shop", "storefront", []string{"shop.example.com", "www.shop.example.com"},
		fleet.Rule{
			Name: "checkout",
			Match: &fleet.Match{
				PathPrefix: "/checkout",
				Headers:    []fleet.HeaderMatch{{Name: "x-tenant", Value: "blue"}},
				Methods:    []string{"POST", "PUT"},
			},
			Backends: []fleet.Backend{fleettest.Backend("checkout")},
			Timeout:  "1m30s",
			Retries:  &fleet.Retries{Attempts: 3, PerTryTimeout: "250ms"},
		},
		fleet.Rule{
			Match:    &fleet.Match{PathExact: "/pay"},
			Backends: []fleet.Backend{fleettest.Backend("payments")},
		},
		fleet.Rule{
			Name:     "catalog-split",
			Match:    &fleet.Match{PathRegex: "^/catalog/.*"},
			Backends: []fleet.Backend{fleettest.Backend("catalog", 90), fleettest.Backend("shop/payments", 10)},
		},
		fleet.Rule{Backends: []fleet.Backend{fleettest.Backend("checkout")}},
	)
	old := fleettest.NewRoute("shop", "old", []string{"old.shop.example.com"},
		fleet.Rule{Backends: []fleet.Backend{fleettest.Backend("legacy")}},
	)
	return &fleet.Fleet{
		Clusters: []*fleet.Cluster{
			fleettest.NewCluster("east", "gloo", "us-east1", "us-east1-b", "east.gw.example.com", 0),
			fleettest.NewCluster("east2", "gloo", "us-east1", "us-east1-c", "10.0.0.2", 16443),
			fleettest.NewCluster("west", "gloo", "us-west1", "us-west1-a", "west.gw.example.com", 0),
			fleettest.NewCluster("edge", "gloo", "us-east1", "us-east1-b", "", 0),
		},
		Services: []*fleet.GlobalService{checkout, payments, catalog, legacy},
		Routes:   []*fleet.GlobalRoute{storefront, old},
	}
}

func renderCluster(t *testing.T, f *fleet.Fleet, name string, avail plan.Availability) ([]*unstructured.Unstructured, []string) {
	t.Helper()
	c := f.Cluster(name)
	if c == nil {
		t.Fatalf("no cluster %s", name)
	}
	objs, warnings, err := New().Render(render.Input(f, c, avail))
	if err != nil {
		t.Fatalf("render %s: %v", name, err)
	}
	return objs, warnings
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	var have []string
	for _, o := range objs {
		have = append(have, o.GetKind()+"/"+o.GetName())
	}
	t.Fatalf("no %s %s among %v", kind, name, have)
	return nil
}

// assertYAML compares a rendered value with the expected YAML, both through JSON.
func assertYAML(t *testing.T, what string, got any, want string) {
	t.Helper()
	gotJSON, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var gotV, wantV any
	if err := json.Unmarshal(gotJSON, &gotV); err != nil {
		t.Fatal(err)
	}
	wantJSON, err := yaml.YAMLToJSON([]byte(want))
	if err != nil {
		t.Fatalf("%s: bad expected YAML: %v", what, err)
	}
	if err := json.Unmarshal(wantJSON, &wantV); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		gotYAML, _ := yaml.Marshal(gotV)
		wantYAML, _ := yaml.Marshal(wantV)
		t.Errorf("%s:\n--- got\n%s--- want\n%s", what, gotYAML, wantYAML)
	}
}

// unavailable marks (service key, cluster) pairs that cannot serve.
type unavailable map[[2]string]string

func (u unavailable) Unavailable(s *fleet.GlobalService, cluster string) string {
	return u[[2]string{s.Key(), cluster}]
}
