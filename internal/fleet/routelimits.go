package fleet

import (
	"fmt"

	"github.com/gatefed/gatefed/internal/provider"
)

// routeLimits refuses a route that a serving cluster's provider could not
// hold in one route object, once per limit, naming the cluster.
func (v *validator) routeLimits(f *Fleet, r *GlobalRoute) {
	d := routeRef(r)
	reported := map[string]bool{}
	report := func(field, format string, args ...any) {
		if !reported[field] {
			reported[field] = true
			v.add(d, field, format, args...)
		}
	}
	for _, c := range f.RouteClusters(r) {
		desc := provider.Lookup(c.Spec.Gateway.Provider)
		if desc == nil || desc.Limits.Route == nil {
			continue
		}
		lim := desc.Limits.Route
		on := fmt.Sprintf("cluster %q (%s) serves it with %s", c.Metadata.Name, c.Spec.Gateway.Provider, lim.Object)
		if n := len(r.Spec.Hosts); over(n, lim.Hosts) {
			report("spec.hosts", "%d hosts: %s, which allows %d; split the hosts over several GlobalRoutes", n, on, lim.Hosts)
		}
		if n := len(r.Spec.Rules); over(n, lim.Rules) {
			report("spec.rules", "%d rules: %s, which allows %d; split the rules over several GlobalRoutes", n, on, lim.Rules)
		}
		matches := 0
		for i := range r.Spec.Rules {
			rf := fmt.Sprintf("spec.rules[%d]", i)
			m := ruleMatches(&r.Spec.Rules[i])
			matches += m
			if over(m, lim.MatchesPerRule) {
				report(rf+".match.methods", "%d methods make %d matches: %s, which allows %d per rule; list fewer methods", m, m, on, lim.MatchesPerRule)
			}
			v.ruleBackendRefs(f, r, i, c, lim, on, report)
		}
		if over(matches, lim.Matches) {
			report("spec.rules", "the rules make %d matches in all (one per method, one for a rule without methods): %s, which allows %d; split the rules over several GlobalRoutes", matches, on, lim.Matches)
		}
	}
}

// ruleBackendRefs refuses a rule needing more backendRefs than lim allows on
// cluster c: one per backend and tier c sees of its service.
func (v *validator) ruleBackendRefs(f *Fleet, r *GlobalRoute, i int, c *Cluster, lim *provider.RouteLimits, on string, report func(field, format string, args ...any)) {
	rule := &r.Spec.Rules[i]
	refs, most := 0, 0
	for _, b := range rule.Backends {
		s := f.Service(r.BackendRef(b))
		if s == nil {
			continue
		}
		n := s.TierCount(f.ServiceClusters(s), c)
		refs += n
		most = max(most, n)
	}
	if !over(refs, lim.BackendRefsPerRule) {
		return
	}
	fix := "split the backends over several rules"
	if fit := lim.BackendRefsPerRule / len(rule.Backends); fit >= 1 {
		fix = fmt.Sprintf("give the services of this rule failover.maxTiers of at most %d, or %s", fit, fix)
	}
	report(fmt.Sprintf("spec.rules[%d].backends", i),
		"needs %d backendRefs, one per backend and failover tier (up to %d tiers per backend): %s, which allows %d per rule; %s",
		refs, most, on, lim.BackendRefsPerRule, fix)
}

// ruleMatches is how many matches a rule renders: one per method, one
// without methods.
func ruleMatches(rule *Rule) int {
	if rule.Match == nil || len(rule.Match.Methods) == 0 {
		return 1
	}
	return len(rule.Match.Methods)
}

func over(n, limit int) bool { return limit > 0 && n > limit }
