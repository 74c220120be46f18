package explain

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gatefed/gatefed/internal/fleet"
)

// knownCluster checks that a cluster named in context (a flag) exists.
func knownCluster(f *fleet.Fleet, name, context string) error {
	if f.Cluster(name) != nil {
		return nil
	}
	return inputErrorf("%s: unknown cluster %q%s (the fleet has %s)", context, name, fleet.DidYouMean(name, clusterNames(f)), strings.Join(clusterNames(f), ", "))
}

func clusterNames(f *fleet.Fleet) []string {
	out := make([]string, len(f.Clusters))
	for i, c := range f.Clusters {
		out[i] = c.Name()
	}
	sort.Strings(out)
	return out
}

// selectSources returns the named clusters, or all, sorted by name.
func selectSources(f *fleet.Fleet, from []string) ([]*fleet.Cluster, error) {
	if len(from) == 0 {
		return f.Placed(nil), nil
	}
	want := map[string]bool{}
	for _, n := range from {
		if err := knownCluster(f, n, "--from"); err != nil {
			return nil, err
		}
		want[n] = true
	}
	var out []*fleet.Cluster
	for _, c := range f.Placed(nil) {
		if want[c.Name()] {
			out = append(out, c)
		}
	}
	return out, nil
}

// resolveMissing parses SERVICE@CLUSTER.
func resolveMissing(f *fleet.Fleet, arg string) (*fleet.GlobalService, string, error) {
	i := strings.LastIndex(arg, "@")
	if i <= 0 || i == len(arg)-1 {
		return nil, "", inputErrorf("--missing %q: want SERVICE@CLUSTER, for example shop/checkout@us-east", arg)
	}
	name, cluster := arg[:i], arg[i+1:]
	if err := knownCluster(f, cluster, "--missing "+arg); err != nil {
		return nil, "", err
	}
	svcs, err := findServices(f, name)
	if err != nil {
		return nil, "", fmt.Errorf("--missing %s: %w", arg, err)
	}
	if len(svcs) == 0 {
		return nil, "", inputErrorf("--missing %s: unknown GlobalService %q%s", arg, name, fleet.DidYouMean(name, serviceNames(f)))
	}
	return svcs[0], cluster, nil
}

// resolveTarget returns the routes and services to explain. An empty target
// is everything; a name may match a route and a service at once.
func resolveTarget(f *fleet.Fleet, target string) ([]*fleet.GlobalRoute, []*fleet.GlobalService, error) {
	if target == "" {
		routes := append([]*fleet.GlobalRoute(nil), f.Routes...)
		sort.Slice(routes, func(i, j int) bool { return routes[i].Key() < routes[j].Key() })
		services := append([]*fleet.GlobalService(nil), f.Services...)
		sort.Slice(services, func(i, j int) bool { return services[i].Key() < services[j].Key() })
		return routes, services, nil
	}
	routes, err := findRoutes(f, target)
	if err != nil {
		return nil, nil, err
	}
	services, err := findServices(f, target)
	if err != nil {
		return nil, nil, err
	}
	if len(routes) == 0 && len(services) == 0 {
		names := append(serviceNames(f), routeNames(f)...)
		return nil, nil, inputErrorf("unknown GlobalRoute or GlobalService %q%s", target, fleet.DidYouMean(target, names))
	}
	if len(routes) == 0 {
		// A service alone: show the routes that send to it too.
		for _, r := range f.Routes {
			if routeUses(r, services[0].Key()) {
				routes = append(routes, r)
			}
		}
		sort.Slice(routes, func(i, j int) bool { return routes[i].Key() < routes[j].Key() })
	}
	if len(services) == 0 {
		// A route alone: show the services it sends to.
		seen := map[string]bool{}
		for _, rule := range routes[0].Spec.Rules {
			for _, b := range rule.Backends {
				key := routes[0].BackendRef(b)
				if s := f.Service(key); s != nil && !seen[key] {
					seen[key] = true
					services = append(services, s)
				}
			}
		}
		sort.Slice(services, func(i, j int) bool { return services[i].Key() < services[j].Key() })
	}
	return routes, services, nil
}

func routeUses(r *fleet.GlobalRoute, key string) bool {
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.Backends {
			if r.BackendRef(b) == key {
				return true
			}
		}
	}
	return false
}

// findServices resolves "ns/name" or a bare name unique across namespaces.
// It returns no service when none matches, and an error when a bare name is ambiguous.
func findServices(f *fleet.Fleet, name string) ([]*fleet.GlobalService, error) {
	return findNamed("GlobalService", name, f.Services, f.Service)
}

// findRoutes is findServices for GlobalRoutes.
func findRoutes(f *fleet.Fleet, name string) ([]*fleet.GlobalRoute, error) {
	return findNamed("GlobalRoute", name, f.Routes, f.Route)
}

// findNamed resolves name among all: "ns/name" through byKey, a bare name
// by its part after the slash of each Key.
func findNamed[T interface {
	comparable
	Key() string
}](kind, name string, all []T, byKey func(string) T) ([]T, error) {
	var none T
	if strings.Contains(name, "/") {
		if v := byKey(name); v != none {
			return []T{v}, nil
		}
		return nil, nil
	}
	var out []T
	var keys []string
	for _, v := range all {
		if _, bare, _ := strings.Cut(v.Key(), "/"); bare == name {
			out = append(out, v)
			keys = append(keys, v.Key())
		}
	}
	if len(out) > 1 {
		sort.Strings(keys)
		return nil, inputErrorf("%s name %q is in several namespaces: say which, one of %s", kind, name, strings.Join(keys, ", "))
	}
	return out, nil
}

// serviceNames are every service's key and bare name, for suggestions.
func serviceNames(f *fleet.Fleet) []string {
	var out []string
	for _, s := range f.Services {
		out = append(out, s.Key(), s.Metadata.Name)
	}
	return out
}

func routeNames(f *fleet.Fleet) []string {
	var out []string
	for _, r := range f.Routes {
		out = append(out, r.Key(), r.Metadata.Name)
	}
	return out
}
