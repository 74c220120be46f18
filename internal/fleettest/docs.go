package fleettest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gatefed/gatefed/internal/fleet"
)

// ClusterDoc builds a Cluster document.
type ClusterDoc struct {
	name, provider             string
	labels                     []string
	kubeconfig, context        string
	region, zone               string
	gwNamespace, gwName, class string
	failoverAddress            string
	failoverPort               int
	failover                   bool
	gwExtra, extra             []string
}

// Cluster starts a Cluster document for a provider ("gloo", ...).
func Cluster(name, provider string) *ClusterDoc {
	return &ClusterDoc{name: name, provider: provider}
}

// Labels sets metadata.labels from key, value pairs.
func (c *ClusterDoc) Labels(kv ...string) *ClusterDoc { c.labels = append(c.labels, kv...); return c }

// Kubeconfig sets spec.kubeconfig.
func (c *ClusterDoc) Kubeconfig(path string) *ClusterDoc { c.kubeconfig = path; return c }

// Context sets spec.context.
func (c *ClusterDoc) Context(name string) *ClusterDoc { c.context = name; return c }

// Region sets spec.region.
func (c *ClusterDoc) Region(r string) *ClusterDoc { c.region = r; return c }

// Zone sets spec.zone.
func (c *ClusterDoc) Zone(z string) *ClusterDoc { c.zone = z; return c }

// GatewayNamespace sets spec.gateway.namespace.
func (c *ClusterDoc) GatewayNamespace(ns string) *ClusterDoc { c.gwNamespace = ns; return c }

// GatewayName sets spec.gateway.name.
func (c *ClusterDoc) GatewayName(name string) *ClusterDoc { c.gwName = name; return c }

// ClassName sets spec.gateway.className.
func (c *ClusterDoc) ClassName(name string) *ClusterDoc { c.class = name; return c }

// Failover makes the cluster a failover target at address; a port of 0
// leaves spec.failover.port out (the loader's default).
func (c *ClusterDoc) Failover(address string, port int) *ClusterDoc {
	c.failover, c.failoverAddress, c.failoverPort = true, address, port
	return c
}

// Gateway adds "key: value" to spec.gateway, value in YAML flow style.
func (c *ClusterDoc) Gateway(key, value string) *ClusterDoc {
	c.gwExtra = append(c.gwExtra, key+": "+value)
	return c
}

// Spec adds "key: value" to spec, value in YAML flow style.
func (c *ClusterDoc) Spec(key, value string) *ClusterDoc {
	c.extra = append(c.extra, key+": "+value)
	return c
}

// YAML returns the document.
func (c *ClusterDoc) YAML() string {
	var spec []string
	spec = appendField(spec, "kubeconfig", c.kubeconfig)
	spec = appendField(spec, "context", c.context)
	spec = appendField(spec, "region", c.region)
	spec = appendField(spec, "zone", c.zone)
	gw := appendField(nil, "provider", c.provider)
	gw = appendField(gw, "namespace", c.gwNamespace)
	gw = appendField(gw, "name", c.gwName)
	gw = appendField(gw, "className", c.class)
	spec = append(spec, "gateway: "+flowMap(append(gw, c.gwExtra...)))
	if c.failover {
		fo := appendField(nil, "address", c.failoverAddress)
		if c.failoverPort != 0 {
			fo = append(fo, "port: "+strconv.Itoa(c.failoverPort))
		}
		spec = append(spec, "failover: "+flowMap(fo))
	}
	spec = append(spec, c.extra...)
	return header(fleet.KindCluster, c.name, "", c.labels) + "spec: " + flowMap(spec) + "\n"
}

// ServiceDoc builds a GlobalService document.
type ServiceDoc struct {
	namespace, name string
	port            int
	clusters        []string
	order           []string
	policy          string
	healthCheck     bool
	extra           []string
}

// Service starts a GlobalService document ("" namespace: the default).
func Service(namespace, name string, port int) *ServiceDoc {
	return &ServiceDoc{namespace: namespace, name: name, port: port}
}

// On places the service in the named clusters (spec.clusters.names).
func (s *ServiceDoc) On(clusters ...string) *ServiceDoc { s.clusters = clusters; return s }

// Ordered sets spec.failover to the ordered policy with this order.
func (s *ServiceDoc) Ordered(order ...string) *ServiceDoc {
	s.policy, s.order = "ordered", order
	return s
}

// Locality sets spec.failover to the locality policy.
func (s *ServiceDoc) Locality() *ServiceDoc { s.policy = "locality"; return s }

// HealthCheck sets an HTTP health check on /healthz every 5s, timeout 1s.
func (s *ServiceDoc) HealthCheck() *ServiceDoc { s.healthCheck = true; return s }

// Spec adds "key: value" to spec, value in YAML flow style.
func (s *ServiceDoc) Spec(key, value string) *ServiceDoc {
	s.extra = append(s.extra, key+": "+value)
	return s
}

// YAML returns the document.
func (s *ServiceDoc) YAML() string {
	var b strings.Builder
	b.WriteString(header(fleet.KindGlobalService, s.name, s.namespace, nil))
	b.WriteString("spec:\n")
	fmt.Fprintf(&b, "  port: %d\n", s.port)
	if len(s.clusters) > 0 {
		fmt.Fprintf(&b, "  clusters: {names: %s}\n", flowList(s.clusters))
	}
	switch {
	case len(s.order) > 0:
		fmt.Fprintf(&b, "  failover: {policy: %s, order: %s}\n", s.policy, flowList(s.order))
	case s.policy != "":
		fmt.Fprintf(&b, "  failover: {policy: %s}\n", s.policy)
	}
	if s.healthCheck {
		b.WriteString("  healthCheck: {path: /healthz, interval: 5s, timeout: 1s}\n")
	}
	for _, e := range s.extra {
		b.WriteString("  " + e + "\n")
	}
	return b.String()
}

// RouteDoc builds a GlobalRoute document.
type RouteDoc struct {
	namespace, name string
	hosts           []string
	clusters        []string
	tls             string
	redirect        bool
	rules           []string
	extra           []string
}

// Route starts a GlobalRoute document ("" namespace: the default).
func Route(namespace, name string, hosts ...string) *RouteDoc {
	return &RouteDoc{namespace: namespace, name: name, hosts: hosts}
}

// On serves the route in the named clusters only (spec.clusters.names).
func (r *RouteDoc) On(clusters ...string) *RouteDoc { r.clusters = clusters; return r }

// TLS serves the hosts over HTTPS with the Secret secretName; redirect
// answers plain HTTP with a 301 to https.
func (r *RouteDoc) TLS(secretName string, redirect bool) *RouteDoc {
	r.tls, r.redirect = secretName, redirect
	return r
}

// To adds a rule that sends everything it matches to the services, in equal shares.
func (r *RouteDoc) To(services ...string) *RouteDoc {
	return r.Rule("backends: " + Backends(services...))
}

// Rule adds a rule written as YAML mapping lines ("name: api",
// "match: {pathPrefix: /api}", "backends: [...]"), one field a line.
func (r *RouteDoc) Rule(fields ...string) *RouteDoc {
	var lines []string
	for _, f := range fields {
		lines = append(lines, strings.Split(strings.Trim(f, "\n"), "\n")...)
	}
	for i := range lines {
		if i == 0 {
			lines[i] = "  - " + lines[i]
		} else {
			lines[i] = "    " + lines[i]
		}
	}
	r.rules = append(r.rules, strings.Join(lines, "\n"))
	return r
}

// Spec adds "key: value" to spec, value in YAML flow style.
func (r *RouteDoc) Spec(key, value string) *RouteDoc {
	r.extra = append(r.extra, key+": "+value)
	return r
}

// YAML returns the document.
func (r *RouteDoc) YAML() string {
	var b strings.Builder
	b.WriteString(header(fleet.KindGlobalRoute, r.name, r.namespace, nil))
	b.WriteString("spec:\n")
	fmt.Fprintf(&b, "  hosts: %s\n", flowList(r.hosts))
	if len(r.clusters) > 0 {
		fmt.Fprintf(&b, "  clusters: {names: %s}\n", flowList(r.clusters))
	}
	if r.tls != "" {
		tls := []string{"secretName: " + scalar(r.tls)}
		if r.redirect {
			tls = append(tls, "httpsRedirect: true")
		}
		fmt.Fprintf(&b, "  tls: %s\n", flowMap(tls))
	}
	for _, e := range r.extra {
		b.WriteString("  " + e + "\n")
	}
	b.WriteString("  rules:\n")
	for _, rule := range r.rules {
		b.WriteString(rule + "\n")
	}
	return b.String()
}

// Backends is a flow list of backends, one per service: "[{service: a}]".
func Backends(services ...string) string {
	items := make([]string, len(services))
	for i, s := range services {
		items[i] = "{service: " + scalar(s) + "}"
	}
	return "[" + strings.Join(items, ", ") + "]"
}

func header(kind, name, namespace string, labels []string) string {
	meta := []string{"name: " + scalar(name)}
	meta = appendField(meta, "namespace", namespace)
	if len(labels) > 0 {
		var kv []string
		for i := 0; i+1 < len(labels); i += 2 {
			kv = append(kv, scalar(labels[i])+": "+scalar(labels[i+1]))
		}
		meta = append(meta, "labels: "+flowMap(kv))
	}
	return "apiVersion: " + fleet.APIVersion + "\nkind: " + kind + "\nmetadata: " + flowMap(meta) + "\n"
}

func appendField(fields []string, key, value string) []string {
	if value == "" {
		return fields
	}
	return append(fields, key+": "+scalar(value))
}

func flowMap(fields []string) string { return "{" + strings.Join(fields, ", ") + "}" }

func flowList(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = scalar(s)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

var plainScalar = regexp.MustCompile(`^[A-Za-z0-9_./~][A-Za-z0-9_./~@*-]*$`)

// scalar writes s plain when YAML reads it back as the same string, else quoted.
func scalar(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "~":
		return strconv.Quote(s)
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.Quote(s)
	}
	if plainScalar.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}
