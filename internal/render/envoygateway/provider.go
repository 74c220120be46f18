// Package envoygateway renders a cluster's gatefed objects for Envoy Gateway
// and the Gateway API: an HTTPRoute per GlobalRoute, Envoy Gateway Backend
// objects for remote failover tiers, BackendTrafficPolicies for health
// checks, outlier detection, retries and timeouts, ReferenceGrants for
// cross-namespace Services and, on failover targets, a mutual-TLS failover
// Gateway with one TLSRoute per served service.
package envoygateway

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// Names of the failover Gateway, its listener and its ClientTrafficPolicy.
const (
	FailoverGatewayName  = "gatefed-failover"
	FailoverListenerName = "failover"
	FailoverPolicyName   = "gatefed-failover"
)

// New returns the envoy-gateway provider. It renders a cluster's objects
// in a fixed order: ReferenceGrants, Backends, BackendTrafficPolicies,
// EnvoyExtensionPolicies, the tiers' EnvoyPatchPolicy, the failover
// ClientTrafficPolicy and Gateway, HTTPRoutes, TLSRoutes; each group sorted
// by namespace and name.
func New() render.Provider { return render.NewProvider(Descriptor, newRenderer) }

type renderer struct {
	render.Base
	names *render.Namer

	// rules holds, per route key, what each rule renders to.
	rules map[string][]*ruleModel
	// served are the services the failover listener routes, one per SNI.
	served []*fleet.GlobalService
	// byName and byService are the services some rule sends to locally by
	// DNS name (a Backend) and through the Service itself.
	byName, byService map[string]bool
}

// ruleModel is a GlobalRoute rule prepared for rendering.
type ruleModel struct {
	index  int
	rule   *fleet.Rule
	name   string // HTTPRoute rule name; "" leaves the rule unnamed
	policy *rulePolicy
	// byName is set when a remote tier of the rule has a DNS-name address:
	// then every tier, local ones included, is a DNS-name Backend.
	byName bool
}

func newRenderer(base render.Base) *renderer {
	return &renderer{Base: base, rules: map[string][]*ruleModel{}, byName: map[string]bool{}, byService: map[string]bool{}}
}

// Run renders the cluster.
func (r *renderer) Run() ([]*unstructured.Unstructured, error) {
	r.checkPlans()
	r.served = r.servedBySNI()
	if err := r.prepareRules(); err != nil {
		return nil, err
	}
	r.names = render.NewNamer(r.nameRequests())

	var grants, backends, filters, policies, gateways, httpRoutes, tlsRoutes []*unstructured.Unstructured
	var err error
	if grants, err = r.referenceGrants(); err != nil {
		return nil, err
	}
	if backends, err = r.backends(); err != nil {
		return nil, err
	}
	for _, route := range r.In.Routes {
		hr, err := r.httpRoute(route)
		if err != nil {
			return nil, err
		}
		httpRoutes = append(httpRoutes, hr)
		ls, redirect, err := r.tlsObjects(route)
		if err != nil {
			return nil, err
		}
		if ls != nil {
			gateways = append(gateways, ls)
		}
		if redirect != nil {
			httpRoutes = append(httpRoutes, redirect)
		}
		fs, err := r.routeFilters(route)
		if err != nil {
			return nil, err
		}
		filters = append(filters, fs...)
		btps, err := r.trafficPolicies(route)
		if err != nil {
			return nil, err
		}
		policies = append(policies, btps...)
	}
	eeps, err := r.extensionPolicies()
	if err != nil {
		return nil, err
	}
	policies = append(policies, eeps...)
	epp, err := r.tiersPolicy()
	if err != nil {
		return nil, err
	}
	if epp != nil {
		policies = append(policies, epp)
	}
	if r.servesFailover() {
		ctp, gw, err := r.failoverGateway()
		if err != nil {
			return nil, err
		}
		policies = append(policies, ctp)
		gateways = append(gateways, gw)
		if tlsRoutes, err = r.tlsRoutes(); err != nil {
			return nil, err
		}
	}

	var out []*unstructured.Unstructured
	// render.Render puts every cluster's objects in apply order.
	for _, group := range [][]*unstructured.Unstructured{grants, backends, filters, policies, gateways, httpRoutes, tlsRoutes} {
		out = append(out, group...)
	}
	return out, nil
}

// checkPlans warns about services whose tiers Envoy Gateway cannot honour
// fully: without spec.gateway.strictTiers, every tier after the first shares
// one fallback priority. (render.Render itself warns about services without
// any tier.)
func (r *renderer) checkPlans() {
	if r.In.Cluster.Spec.Gateway.StrictTiers {
		return
	}
	for _, key := range r.In.UsedKeys() {
		p := r.In.Used[key]
		switch {
		case len(p.Tiers) > 2:
			var shared []string
			for _, t := range p.Tiers[1:] {
				shared = append(shared, t.Cluster.Name())
			}
			r.Warnf("GlobalService %s: %d failover tiers (%s), but Envoy Gateway has a single fallback priority: %s share it and split fallback traffic between them instead of failing over in order (set spec.gateway.strictTiers to order them with an EnvoyPatchPolicy)",
				key, len(p.Tiers), strings.Join(render.TierNames(p), " > "), strings.Join(shared, ", "))
		}
	}
}

// plan returns the tiers of a route backend's service.
func (r *renderer) plan(route *fleet.GlobalRoute, b fleet.Backend) (*render.ServicePlan, error) {
	key := route.BackendRef(b)
	p := r.In.Used[key]
	if p == nil || p.Service == nil {
		return nil, fmt.Errorf("GlobalRoute %s: no tiers planned for GlobalService %s", route.Key(), key)
	}
	return p, nil
}

// prepareRules names rules and computes their policies before any name is handed out.
func (r *renderer) prepareRules() error {
	for _, route := range r.In.Routes {
		models := make([]*ruleModel, len(route.Spec.Rules))
		taken := map[string]bool{}
		for i := range route.Spec.Rules {
			rule := &route.Spec.Rules[i]
			if rule.Name != "" {
				taken[rule.Name] = true
			}
		}
		for i := range route.Spec.Rules {
			rule := &route.Spec.Rules[i]
			pol, err := r.rulePolicy(route, i, rule)
			if err != nil {
				return err
			}
			m := &ruleModel{index: i, rule: rule, name: rule.Name, policy: pol}
			if err := r.chooseAddressForm(route, m); err != nil {
				return err
			}
			if m.name == "" && (pol != nil || rule.DirectResponse != nil) {
				// A policy attaches to a rule by name, so an unnamed rule gets
				// one; a direct response's filter is named after its rule.
				m.name = fmt.Sprintf("rule-%d", i)
				for n := 2; taken[m.name]; n++ {
					m.name = fmt.Sprintf("rule-%d-%d", i, n)
				}
				taken[m.name] = true
			}
			models[i] = m
		}
		r.rules[route.Key()] = models
	}
	return nil
}

// nameRequests lists every generated name so ambiguous ones get hashed.
func (r *renderer) nameRequests() []render.NameRequest {
	var reqs []render.NameRequest
	for _, route := range r.In.Routes {
		ns, name := route.Metadata.Namespace, route.Metadata.Name
		reqs = append(reqs, render.NameOf(kindHTTPRoute, r.Gateway.Namespace, []string{ns, name}))
		if t := route.Spec.TLS; t != nil {
			reqs = append(reqs, render.NameOf(kindListenerSet, r.Gateway.Namespace, []string{ns, name}))
			if t.HTTPSRedirect {
				reqs = append(reqs, render.NameOf(kindHTTPRoute, r.Gateway.Namespace, []string{ns, name, httpsRedirectSuffix}))
			}
		}
		for _, m := range r.rules[route.Key()] {
			if m.policy != nil {
				reqs = append(reqs, render.NameOf(kindPolicy, r.Gateway.Namespace, []string{ns, name, m.name}))
			}
			if m.rule.DirectResponse != nil {
				reqs = append(reqs, render.NameOf(kindRouteFilter, r.Gateway.Namespace, []string{ns, name, m.name}))
			}
		}
	}
	for _, key := range r.In.UsedKeys() {
		p := r.In.Used[key]
		for _, t := range p.Tiers {
			if !t.Local || r.byName[key] {
				reqs = append(reqs, render.NameOf(kindBackend, r.Gateway.Namespace, backendParts(p.Service, t.Cluster)))
			}
		}
	}
	if r.servesFailover() {
		for _, s := range r.served {
			reqs = append(reqs, render.NameOf(kindTLSRoute, r.Gateway.Namespace, []string{s.Metadata.Namespace, s.Metadata.Name}))
		}
	}
	for _, g := range r.grantModels() {
		reqs = append(reqs, render.NameOf(kindReferenceGrant, g.namespace, []string{g.service}))
	}
	reqs = append(reqs, r.extensionNameRequests()...)
	return reqs
}

func backendParts(s *fleet.GlobalService, target *fleet.Cluster) []string {
	return []string{s.Metadata.Namespace, s.Metadata.Name, target.Name()}
}

func (r *renderer) backendName(s *fleet.GlobalService, target *fleet.Cluster) string {
	return r.names.Name(kindBackend, r.Gateway.Namespace, backendParts(s, target)...)
}

func (r *renderer) httpRouteName(route *fleet.GlobalRoute) string {
	return r.names.Name(kindHTTPRoute, r.Gateway.Namespace, route.Metadata.Namespace, route.Metadata.Name)
}

func (r *renderer) servesFailover() bool {
	return r.In.Cluster.FailoverTarget() && len(r.In.Served) > 0
}

// servedBySNI returns the served services, one per SNI.
func (r *renderer) servedBySNI() []*fleet.GlobalService {
	return r.In.ServedBySNI(func(kept, dropped *fleet.GlobalService, sni string) {
		r.Warnf("GlobalServices %s and %s name the same Service port (SNI %s); failover traffic for both reaches it through %s's TLSRoute", kept.Key(), dropped.Key(), sni, kept.Key())
	})
}

// chooseAddressForm decides how a rule reaches its tiers. Envoy Gateway
// keeps a rule in one Envoy cluster, with fallback priorities, only while all
// its endpoints are of one address type: IP addresses (local Services, IP
// failover addresses) or DNS names. So a rule with a DNS-name failover target
// sends to every tier by DNS name, its local Services included; a rule whose
// remote tiers mix both cannot be rendered (validation reports it first).
func (r *renderer) chooseAddressForm(route *fleet.GlobalRoute, m *ruleModel) error {
	var ips, names []string
	var plans []*render.ServicePlan
	for _, b := range m.rule.Backends {
		p, err := r.plan(route, b)
		if err != nil {
			return err
		}
		plans = append(plans, p)
		for _, t := range p.Tiers {
			switch {
			case t.Local:
			case fleet.AddressIsIP(t.Cluster.Spec.Failover.Address):
				ips = append(ips, t.Cluster.Name())
			default:
				names = append(names, t.Cluster.Name())
			}
		}
	}
	if len(ips) > 0 && len(names) > 0 {
		return fmt.Errorf("GlobalRoute %s %s: failover targets with IP addresses (%s) and DNS names (%s) in one rule: Envoy Gateway would split healthy traffic across tiers; give them the same kind of address",
			route.Key(), ruleLabel(m.rule.Name, m.index), strings.Join(ips, ", "), strings.Join(names, ", "))
	}
	m.byName = len(names) > 0
	if mr := m.rule.Mirror; mr != nil {
		// The mirror sends to its service's first tier by itself: a local
		// Service through the Service (see mirrorFilter).
		if p := r.In.Used[route.MirrorRef(mr)]; p != nil && len(p.Tiers) > 0 && p.Tiers[0].Local {
			r.byService[p.Service.Key()] = true
		}
	}
	for _, p := range plans {
		for _, t := range p.Tiers {
			if !t.Local {
				continue
			}
			if m.byName {
				r.byName[p.Service.Key()] = true
			} else {
				r.byService[p.Service.Key()] = true
			}
		}
	}
	return nil
}

// localHostname is the cluster-local DNS name of a service's Kubernetes Service.
func (r *renderer) localHostname(s *fleet.GlobalService) string {
	return s.ServiceName() + "." + s.Metadata.Namespace + ".svc." + r.In.Cluster.Domain()
}
