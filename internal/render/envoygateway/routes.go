package envoygateway

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// routeLimits are the limits of the HTTPRoute schema.
var routeLimits = provider.RouteLimits{
	Object: "an Envoy Gateway HTTPRoute",
	Hosts:  16, Rules: 16, MatchesPerRule: 64, Matches: 128, BackendRefsPerRule: 16,
}

var (
	gatewayGroup = gwapiv1.Group(gwapiv1.GroupName)
	coreGroup    = gwapiv1.Group("")
	egGroup      = gwapiv1.Group(egv1a1.GroupName)
	kindGateway  = gwapiv1.Kind("Gateway")
	kindService  = gwapiv1.Kind("Service")
	kindSecret   = gwapiv1.Kind("Secret")
)

func ptrTo[T any](v T) *T { return &v }

// httpRoute renders a GlobalRoute as an HTTPRoute in the gateway namespace
// attached to the cluster's Gateway.
func (r *renderer) httpRoute(route *fleet.GlobalRoute) (*unstructured.Unstructured, error) {
	if n := len(route.Spec.Hosts); n > routeLimits.Hosts {
		return nil, fmt.Errorf("GlobalRoute %s: %d hosts, an HTTPRoute allows %d", route.Key(), n, routeLimits.Hosts)
	}
	if n := len(route.Spec.Rules); n > routeLimits.Rules {
		return nil, fmt.Errorf("GlobalRoute %s: %d rules, an HTTPRoute allows %d", route.Key(), n, routeLimits.Rules)
	}
	hr := &gwapiv1.HTTPRoute{
		TypeMeta: metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: kindHTTPRoute},
		ObjectMeta: metav1.ObjectMeta{
			Name:      r.httpRouteName(route),
			Namespace: r.Gateway.Namespace,
		},
	}
	hr.Spec.ParentRefs = r.routeParents(route)
	hr.Spec.Hostnames = hostnames(route)

	var plans []*render.ServicePlan
	seen := map[string]bool{}
	totalMatches := 0
	for _, m := range r.rules[route.Key()] {
		rule := gwapiv1.HTTPRouteRule{Matches: httpMatches(m.rule.Match)}
		if m.name != "" {
			rule.Name = ptrTo(gwapiv1.SectionName(m.name))
		}
		if n := len(rule.Matches); n > routeLimits.MatchesPerRule {
			return nil, fmt.Errorf("GlobalRoute %s: %s renders %d matches (one per method), an HTTPRoute rule allows %d", route.Key(), ruleLabel(m.rule.Name, m.index), n, routeLimits.MatchesPerRule)
		}
		totalMatches += len(rule.Matches)
		for _, b := range m.rule.Backends {
			p, err := r.plan(route, b)
			if err != nil {
				return nil, err
			}
			if !seen[p.Service.Key()] {
				seen[p.Service.Key()] = true
				plans = append(plans, p)
			}
			for i := range p.Tiers {
				rule.BackendRefs = append(rule.BackendRefs, r.tierRef(p, i, b.WeightOf(), m.byName))
			}
		}
		rule.Filters = r.ruleFilters(route, m)
		if n := len(rule.BackendRefs); n > routeLimits.BackendRefsPerRule {
			return nil, fmt.Errorf("GlobalRoute %s: %s needs %d backendRefs (one per service and failover tier), an HTTPRoute rule allows %d", route.Key(), ruleLabel(m.rule.Name, m.index), n, routeLimits.BackendRefsPerRule)
		}
		hr.Spec.Rules = append(hr.Spec.Rules, rule)
	}
	if totalMatches > routeLimits.Matches {
		return nil, fmt.Errorf("GlobalRoute %s: %d matches in all, an HTTPRoute allows %d", route.Key(), totalMatches, routeLimits.Matches)
	}

	obj, err := r.object(hr, fleet.KindGlobalRoute, route.Metadata.Namespace, route.Metadata.Name)
	if err != nil {
		return nil, err
	}
	render.AnnotateRoute(obj, plans)
	return obj, nil
}

// ruleLabel names a rule in messages: by its name, or its index.
func ruleLabel(name string, index int) string {
	if name != "" {
		return fmt.Sprintf("rule %q", name)
	}
	return fmt.Sprintf("rule %d", index)
}

// hostnames are a route's HTTPRoute hostnames: none for the catch-all host,
// which an HTTPRoute writes by leaving its hostnames out.
func hostnames(route *fleet.GlobalRoute) []gwapiv1.Hostname {
	if route.CatchAll() {
		return nil
	}
	var out []gwapiv1.Hostname
	for _, h := range route.Spec.Hosts {
		out = append(out, gwapiv1.Hostname(h))
	}
	return out
}

// tierRef is the backendRef of tier i of a service: the local Service for a
// local tier, else the Backend for that cluster (also for a local tier when
// the rule reaches its tiers by DNS name).
func (r *renderer) tierRef(p *render.ServicePlan, i int, weight int32, byName bool) gwapiv1.HTTPBackendRef {
	t := p.Tiers[i]
	var ref gwapiv1.BackendObjectReference
	if t.Local && !byName {
		ref = gwapiv1.BackendObjectReference{
			Group:     ptrTo(coreGroup),
			Kind:      ptrTo(kindService),
			Name:      gwapiv1.ObjectName(p.Service.ServiceName()),
			Namespace: ptrTo(gwapiv1.Namespace(p.Service.Metadata.Namespace)),
			Port:      ptrTo(gwapiv1.PortNumber(p.Service.Spec.Port)),
		}
	} else {
		ref = gwapiv1.BackendObjectReference{
			Group: ptrTo(egGroup),
			Kind:  ptrTo(gwapiv1.Kind(egv1a1.KindBackend)),
			Name:  gwapiv1.ObjectName(r.backendName(p.Service, t.Cluster)),
		}
	}
	return gwapiv1.HTTPBackendRef{BackendRef: gwapiv1.BackendRef{BackendObjectReference: ref, Weight: ptrTo(weight)}}
}

// httpMatches turns a rule's match into HTTPRoute matches: one per method,
// each with the same path and headers. No path means prefix "/".
func httpMatches(m *fleet.Match) []gwapiv1.HTTPRouteMatch {
	path := &gwapiv1.HTTPPathMatch{Type: ptrTo(gwapiv1.PathMatchPathPrefix), Value: ptrTo("/")}
	var headers []gwapiv1.HTTPHeaderMatch
	var methods []string
	if m != nil {
		switch {
		case m.PathExact != "":
			path = &gwapiv1.HTTPPathMatch{Type: ptrTo(gwapiv1.PathMatchExact), Value: ptrTo(m.PathExact)}
		case m.PathRegex != "":
			path = &gwapiv1.HTTPPathMatch{Type: ptrTo(gwapiv1.PathMatchRegularExpression), Value: ptrTo(m.PathRegex)}
		case m.PathPrefix != "":
			path = &gwapiv1.HTTPPathMatch{Type: ptrTo(gwapiv1.PathMatchPathPrefix), Value: ptrTo(m.PathPrefix)}
		}
		for _, h := range m.Headers {
			headers = append(headers, gwapiv1.HTTPHeaderMatch{
				Type:  ptrTo(gwapiv1.HeaderMatchExact),
				Name:  gwapiv1.HTTPHeaderName(h.Name),
				Value: h.Value,
			})
		}
		methods = m.Methods
	}
	if len(methods) == 0 {
		return []gwapiv1.HTTPRouteMatch{{Path: path, Headers: headers}}
	}
	out := make([]gwapiv1.HTTPRouteMatch, 0, len(methods))
	for _, method := range methods {
		out = append(out, gwapiv1.HTTPRouteMatch{
			Path:    path.DeepCopy(),
			Headers: copyHeaders(headers),
			Method:  ptrTo(gwapiv1.HTTPMethod(strings.ToUpper(method))),
		})
	}
	return out
}

func copyHeaders(h []gwapiv1.HTTPHeaderMatch) []gwapiv1.HTTPHeaderMatch {
	if h == nil {
		return nil
	}
	return append([]gwapiv1.HTTPHeaderMatch(nil), h...)
}

// backends renders one Envoy Gateway Backend per remote tier of every used
// service: the target's failover address over mutual TLS with the service's
// SNI. Tier 0 is a primary Backend (the service does not run here); later
// tiers are fallback Backends, which Envoy Gateway puts in one priority.
func (r *renderer) backends() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, key := range r.In.UsedKeys() {
		p := r.In.Used[key]
		for i, t := range p.Tiers {
			if t.Local {
				if r.byName[key] {
					obj, err := r.localBackend(p)
					if err != nil {
						return nil, err
					}
					out = append(out, obj)
				}
				continue
			}
			obj, err := r.backend(p, i)
			if err != nil {
				return nil, err
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

func (r *renderer) backend(p *render.ServicePlan, i int) (*unstructured.Unstructured, error) {
	t := p.Tiers[i]
	if t.Cluster.Spec.Failover == nil || t.Cluster.Spec.Failover.Address == "" {
		return nil, fmt.Errorf("GlobalService %s: tier cluster %s has no failover address", p.Service.Key(), t.Cluster.Name())
	}
	addr, port := t.Cluster.Spec.Failover.Address, t.Cluster.FailoverPort()
	ep := egv1a1.BackendEndpoint{}
	switch ip := net.ParseIP(addr); {
	case ip == nil:
		ep.FQDN = &egv1a1.FQDNEndpoint{Hostname: addr, Port: port}
	default:
		ep.IP = &egv1a1.IPEndpoint{Address: addr, Port: port}
	}
	secretRef := gwapiv1.LocalObjectReference{Group: coreGroup, Kind: kindSecret, Name: render.FailoverUpstreamSecret}
	be := &egv1a1.Backend{
		TypeMeta: metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindBackend},
		ObjectMeta: metav1.ObjectMeta{
			Name:      r.backendName(p.Service, t.Cluster),
			Namespace: r.Gateway.Namespace,
		},
		Spec: egv1a1.BackendSpec{
			Type:      ptrTo(egv1a1.BackendTypeEndpoints),
			Endpoints: []egv1a1.BackendEndpoint{ep},
			Fallback:  ptrTo(i >= 1),
			TLS: &egv1a1.BackendTLSSettings{
				CACertificateRefs: []gwapiv1.LocalObjectReference{secretRef},
				SNI:               ptrTo(gwapiv1.PreciseHostname(render.FailoverSNI(p.Service))),
				BackendTLSConfig: &egv1a1.BackendTLSConfig{
					ClientCertificateRef: &gwapiv1.SecretObjectReference{
						Group: ptrTo(coreGroup),
						Kind:  ptrTo(kindSecret),
						Name:  render.FailoverUpstreamSecret,
					},
				},
			},
		},
	}
	obj, err := r.object(be, fleet.KindGlobalService, p.Service.Metadata.Namespace, p.Service.Metadata.Name)
	if err != nil {
		return nil, err
	}
	render.AnnotateService(obj, p)
	return obj, nil
}

// localBackend renders the Backend through which a rule that reaches its
// tiers by DNS name sends to the local Service: its cluster-local DNS name,
// plain HTTP, priority 0.
func (r *renderer) localBackend(p *render.ServicePlan) (*unstructured.Unstructured, error) {
	be := &egv1a1.Backend{
		TypeMeta: metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindBackend},
		ObjectMeta: metav1.ObjectMeta{
			Name:      r.backendName(p.Service, r.In.Cluster),
			Namespace: r.Gateway.Namespace,
		},
		Spec: egv1a1.BackendSpec{
			Type: ptrTo(egv1a1.BackendTypeEndpoints),
			Endpoints: []egv1a1.BackendEndpoint{{
				FQDN: &egv1a1.FQDNEndpoint{Hostname: r.localHostname(p.Service), Port: p.Service.Spec.Port},
			}},
			Fallback: ptrTo(false),
		},
	}
	obj, err := r.object(be, fleet.KindGlobalService, p.Service.Metadata.Namespace, p.Service.Metadata.Name)
	if err != nil {
		return nil, err
	}
	render.AnnotateService(obj, p)
	return obj, nil
}

// grantModel is one ReferenceGrant: routes in the gateway namespace may
// send to a Service in another namespace.
type grantModel struct {
	namespace, service string
	fromKinds          map[string]bool
	source             *fleet.GlobalService
}

// grantModels lists the ReferenceGrants the cluster needs, sorted by
// namespace and Service name.
func (r *renderer) grantModels() []*grantModel {
	byKey := map[string]*grantModel{}
	add := func(s *fleet.GlobalService, fromKind string) {
		if s.Metadata.Namespace == r.Gateway.Namespace {
			return
		}
		k := s.Metadata.Namespace + "/" + s.ServiceName()
		g := byKey[k]
		if g == nil {
			g = &grantModel{namespace: s.Metadata.Namespace, service: s.ServiceName(), fromKinds: map[string]bool{}, source: s}
			byKey[k] = g
		}
		if s.Key() < g.source.Key() {
			g.source = s
		}
		g.fromKinds[fromKind] = true
	}
	for _, key := range r.In.UsedKeys() {
		p := r.In.Used[key]
		if len(p.Tiers) > 0 && p.Tiers[0].Local && r.byService[key] {
			add(p.Service, kindHTTPRoute)
		}
	}
	if r.servesFailover() {
		for _, s := range r.served {
			add(s, kindTLSRoute)
		}
	}
	out := make([]*grantModel, 0, len(byKey))
	for _, g := range byKey {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *grantModel) int {
		return cmp.Or(strings.Compare(a.namespace, b.namespace), strings.Compare(a.service, b.service))
	})
	return out
}

func (r *renderer) referenceGrants() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, g := range r.grantModels() {
		rg := &gwapiv1.ReferenceGrant{
			TypeMeta: metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: kindReferenceGrant},
			ObjectMeta: metav1.ObjectMeta{
				Name:      r.names.Name(kindReferenceGrant, g.namespace, g.service),
				Namespace: g.namespace,
			},
		}
		for _, kind := range []string{kindHTTPRoute, kindTLSRoute} {
			if g.fromKinds[kind] {
				rg.Spec.From = append(rg.Spec.From, gwapiv1.ReferenceGrantFrom{
					Group:     gatewayGroup,
					Kind:      gwapiv1.Kind(kind),
					Namespace: gwapiv1.Namespace(r.Gateway.Namespace),
				})
			}
		}
		rg.Spec.To = []gwapiv1.ReferenceGrantTo{{
			Group: coreGroup,
			Kind:  kindService,
			Name:  ptrTo(gwapiv1.ObjectName(g.service)),
		}}
		obj, err := r.object(rg, fleet.KindGlobalService, g.source.Metadata.Namespace, g.source.Metadata.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}
