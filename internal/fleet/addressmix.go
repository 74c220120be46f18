package fleet

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/gatefed/gatefed/internal/provider"
)

// DefaultClusterDomain is the DNS domain of a cluster's Services.
const DefaultClusterDomain = "cluster.local"

// AddressIsIP reports whether a failover address is an IP address rather
// than a DNS name.
func AddressIsIP(addr string) bool { return net.ParseIP(addr) != nil }

// RemoteTargets returns the clusters other than src that could be failover
// tiers of s for src: the clusters s runs in that have spec.failover, by name.
func (f *Fleet) RemoteTargets(s *GlobalService, src *Cluster) []*Cluster {
	var out []*Cluster
	for _, c := range f.Placed(s.Spec.Clusters) {
		if c.Metadata.Name != src.Metadata.Name && c.FailoverTarget() {
			out = append(out, c)
		}
	}
	return out
}

// failoverAddressMix rejects a rule that a cluster whose provider holds
// failover addresses of one kind only (Envoy Gateway) would
// have to send to failover targets with IP addresses and with DNS names at
// once. Envoy Gateway cannot keep IP and DNS endpoints in one Envoy cluster:
// it builds one cluster per backendRef instead, and every fallback tier then
// takes a weighted share of healthy traffic. The error stands at each
// Cluster whose address is a DNS name, once.
func (v *validator) failoverAddressMix(f *Fleet) {
	reported := map[string]bool{}
	for _, r := range f.Routes {
		for _, src := range f.Placed(r.Spec.Clusters) {
			desc := provider.Lookup(src.Spec.Gateway.Provider)
			if desc == nil || !desc.Failover.AddressesOfOneKind {
				continue
			}
			for i, rule := range r.Spec.Rules {
				var ips, names []*Cluster
				seen := map[string]bool{}
				for _, b := range rule.Backends {
					s := f.Service(r.BackendRef(b))
					if s == nil {
						continue
					}
					for _, c := range f.RemoteTargets(s, src) {
						if seen[c.Metadata.Name] || c.Spec.Failover.Address == "" {
							continue
						}
						seen[c.Metadata.Name] = true
						if AddressIsIP(c.Spec.Failover.Address) {
							ips = append(ips, c)
						} else {
							names = append(names, c)
						}
					}
				}
				if len(ips) == 0 || len(names) == 0 {
					continue
				}
				rule := fmt.Sprintf("rule %d", i)
				if r.Spec.Rules[i].Name != "" {
					rule = fmt.Sprintf("rule %q", r.Spec.Rules[i].Name)
				}
				for _, c := range names {
					if reported[c.Metadata.Name] {
						continue
					}
					reported[c.Metadata.Name] = true
					v.add(clusterRef(c), "spec.failover.address",
						"%q is a DNS name, but %s cluster %q also fails GlobalRoute %s %s over to %s, which have IP addresses: %s cannot hold both in one Envoy cluster and would split healthy traffic across failover tiers; give these failover targets the same kind of address (all DNS names or all IP addresses)",
						c.Spec.Failover.Address, desc.Name, src.Metadata.Name, r.Key(), rule, addressList(ips), desc.Title)
				}
			}
		}
	}
}

func addressList(cs []*Cluster) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s (%s)", c.Metadata.Name, c.Spec.Failover.Address)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
