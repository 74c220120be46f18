// Package explain answers "which cluster serves this traffic if ...": for
// every source cluster, the failover tiers of each service and, for each
// route rule, which cluster serves which share of the weight, under a
// failure scenario (clusters down, services missing). It is a pure
// computation on the fleet; the tiers come from plan.Tiers.
package explain

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
)

// Reasons a scenario gives for leaving a cluster out.
const (
	ReasonDown    = "cluster down"
	ReasonMissing = "service missing"
)

// Options say what to explain and under which failure scenario.
type Options struct {
	// Target is a GlobalRoute or GlobalService: "namespace/name", or a bare
	// name unique across namespaces. Empty explains everything.
	Target string
	// From restricts the source clusters; empty means every cluster.
	From []string
	// Down clusters neither serve nor source traffic.
	Down []string
	// Missing are "SERVICE@CLUSTER": the service is absent from that cluster.
	Missing []string
	// Availability, when set, is presence discovered from the clusters; the
	// scenario applies on top of it.
	Availability plan.Availability
}

// InputError is bad input: an unknown or ambiguous name.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// Report is the answer.
type Report struct {
	// Sources are the source clusters explained, sorted by name; down ones are left out.
	Sources []string `json:"sources"`
	// Down and Missing restate the scenario.
	Down     []string       `json:"down"`
	Missing  []MissingRef   `json:"missing"`
	Services []ServiceTiers `json:"services"`
	Routes   []RouteTraffic `json:"routes"`
	// Outages are the routed services and route rules with no tier left,
	// and the routes whose every serving cluster is down.
	Outages  []Outage `json:"outages"`
	Warnings []string `json:"warnings"`
	// Receiving are the clusters up whose gateway serves a route: where
	// clients may still enter. Set when a cluster is down.
	Receiving []string `json:"receiving"`
	// Entry says what becomes of the clients that enter through a down
	// cluster's gateway; empty when no cluster is down.
	Entry string `json:"entry,omitempty"`
}

// MissingRef is one --missing SERVICE@CLUSTER.
type MissingRef struct {
	Service string `json:"service"`
	Cluster string `json:"cluster"`
}

// ServiceTiers is a service's tiers seen from one source cluster.
type ServiceTiers struct {
	Source  string `json:"source"`
	Service string `json:"service"`
	Policy  string `json:"policy"`
	// Routed is true when a route served by the source's gateway sends to the service.
	Routed  bool        `json:"routed"`
	Tiers   []Tier      `json:"tiers"`
	Skipped []plan.Skip `json:"skipped"`
}

// Tier is one cluster of a tier list.
type Tier struct {
	Cluster string `json:"cluster"`
	Local   bool   `json:"local"`
	// Priority is the tier's Envoy priority: its place in the list, or 1
	// for every tier after the first where the source's gateway has one
	// shared fallback priority (Envoy Gateway without strictTiers).
	Priority int `json:"priority"`
}

// RouteTraffic is where a route's traffic goes from one source cluster.
type RouteTraffic struct {
	Source string        `json:"source"`
	Route  string        `json:"route"`
	Rules  []RuleTraffic `json:"rules"`
}

// RuleTraffic is where one rule's traffic goes.
type RuleTraffic struct {
	// Rule is the rule's name, or rules[i].
	Rule     string           `json:"rule"`
	Match    string           `json:"match"`
	Backends []BackendTraffic `json:"backends"`
	// ServedBy adds the backends' shares up per cluster, largest first.
	ServedBy []Share `json:"servedBy"`
	// Failing is the percentage of the rule's requests no cluster serves (HTTP 500).
	Failing float64 `json:"failing"`
	// Answer is what the gateway itself answers a rule without backends:
	// "redirect 301" or "direct response 503".
	Answer string `json:"answer,omitempty"`
	// Mirror is where the rule's copies go, if it mirrors.
	Mirror *MirrorTraffic `json:"mirror,omitempty"`
}

// MirrorTraffic is a rule's mirror: the share of requests copied, and the
// cluster that receives the copies (empty when none is left: copies are
// dropped, the requests themselves are served as before).
type MirrorTraffic struct {
	Service string  `json:"service"`
	Percent float64 `json:"percent"`
	Cluster string  `json:"cluster"`
	Local   bool    `json:"local"`
	Usual   string  `json:"usual"`
}

// BackendTraffic is one backend's share and the cluster that serves it.
type BackendTraffic struct {
	Service string  `json:"service"`
	Weight  int32   `json:"weight"`
	Percent float64 `json:"percent"`
	// Cluster serves the share; empty when the service has no tier left.
	Cluster string `json:"cluster"`
	// Local is true when Cluster is the source itself.
	Local bool `json:"local"`
	// Usual is the cluster that serves the share when every placed cluster
	// is available; it differs from Cluster when the scenario fails it over.
	Usual string `json:"usual"`
	// Split is how the share spreads over the tiers of a shared fallback
	// priority (Envoy Gateway without strictTiers) once tier 0 is gone;
	// Cluster is the first of them.
	Split []Share `json:"split,omitempty"`
}

// Share is a percentage of a rule's requests served by one cluster.
type Share struct {
	Cluster string  `json:"cluster"`
	Percent float64 `json:"percent"`
}

// Outage is a routed service or a route rule with no tier left, from one source.
type Outage struct {
	Source  string `json:"source"`
	Service string `json:"service"`
	Route   string `json:"route,omitempty"`
	Rule    string `json:"rule,omitempty"`
	// Percent of the rule's requests that fail; 0 for a service outage,
	// 100 for a route no cluster is left to serve.
	Percent float64 `json:"percent,omitempty"`
	// Clusters are, for a route no cluster is left to serve, the clusters
	// that serve it, all down.
	Clusters []string `json:"clusters,omitempty"`
	Message  string   `json:"message"`
}

// Scenario is an Availability: down clusters, missing services, then
// whatever discovered presence says.
type Scenario struct {
	Down       map[string]bool
	Missing    map[string]map[string]bool // service key -> cluster -> missing
	Discovered plan.Availability
}

// Unavailable implements plan.Availability.
func (s *Scenario) Unavailable(svc *fleet.GlobalService, cluster string) string {
	if s.Down[cluster] {
		return ReasonDown
	}
	if s.Missing[svc.Key()][cluster] {
		return ReasonMissing
	}
	if s.Discovered != nil {
		return s.Discovered.Unavailable(svc, cluster)
	}
	return ""
}

// Explain computes the report.
func Explain(f *fleet.Fleet, opts Options) (*Report, error) {
	rep := &Report{Sources: []string{}, Down: []string{}, Missing: []MissingRef{}, Services: []ServiceTiers{},
		Routes: []RouteTraffic{}, Outages: []Outage{}, Warnings: []string{}, Receiving: []string{}}
	sc := &Scenario{Down: map[string]bool{}, Missing: map[string]map[string]bool{}, Discovered: opts.Availability}

	for _, n := range opts.Down {
		if err := knownCluster(f, n, "--down"); err != nil {
			return nil, err
		}
		if !sc.Down[n] {
			sc.Down[n] = true
			rep.Down = append(rep.Down, n)
		}
	}
	sort.Strings(rep.Down)
	for _, m := range opts.Missing {
		svc, cluster, err := resolveMissing(f, m)
		if err != nil {
			return nil, err
		}
		if sc.Missing[svc.Key()] == nil {
			sc.Missing[svc.Key()] = map[string]bool{}
		}
		if sc.Missing[svc.Key()][cluster] {
			continue
		}
		sc.Missing[svc.Key()][cluster] = true
		rep.Missing = append(rep.Missing, MissingRef{Service: svc.Key(), Cluster: cluster})
		if !svc.Spec.Clusters.Matches(f.Cluster(cluster)) {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("--missing %s: GlobalService %s is not placed in cluster %s, so this changes nothing", m, svc.Key(), cluster))
		}
	}
	sort.Slice(rep.Missing, func(i, j int) bool {
		a, b := rep.Missing[i], rep.Missing[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Cluster < b.Cluster
	})

	sources, err := selectSources(f, opts.From)
	if err != nil {
		return nil, err
	}
	routes, services, err := resolveTarget(f, opts.Target)
	if err != nil {
		return nil, err
	}
	for _, src := range sources {
		if sc.Down[src.Name()] {
			if len(opts.From) > 0 {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("--from %s: the cluster is down in this scenario, so no traffic enters there", src.Name()))
			}
			continue
		}
		rep.Sources = append(rep.Sources, src.Name())
		explainSource(rep, f, src, sc, routes, services)
	}
	rep.Outages = append(rep.Outages, unservedRoutes(f, routes, sc)...)
	if len(rep.Down) > 0 {
		rep.Receiving = receiving(f, sc)
		rep.Entry = entryNote(rep.Down, rep.Receiving)
	}
	return rep, nil
}

// explainSource adds the tiers, traffic and outages seen from one source.
func explainSource(rep *Report, f *fleet.Fleet, src *fleet.Cluster, sc *Scenario, routes []*fleet.GlobalRoute, services []*fleet.GlobalService) {
	tiersOf := func(s *fleet.GlobalService) (now, usual []plan.Tier) {
		now, _ = plan.Tiers(f, s, src, sc)
		usual, _ = plan.Tiers(f, s, src, nil)
		return now, usual
	}
	routed := routedServices(f, src)
	for _, s := range services {
		t, skips := plan.Tiers(f, s, src, sc)
		row := ServiceTiers{Source: src.Name(), Service: s.Key(), Policy: s.Policy(), Routed: routed[s.Key()],
			Tiers: tierList(t, sharedFallback(src)), Skipped: skips}
		if row.Skipped == nil {
			row.Skipped = []plan.Skip{}
		}
		rep.Services = append(rep.Services, row)
		if row.Routed && len(t) == 0 {
			rep.Outages = append(rep.Outages, Outage{Source: src.Name(), Service: s.Key(),
				Message: fmt.Sprintf("from %s: GlobalService %s has no cluster left to serve it%s", src.Name(), s.Key(), skipSuffix(skips))})
		}
	}
	for _, r := range routes {
		if !r.Spec.Clusters.Matches(src) {
			continue
		}
		rt := RouteTraffic{Source: src.Name(), Route: r.Key()}
		for i, rule := range r.Spec.Rules {
			rr := ruleTraffic(f, r, i, rule, tiersOf, sharedFallback(src))
			if rr.Failing > 0 {
				rep.Outages = append(rep.Outages, ruleOutage(src, r, rr))
			}
			if m := rr.Mirror; m != nil && m.Cluster == "" && m.Usual != "" {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("from %s: GlobalRoute %s %s: mirror %s has no cluster left: its copies of %s%% of the requests are dropped (the requests themselves are served as before)",
					src.Name(), r.Key(), rr.Rule, m.Service, FormatPercent(m.Percent)))
			}
			rt.Rules = append(rt.Rules, rr)
		}
		rep.Routes = append(rep.Routes, rt)
	}
}

// ruleOutage is the outage of a rule some of whose backends have no cluster left.
func ruleOutage(src *fleet.Cluster, r *fleet.GlobalRoute, rr RuleTraffic) Outage {
	var dead []string
	for _, b := range rr.Backends {
		if b.Cluster == "" && b.Weight > 0 {
			dead = append(dead, b.Service)
		}
	}
	return Outage{Source: src.Name(), Service: strings.Join(dead, ","), Route: r.Key(), Rule: rr.Rule, Percent: rr.Failing,
		Message: fmt.Sprintf("from %s: GlobalRoute %s %s: %s %s no cluster left: %s%% of its requests fail with HTTP 500",
			src.Name(), r.Key(), rr.Rule, strings.Join(dead, ", "), fleet.Plural(len(dead), "has", "have"), FormatPercent(rr.Failing))}
}

// unservedRoutes are outages of the routes whose every serving cluster is
// down: no gateway is left to receive their traffic.
func unservedRoutes(f *fleet.Fleet, routes []*fleet.GlobalRoute, sc *Scenario) []Outage {
	var out []Outage
	for _, r := range routes {
		placed := f.RouteClusters(r)
		if len(placed) == 0 {
			continue
		}
		names := make([]string, 0, len(placed))
		for _, c := range placed {
			if !sc.Down[c.Name()] {
				names = nil
				break
			}
			names = append(names, c.Name())
		}
		if names == nil {
			continue
		}
		which := "every cluster that serves it is"
		if len(names) == 1 {
			which = "the only cluster that serves it is"
		}
		out = append(out, Outage{Route: r.Key(), Percent: 100, Clusters: names,
			Message: fmt.Sprintf("GlobalRoute %s: %s down (%s): no gateway is left to receive its traffic", r.Key(), which, strings.Join(names, ", "))})
	}
	return out
}

// receiving are the clusters up that serve at least one route, sorted.
func receiving(f *fleet.Fleet, sc *Scenario) []string {
	out := []string{}
	for _, c := range f.Placed(nil) {
		if sc.Down[c.Name()] {
			continue
		}
		for _, r := range f.Routes {
			if r.Spec.Clusters.Matches(c) {
				out = append(out, c.Name())
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// entryNote says that gatefed moves no client off a down cluster's gateway.
func entryNote(down, receiving []string) string {
	to := "none is left"
	if len(receiving) > 0 {
		to = "still receiving traffic: " + strings.Join(receiving, ", ")
	}
	return fmt.Sprintf("clients whose traffic enters through the gateway of %s are not moved by gatefed: DNS or a global load balancer must send them to another cluster (%s)",
		strings.Join(down, ", "), to)
}

// Outage reports whether the scenario leaves any routed traffic without a cluster.
func (r *Report) Outage() bool { return len(r.Outages) > 0 }

func ruleTraffic(f *fleet.Fleet, r *fleet.GlobalRoute, i int, rule fleet.Rule, tiersOf func(*fleet.GlobalService) (now, usual []plan.Tier), shared bool) RuleTraffic {
	rr := RuleTraffic{Rule: RuleName(rule, i), Match: MatchString(rule.Match)}
	switch {
	case rule.Redirect != nil:
		rr.Answer = fmt.Sprintf("redirect %d", rule.Redirect.StatusOf())
	case rule.DirectResponse != nil:
		rr.Answer = fmt.Sprintf("direct response %d", rule.DirectResponse.Status)
	}
	if rule.Mirror != nil {
		rr.Mirror = mirrorTraffic(f, r, rule.Mirror, tiersOf)
	}
	if rr.Answer != "" {
		// The gateway answers itself, whatever clusters are down.
		rr.Backends, rr.ServedBy = []BackendTraffic{}, []Share{}
		return rr
	}
	var total int64
	for _, b := range rule.Backends {
		total += int64(max(b.WeightOf(), 0))
	}
	shares := map[string]float64{}
	for _, b := range rule.Backends {
		key := r.BackendRef(b)
		w := max(b.WeightOf(), 0)
		pct := 0.0
		if total > 0 {
			pct = 100 * float64(w) / float64(total)
		}
		bt := BackendTraffic{Service: key, Weight: w, Percent: round(pct)}
		if s := f.Service(key); s != nil {
			now, usual := tiersOf(s)
			serving := servingTiers(now, usual, shared)
			if len(serving) > 0 {
				bt.Cluster, bt.Local = serving[0].Cluster.Name(), serving[0].Local
			}
			if len(serving) > 1 {
				for _, t := range serving {
					bt.Split = append(bt.Split, Share{Cluster: t.Cluster.Name(), Percent: round(pct / float64(len(serving)))})
				}
			}
			if len(usual) > 0 {
				bt.Usual = usual[0].Cluster.Name()
			}
		}
		switch {
		case bt.Cluster == "":
			rr.Failing += pct
		case w > 0 && bt.Split != nil:
			for _, sh := range bt.Split {
				shares[sh.Cluster] += pct / float64(len(bt.Split))
			}
		case w > 0:
			shares[bt.Cluster] += pct
		}
		rr.Backends = append(rr.Backends, bt)
	}
	if total == 0 {
		rr.Failing = 100 // every weight is 0: the gateway answers HTTP 500
	}
	rr.Failing = round(rr.Failing)
	rr.ServedBy = []Share{}
	for c, p := range shares {
		rr.ServedBy = append(rr.ServedBy, Share{Cluster: c, Percent: round(p)})
	}
	sort.Slice(rr.ServedBy, func(i, j int) bool {
		a, b := rr.ServedBy[i], rr.ServedBy[j]
		if a.Percent != b.Percent {
			return a.Percent > b.Percent
		}
		return a.Cluster < b.Cluster
	})
	return rr
}

// mirrorTraffic is where a rule's mirror copies go.
func mirrorTraffic(f *fleet.Fleet, r *fleet.GlobalRoute, m *fleet.Mirror, tiersOf func(*fleet.GlobalService) (now, usual []plan.Tier)) *MirrorTraffic {
	mt := &MirrorTraffic{Service: r.MirrorRef(m), Percent: float64(m.PercentOf())}
	if s := f.Service(mt.Service); s != nil {
		now, usual := tiersOf(s)
		if len(now) > 0 {
			mt.Cluster, mt.Local = now[0].Cluster.Name(), now[0].Local
		}
		if len(usual) > 0 {
			mt.Usual = usual[0].Cluster.Name()
		}
	}
	return mt
}

// routedServices are the services the source's gateway sends to.
func routedServices(f *fleet.Fleet, src *fleet.Cluster) map[string]bool {
	out := map[string]bool{}
	for _, r := range f.Routes {
		if !r.Spec.Clusters.Matches(src) {
			continue
		}
		for _, rule := range r.Spec.Rules {
			for _, b := range rule.Backends {
				out[r.BackendRef(b)] = true
			}
		}
	}
	return out
}

func tierList(t []plan.Tier, shared bool) []Tier {
	out := make([]Tier, len(t))
	for i, x := range t {
		out[i] = Tier{Cluster: x.Cluster.Name(), Local: x.Local, Priority: priority(i, shared)}
	}
	return out
}

func skipSuffix(skips []plan.Skip) string {
	if len(skips) == 0 {
		return ""
	}
	return " (" + SkipList(skips) + ")"
}

// SkipList formats skips as "a: reason, b: reason".
func SkipList(skips []plan.Skip) string {
	parts := make([]string, len(skips))
	for i, s := range skips {
		parts[i] = s.Cluster + ": " + s.Reason
	}
	return strings.Join(parts, ", ")
}

// RuleName is the rule's name, or rules[i] when it has none.
func RuleName(rule fleet.Rule, i int) string {
	if rule.Name != "" {
		return rule.Name
	}
	return fmt.Sprintf("rules[%d]", i)
}

// MatchString summarises a match: the path, then methods and headers.
func MatchString(m *fleet.Match) string {
	if m == nil {
		return "/"
	}
	var parts []string
	switch {
	case m.PathExact != "":
		parts = append(parts, "="+m.PathExact)
	case m.PathRegex != "":
		parts = append(parts, "~"+m.PathRegex)
	case m.PathPrefix != "":
		parts = append(parts, m.PathPrefix)
	default:
		parts = append(parts, "/")
	}
	if len(m.Methods) > 0 {
		parts = append(parts, strings.Join(m.Methods, "|"))
	}
	for _, h := range m.Headers {
		parts = append(parts, h.Name+"="+h.Value)
	}
	return strings.Join(parts, " ")
}

// FormatPercent prints a percentage with at most one decimal: 50, 33.3.
func FormatPercent(p float64) string {
	s := fmt.Sprintf("%.1f", p)
	return strings.TrimSuffix(s, ".0")
}

func round(p float64) float64 { return math.Round(p*100) / 100 }
