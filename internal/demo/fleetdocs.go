package demo

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/provider"
)

// MaxClusters is the largest demo fleet.
const MaxClusters = 8

// ServiceNamespace holds the demo's services.
const ServiceNamespace = "shop"

// clusterPlan is one demo cluster as the fleet documents describe it.
type clusterPlan struct {
	Name, Provider, Region, Zone string
	FailoverPort                 int32
}

// layout names the clusters of a demo fleet: pairs share a region (so
// locality ordering prefers the neighbour), providers take turns in
// registration order among those with a stand-in install (gloo and
// envoy-gateway: three clusters are east-1 gloo, east-2 envoy-gateway,
// west-1 gloo), and every cluster is a failover target on its own port
// (15443, 15444, ...; see pickFailoverPorts).
func layout(n int) ([]clusterPlan, error) {
	providers := provider.NamesWhere(func(d *provider.Descriptor) bool { return d.Install.StandIn != nil })
	if len(providers) == 0 {
		return nil, fmt.Errorf("no registered provider has a stand-in install for the demo")
	}
	regions := []struct{ prefix, region string }{{"east", "us-east"}, {"west", "us-west"}, {"eu", "eu-west"}, {"ap", "ap-south"}}
	out := make([]clusterPlan, 0, n)
	for i := range n {
		r := regions[i/2]
		out = append(out, clusterPlan{
			Name:         fmt.Sprintf("%s-%d", r.prefix, i%2+1),
			Provider:     providers[i%len(providers)],
			Region:       r.region,
			Zone:         fmt.Sprintf("%s-1%c", r.region, 'a'+rune(i%2)),
			FailoverPort: int32(fleet.DefaultFailoverPort + i),
		})
	}
	return out, nil
}

// writeFleetDocs writes clusters.yaml, services.yaml and routes.yaml into dir.
func writeFleetDocs(dir string, clusters []clusterPlan) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"clusters.yaml": clustersYAML(clusters),
		"services.yaml": servicesYAML(clusters),
		"routes.yaml":   routesYAML(clusters),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func clustersYAML(clusters []clusterPlan) string {
	var b strings.Builder
	b.WriteString(`# The demo fleet's clusters: local kube-apiservers started by "gatefed demo up".
# Their contexts (named after the clusters) are in the demo kubeconfig: pass it
# with --kubeconfig. Clusters in the same region come first in locality failover.
# Every failover address is 127.0.0.1, where the demo's failover listener stands
# in for the gateways' failover ports.
`)
	for _, c := range clusters {
		fmt.Fprintf(&b, `---
apiVersion: %s
kind: Cluster
metadata:
  name: %s
  labels:
    env: demo
    region: %s
    provider: %s
spec:
  region: %s
  zone: %s
  gateway:
    provider: %s
  failover:
    address: %s
    port: %d
`, fleet.APIVersion, c.Name, c.Region, c.Provider, c.Region, c.Zone, c.Provider, loopback, c.FailoverPort)
	}
	return b.String()
}

// paymentsClusters are the first and the last cluster: payments runs in two
// places and fails over in a fixed order, last cluster first.
func paymentsClusters(clusters []clusterPlan) (placed, order []string) {
	first, last := clusters[0].Name, clusters[len(clusters)-1].Name
	if first == last {
		return []string{first}, []string{first}
	}
	return []string{first, last}, []string{last, first}
}

func yamlList(items []string) string { return "[" + strings.Join(items, ", ") + "]" }

func servicesYAML(clusters []clusterPlan) string {
	placed, order := paymentsClusters(clusters)
	regions := []string{clusters[0].Region}
	if len(clusters) > 2 && clusters[2].Region != regions[0] {
		regions = append(regions, clusters[2].Region)
	}
	return fmt.Sprintf(`# Services that run in several clusters. "gatefed demo up" seeded a Service and
# an EndpointSlice for each of them in every cluster they are placed in.
---
# checkout runs everywhere and fails over by locality: same zone, same
# region, then the rest.
apiVersion: %[1]s
kind: GlobalService
metadata:
  name: checkout
  namespace: %[2]s
spec:
  port: 8080
  failover:
    policy: locality
  healthCheck:
    path: /healthz
    interval: 5s
    timeout: 1s
    healthyThreshold: 2
    unhealthyThreshold: 3
  outlierDetection:
    consecutive5xx: 5
    interval: 10s
    baseEjectionTime: 30s
    maxEjectionPercent: 50
---
# payments runs in two clusters and fails over in a fixed order.
apiVersion: %[1]s
kind: GlobalService
metadata:
  name: payments
  namespace: %[2]s
spec:
  port: 9090
  clusters:
    names: %[3]s
  failover:
    policy: ordered
    order: %[4]s
  healthCheck:
    path: /ready
    interval: 3s
    timeout: 1s
    healthyThreshold: 1
    unhealthyThreshold: 2
`, fleet.APIVersion, ServiceNamespace, yamlList(placed), yamlList(order)) +
		catalogYAML("catalog", "catalog is placed by label selector and ejects failing endpoints passively.", regions) +
		catalogYAML("catalog-v2", "catalog-v2 is the canary of catalog: the storefront sends it 10% of the traffic.", regions) +
		inventoryYAML(clusters)
}

// inventoryYAML is a GlobalService that runs in the clusters whose gateways
// refuse a loopback failover target, each serving its own: "" when there
// are none.
func inventoryYAML(clusters []clusterPlan) string {
	_, local := splitByLoopback(clusters)
	if len(local) == 0 {
		return ""
	}
	return fmt.Sprintf(`---
# inventory runs in %[3]s and each serves its own: maxTiers 1 keeps
# the first tier only, so no failover traffic leaves them.
apiVersion: %[1]s
kind: GlobalService
metadata:
  name: inventory
  namespace: %[2]s
spec:
  port: 8080
  clusters:
    names: %[4]s
  failover:
    maxTiers: 1
`, fleet.APIVersion, ServiceNamespace, strings.Join(local, ", "), yamlList(local))
}

// splitByLoopback splits the clusters by their gateway: failover sends the
// clusters whose gateway accepts a failover target at the demo's loopback
// failover address, and local the others (their provider's descriptor says
// it refuses one).
func splitByLoopback(clusters []clusterPlan) (failover, local []string) {
	for _, c := range clusters {
		if d := provider.Lookup(c.Provider); d != nil && d.Failover.LoopbackRefused != "" {
			local = append(local, c.Name)
		} else {
			failover = append(failover, c.Name)
		}
	}
	return failover, local
}

// catalogYAML is a GlobalService placed by region that ejects failing
// endpoints passively.
func catalogYAML(name, comment string, regions []string) string {
	return fmt.Sprintf(`---
# %[3]s
apiVersion: %[1]s
kind: GlobalService
metadata:
  name: %[4]s
  namespace: %[2]s
spec:
  port: 8080
  clusters:
    selector:
      matchExpressions:
      - key: region
        operator: In
        values: %[5]s
  outlierDetection:
    consecutive5xx: 3
    interval: 5s
    baseEjectionTime: 15s
    maxEjectionPercent: 100
`, fleet.APIVersion, ServiceNamespace, comment, name, yamlList(regions))
}

func routesYAML(clusters []clusterPlan) string {
	failover, local := splitByLoopback(clusters)
	return fmt.Sprintf(`# Routes served by the clusters' gateways. Every failover address in the demo
# is 127.0.0.1, where the demo's failover listener answers: only the gateways
# that accept a failover target at a loopback address send failover traffic.
---
# storefront is served by %[3]s: its services fail over through up to
# three tiers (same zone, same region, the rest).
apiVersion: %[1]s
kind: GlobalRoute
metadata:
  name: storefront
  namespace: %[2]s
spec:
  hosts: [shop.demo.gatefed.dev]
  clusters:
    selector:
      matchExpressions:
      - key: provider
        operator: In
        values: %[4]s
  rules:
  - name: checkout
    match:
      pathPrefix: /checkout
    backends:
    - service: checkout
    timeout: 10s
    retries:
      attempts: 2
      perTryTimeout: 3s
  - name: pay
    match:
      pathPrefix: /pay
      methods: [POST]
    backends:
    - service: payments
  - name: catalog
    backends:
    - service: catalog
      weight: 90
    - service: catalog-v2
      weight: 10
`, fleet.APIVersion, ServiceNamespace, strings.Join(failover, ", "), yamlList(providersOf(clusters, failover))) + apiRouteYAML(local)
}

// apiRouteYAML is a GlobalRoute the local clusters' gateways serve from
// their own inventory ("" when there are none): their gateways refuse a
// failover target at a loopback address, so they send no failover traffic,
// though they receive it from the others.
func apiRouteYAML(local []string) string {
	if len(local) == 0 {
		return ""
	}
	return fmt.Sprintf(`---
# api is served by %[3]s, each from its own inventory: their gateways
# refuse a failover target at a loopback address, so they send no failover
# traffic (they receive it from the storefront's gateways).
apiVersion: %[1]s
kind: GlobalRoute
metadata:
  name: api
  namespace: %[2]s
spec:
  hosts: [api.demo.gatefed.dev]
  clusters:
    names: %[4]s
  rules:
  - name: stock
    match:
      pathExact: /v1/stock
      headers:
      - name: x-api-version
        value: "1"
    backends:
    - service: inventory
`, fleet.APIVersion, ServiceNamespace, strings.Join(local, ", "), yamlList(local))
}

// providersOf are the providers of the named clusters, in layout order.
func providersOf(clusters []clusterPlan, names []string) []string {
	var out []string
	for _, c := range clusters {
		if slices.Contains(names, c.Name) && !slices.Contains(out, c.Provider) {
			out = append(out, c.Provider)
		}
	}
	return out
}

const loopback = "127.0.0.1"

// pickFailoverPorts keeps each cluster's port when it is free on 127.0.0.1
// and otherwise takes a free one, so demos and tests running side by side
// do not answer for each other.
func pickFailoverPorts(plans []clusterPlan) error {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for i := range plans {
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, fmt.Sprint(plans[i].FailoverPort)))
		if err != nil {
			if l, err = net.Listen("tcp", net.JoinHostPort(loopback, "0")); err != nil {
				return err
			}
			plans[i].FailoverPort = int32(l.Addr().(*net.TCPAddr).Port)
		}
		held = append(held, l)
	}
	return nil
}
