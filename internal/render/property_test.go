package render_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

var (
	propertySeed   = flag.Uint64("property.seed", 24, "first seed of TestEveryValidFleetRenders")
	propertyFleets = flag.Int("property.fleets", 100, "fleets TestEveryValidFleetRenders generates (fewer with -short)")
)

// TestEveryValidFleetRenders generates fleets of 1 to 100 clusters with
// gloo, envoy-gateway and istio clusters mixed, services placed and failing
// over at random and routes near every gateway's limits, and checks that
// each fleet either fails validation or renders every cluster: render never
// refuses what validation accepted. Fleet i uses seed property.seed+i, so a
// failure is replayed with -property.seed=<its seed> -property.fleets=1.
func TestEveryValidFleetRenders(t *testing.T) {
	n, budget := *propertyFleets, 3*time.Minute
	if testing.Short() {
		n, budget = min(n, 10), 30*time.Second
	}
	deadline := time.Now().Add(budget)
	valid, invalid, clusters := 0, 0, 0
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		seed := *propertySeed + uint64(i)
		text, size := randomFleet(rand.New(rand.NewPCG(seed, seed)))
		f, err := fleet.Load([]string{fleettest.Dir(t, text)}, nil)
		if err != nil {
			invalid++
			if testing.Verbose() {
				t.Logf("seed %d: %.300s", seed, err)
			}
			continue
		}
		valid++
		clusters += size
		err = render.Each(f, render.Options{}, func(*render.ClusterOutput) error { return nil })
		if err != nil {
			t.Errorf("seed %d: a fleet of %d clusters passes validation but does not render: %v", seed, size, err)
		}
	}
	t.Logf("%d fleets valid and rendered (%d clusters in all), %d refused by validation", valid, clusters, invalid)
	if valid == 0 || invalid == 0 {
		t.Errorf("the generator made %d valid and %d invalid fleets: it should make both", valid, invalid)
	}
}

var (
	httpMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)

// randomFleet returns a fleet's YAML and its number of clusters.
func randomFleet(r *rand.Rand) (string, int) {
	size := 1 + r.IntN(100)
	if r.IntN(3) == 0 {
		size = 17 + r.IntN(84) // past Envoy Gateway's 16 backendRefs per rule
	}
	// One fleet in eight mixes IP and DNS-name failover addresses, which
	// validation refuses behind an envoy-gateway rule.
	dns := []bool{false, true, r.IntN(8) == 0}[r.IntN(3)]
	mixed := r.IntN(8) == 0
	var docs []string
	for i := 0; i < size; i++ {
		docs = append(docs, randomCluster(r, i, dns != (mixed && r.IntN(2) == 0)))
	}
	services := 1 + r.IntN(8)
	for i := 0; i < services; i++ {
		docs = append(docs, randomService(r, i, size))
	}
	for i := 0; i < 1+r.IntN(4); i++ {
		docs = append(docs, randomRoute(r, i, services, size))
	}
	return strings.Join(docs, "---\n"), size
}

func randomCluster(r *rand.Rand, i int, dns bool) string {
	region := fmt.Sprintf("region-%d", r.IntN(4))
	names := provider.Names()
	desc := provider.Lookup(names[r.IntN(len(names))])
	spec := fmt.Sprintf("  region: %s\n  zone: %s-%c\n  gateway: {provider: %s}\n",
		region, region, 'a'+rune(r.IntN(3)), desc.Name)
	switch {
	case r.IntN(20) == 0 && !desc.Failover.LocalTierThroughFailover: // not a failover target
	case dns:
		spec += fmt.Sprintf("  failover: {address: c%d.failover.example.com}\n", i)
	default:
		spec += fmt.Sprintf("  failover: {address: 10.%d.%d.1, port: %d}\n", i/250, i%250, 15443+r.IntN(2))
	}
	return fmt.Sprintf("apiVersion: gatefed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: c%d, labels: {group: g%d}}\nspec:\n%s", i, r.IntN(3), spec)
}

func randomService(r *rand.Rand, i, size int) string {
	spec := fmt.Sprintf("  port: %d\n", 8000+i)
	placed := []string{fmt.Sprintf("c%d", r.IntN(size))}
	switch r.IntN(3) {
	case 0:
		spec += fmt.Sprintf("  clusters: {selector: {matchLabels: {group: g%d}}}\n", r.IntN(3))
		placed = nil
	case 1:
		placed = someClusters(r, size)
		spec += "  clusters: {names: [" + strings.Join(placed, ", ") + "]}\n"
	}
	switch {
	case r.IntN(3) == 0 && placed != nil:
		spec += fmt.Sprintf("  failover: {policy: ordered, order: [%s], maxTiers: %d}\n", strings.Join(placed, ", "), r.IntN(20))
	case r.IntN(2) == 0:
		spec += fmt.Sprintf("  failover: {maxTiers: %d}\n", 1+r.IntN(20))
	}
	if r.IntN(30) > 0 {
		spec += "  healthCheck: {path: /healthz}\n"
	}
	return fmt.Sprintf("apiVersion: gatefed.dev/v1alpha1\nkind: GlobalService\nmetadata: {name: s%d, namespace: shop}\nspec:\n%s", i, spec)
}

func randomRoute(r *rand.Rand, i, services, size int) string {
	var hosts []string
	for h := 0; h < 1+upTo(r, 18); h++ {
		hosts = append(hosts, fmt.Sprintf("h%d.r%d.example.com", h, i))
	}
	spec := "  hosts: [" + strings.Join(hosts, ", ") + "]\n"
	if r.IntN(2) == 0 {
		spec += "  clusters: {names: [" + strings.Join(someClusters(r, size), ", ") + "]}\n"
	}
	spec += "  rules:\n"
	for k := 0; k < 1+upTo(r, 18); k++ {
		spec += fmt.Sprintf("  - match: {pathPrefix: /p%d%s}\n    backends: [", k, randomMethods(r))
		for b := 0; b < 1+upTo(r, 5); b++ {
			if b > 0 {
				spec += ", "
			}
			spec += fmt.Sprintf("{service: s%d, weight: %d}", r.IntN(services), 1+r.IntN(10))
		}
		spec += "]\n"
	}
	return fmt.Sprintf("apiVersion: gatefed.dev/v1alpha1\nkind: GlobalRoute\nmetadata: {name: r%d, namespace: shop}\nspec:\n%s", i, spec)
}

// upTo is a count below n, below 3 five times in six.
func upTo(r *rand.Rand, n int) int {
	if r.IntN(6) > 0 {
		return r.IntN(min(n, 3))
	}
	return r.IntN(n)
}

func randomMethods(r *rand.Rand) string {
	n := r.IntN(len(httpMethods) + 3)
	if n > len(httpMethods) {
		return ""
	}
	picked := make([]string, 0, n)
	for _, j := range r.Perm(len(httpMethods))[:n] {
		picked = append(picked, httpMethods[j])
	}
	return ", methods: [" + strings.Join(picked, ", ") + "]"
}

// someClusters picks 1 to 8 cluster names of a fleet of size clusters.
func someClusters(r *rand.Rand, size int) []string {
	var names []string
	for _, j := range r.Perm(size)[:min(size, 1+r.IntN(8))] {
		names = append(names, fmt.Sprintf("c%d", j))
	}
	return names
}
