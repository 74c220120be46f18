// Package initfleet writes a commented starter fleet: from the clusters
// already registered when there are some, else from three example clusters
// (one per provider). It validates as written, and shows ordered and
// locality failover, a route and every placement form.
package initfleet

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/provider"
)

// DefaultFileName is the file init writes in a fleet directory.
const DefaultFileName = "fleet.yaml"

// Options say where the fleet is and where the starter goes.
type Options struct {
	// Paths are the fleet's -f paths; the registered clusters are read from them.
	Paths []string
	// File is where to write: "" for fleet.TargetFile (DefaultFileName in
	// the first fleet directory), "-" for Out.
	File string
	// Force overwrites a File init wrote before (never another file).
	Force bool
	Out   io.Writer
}

// Result says what init wrote.
type Result struct {
	File string
	// Registered are the clusters the starter uses that were registered already.
	Registered []string
}

// Run writes the starter fleet.
func Run(opts Options) (*Result, error) {
	res := &Result{File: opts.File}
	var err error
	if res.File == "" {
		if res.File, err = fleet.TargetFile(opts.Paths, DefaultFileName); err != nil {
			return nil, err
		}
	}
	if err := overwritable(res.File, opts.Force); err != nil {
		return nil, err
	}
	clusters, err := registered(opts.Paths, res.File)
	if err != nil {
		return nil, err
	}
	for _, c := range clusters {
		res.Registered = append(res.Registered, c.Name())
	}
	text := Starter(clusters)
	if res.File == "-" {
		_, err := io.WriteString(opts.Out, text)
		return res, err
	}
	if err := os.MkdirAll(filepath.Dir(res.File), 0o755); err != nil {
		return nil, err
	}
	return res, os.WriteFile(res.File, []byte(text), 0o644)
}

// overwritable checks that file does not exist, or that init wrote it and
// force says to write it again: init never overwrites another file.
func overwritable(file string, force bool) error {
	if file == "-" {
		return nil
	}
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !strings.HasPrefix(string(data), header):
		return fmt.Errorf("%s exists and was not written by gatefed init: pass --file to write elsewhere", file)
	case !force:
		return fmt.Errorf("%s exists: pass --force to overwrite it, or --file to write elsewhere", file)
	}
	return nil
}

// registered reads the Cluster documents of the fleet, leaving out those of
// the file init is about to write. A fleet that does not exist yet, or has
// no document, has none; a fleet that already has services or routes is not
// a fleet to start.
func registered(paths []string, target string) ([]*fleet.Cluster, error) {
	var existing []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			existing = append(existing, p)
		}
	}
	if len(existing) == 0 {
		return nil, nil
	}
	f, n, err := fleet.LoadWith(existing, fleet.LoadOptions{})
	var errs fleet.Errors
	if errors.As(err, &errs) && n == (fleet.Counts{}) && onlyEmpty(errs) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var clusters []*fleet.Cluster
	for _, c := range f.Clusters {
		if !samePath(c.Source.File, target) {
			clusters = append(clusters, c)
		}
	}
	for _, s := range f.Services {
		if !samePath(s.Source.File, target) {
			return nil, fmt.Errorf("the fleet (%s) already has GlobalServices or GlobalRoutes (%s): init starts a fleet; write to another fleet with -f, or see docs/policy.md", strings.Join(existing, ", "), s.Source.File)
		}
	}
	for _, r := range f.Routes {
		if !samePath(r.Source.File, target) {
			return nil, fmt.Errorf("the fleet (%s) already has GlobalServices or GlobalRoutes (%s): init starts a fleet; write to another fleet with -f, or see docs/policy.md", strings.Join(existing, ", "), r.Source.File)
		}
	}
	return clusters, nil
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

func onlyEmpty(errs fleet.Errors) bool {
	for _, e := range errs {
		if !strings.HasPrefix(e.Message, "no fleet documents") {
			return false
		}
	}
	return true
}

// exampleSites are where the example clusters are, one per provider.
var exampleSites = []struct{ name, region, zone, address string }{
	{"us-east", "us-east-1", "us-east-1a", "203.0.113.10"},
	{"us-west", "us-west-2", "us-west-2a", "203.0.113.20"},
	{"eu-west", "eu-west-1", "eu-west-1a", "203.0.113.30"},
	{"ap-south", "ap-south-1", "ap-south-1a", "203.0.113.40"},
}

// exampleClusters stand in for registered clusters: one per provider.
func exampleClusters() []*fleet.Cluster {
	var out []*fleet.Cluster
	for i, d := range provider.All() {
		site := exampleSites[i%len(exampleSites)]
		name := site.name
		if i >= len(exampleSites) {
			name = fmt.Sprintf("%s-%d", site.name, i/len(exampleSites)+1)
		}
		out = append(out, &fleet.Cluster{
			Metadata: fleet.ObjectMeta{Name: name, Labels: map[string]string{"env": "prod"}},
			Spec: fleet.ClusterSpec{Context: name, Region: site.region, Zone: site.zone,
				Gateway: fleet.GatewaySpec{Provider: d.Name}, Failover: &fleet.ClusterFailover{Address: site.address}},
		})
	}
	return out
}

// Starter is the starter fleet's text for clusters (none: example clusters).
func Starter(clusters []*fleet.Cluster) string {
	var b strings.Builder
	b.WriteString(header)
	if len(clusters) == 0 {
		clusters = exampleClusters()
		writeExampleClusters(&b, clusters)
	} else {
		fmt.Fprintf(&b, "#\n# Written from the clusters already registered: %s.\n", strings.Join(names(clusters), ", "))
	}
	named := namedPlacement(clusters)
	order := append([]string(nil), named...)
	sort.Sort(sort.Reverse(sort.StringSlice(order)))
	sel := selectorYAML(clusters)
	fmt.Fprintf(&b, services, fleet.APIVersion, yamlList(named), yamlList(order), sel, named[0])
	fmt.Fprintf(&b, routes, fleet.APIVersion)
	return b.String()
}

func names(clusters []*fleet.Cluster) []string {
	out := make([]string, len(clusters))
	for i, c := range clusters {
		out[i] = c.Name()
	}
	return out
}

func yamlList(items []string) string {
	seen := map[string]bool{}
	var out []string
	for _, s := range items {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// namedPlacement are the clusters the name placement example lists: two,
// failover targets first, so that every cluster's gateway can reach the
// service; every cluster when none is a failover target.
func namedPlacement(clusters []*fleet.Cluster) []string {
	var targets, others []string
	for _, c := range clusters {
		if c.FailoverTarget() {
			targets = append(targets, c.Name())
		} else {
			others = append(others, c.Name())
		}
	}
	if len(targets) == 0 {
		return others
	}
	all := append(targets, others...)
	return all[:min(2, len(all))]
}

// selectorYAML is the label selector example: a label every cluster has
// when there is one, else one every cluster matches.
func selectorYAML(clusters []*fleet.Cluster) string {
	keys := make([]string, 0, len(clusters[0].Metadata.Labels))
	for k := range clusters[0].Metadata.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := clusters[0].Metadata.Labels[k]
		shared := true
		for _, c := range clusters[1:] {
			shared = shared && c.Metadata.Labels[k] == v
		}
		if shared {
			return fmt.Sprintf("    selector:                   # placement by label: clusters labelled %s=%s\n      matchLabels: {%s: %s}\n", k, v, k, v)
		}
	}
	return `    selector:                   # placement by label: here every cluster not labelled env=dev
      matchExpressions:         # (label clusters with: gatefed cluster register NAME --label env=prod)
      - {key: env, operator: NotIn, values: [dev]}
`
}

func writeExampleClusters(b *strings.Builder, clusters []*fleet.Cluster) {
	b.WriteString(`#
# No cluster is registered yet: these three stand in for yours, one per
# provider. Replace them with "gatefed cluster register NAME --context CTX
# --provider PROVIDER", which connects, checks the gateway and writes the
# Cluster document for you (docs/clusters.md).
`)
	for _, c := range clusters {
		fmt.Fprintf(b, `---
apiVersion: %s
kind: Cluster
metadata:
  name: %s
  labels: {env: prod}       # placement selects clusters by their labels
spec:
  context: %s              # kubeconfig context (default: the cluster's name)
  region: %s           # region and zone order locality failover
  zone: %s
  gateway:
    provider: %s    # %s; namespace and name default per provider
  failover:
    address: %s    # where other clusters' gateways reach this one (port 15443)
`, fleet.APIVersion, c.Name(), c.Spec.Context, c.Spec.Region, c.Spec.Zone, c.Spec.Gateway.Provider, strings.Join(provider.Names(), ", "), c.Spec.Failover.Address)
	}
}

const header = `# A starter gatefed fleet, written by "gatefed init". It validates as written:
#
#   gatefed validate -f .     # then: gatefed render, gatefed explain, gatefed diff
#
# Every document has apiVersion gatefed.dev/v1alpha1 and one of the kinds
# Cluster, GlobalService, GlobalRoute and GlobalExtension; docs/policy.md
# describes every field.
`

// services: %[1]s apiVersion, %[2]s named clusters, %[3]s their order,
// %[4]s a selector block, %[5]s one cluster name.
const services = `---
# checkout runs in the clusters named here and fails over in a fixed order.
apiVersion: %[1]s
kind: GlobalService
metadata:
  name: checkout
  namespace: shop               # the Kubernetes Service's namespace
spec:
  port: 8080                    # the Service's port, the same in every cluster
  clusters:
    names: %[2]s          # placement by name
  failover:
    policy: ordered
    order: %[3]s          # other clusters fail over in this order
  healthCheck:                  # a health signal: failover needs one
    path: /healthz
  outlierDetection:             # and a passive one (istio has no active health check)
    consecutive5xx: 5
---
# catalog runs in every cluster (no spec.clusters) and fails over by
# locality: same zone, same region, then the rest.
apiVersion: %[1]s
kind: GlobalService
metadata:
  name: catalog
  namespace: shop
spec:
  port: 8080
  failover:
    policy: locality
  outlierDetection:             # a passive health signal: eject failing endpoints
    consecutive5xx: 5
---
# payments runs in the clusters a label selector picks.
apiVersion: %[1]s
kind: GlobalService
metadata:
  name: payments
  namespace: shop
spec:
  port: 9090
  clusters:
%[4]s  healthCheck:
    path: /ready
  outlierDetection:
    consecutive5xx: 5
---
# reviews runs in the named cluster and in those the selector picks: names
# and selector together are ORed.
apiVersion: %[1]s
kind: GlobalService
metadata:
  name: reviews
  namespace: shop
spec:
  port: 8080
  clusters:
    names: [%[5]s]
%[4]s  healthCheck:
    path: /healthz
  outlierDetection:
    consecutive5xx: 5
`

// routes: %[1]s apiVersion.
const routes = `---
# storefront is served by every cluster's gateway (no spec.clusters; names
# and selector work here as on services). Each rule's traffic goes to the
# first cluster left in its service's tiers: gatefed explain shows which.
apiVersion: %[1]s
kind: GlobalRoute
metadata:
  name: storefront
  namespace: shop
spec:
  hosts: [shop.example.com]
  rules:
  - name: checkout
    match: {pathPrefix: /checkout}
    backends: [{service: checkout}]
    timeout: 10s
  - name: payments
    match: {pathPrefix: /pay, methods: [POST]}
    backends: [{service: payments}]
  - name: reviews
    match: {pathPrefix: /reviews}
    backends: [{service: reviews}]
  - name: catalog               # the rest
    backends: [{service: catalog}]
`
