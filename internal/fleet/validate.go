package fleet

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gatefed/gatefed/internal/provider"
)

// validator collects errors for one document at a time.
type validator struct {
	errs Errors
}

type docRef struct {
	kind, namespace, name string
	src                   Source
}

func (v *validator) add(d docRef, field, format string, args ...any) {
	v.errs = append(v.errs, v.err(d, field, format, args...))
}

// addRef adds an error about a name that no document defines: when a
// document could not be read, it may be the consequence of that.
func (v *validator) addRef(d docRef, field, format string, args ...any) {
	e := v.err(d, field, format, args...)
	e.ref = true
	v.errs = append(v.errs, e)
}

func (v *validator) err(d docRef, field, format string, args ...any) FieldError {
	return FieldError{
		File: d.src.File, Line: d.src.LineOf(field),
		Kind: d.kind, Namespace: d.namespace, Name: d.name,
		Field: field, Message: fmt.Sprintf(format, args...), doc: d.src.Line,
	}
}

func clusterRef(c *Cluster) docRef {
	return docRef{KindCluster, "", c.Metadata.Name, c.Source}
}

func serviceRef(s *GlobalService) docRef {
	return docRef{KindGlobalService, s.Metadata.Namespace, s.Metadata.Name, s.Source}
}

func routeRef(r *GlobalRoute) docRef {
	return docRef{KindGlobalRoute, r.Metadata.Namespace, r.Metadata.Name, r.Source}
}

func (f *Fleet) validate() Errors {
	v := &validator{}
	if len(f.Clusters) == 0 && (len(f.Services) > 0 || len(f.Routes) > 0) {
		first := Source{File: "-", Line: 1}
		if len(f.Services) > 0 {
			first = f.Services[0].Source
		} else {
			first = f.Routes[0].Source
		}
		v.errs = append(v.errs, FieldError{File: first.File, Line: first.Line, Message: "the fleet has no Cluster documents", ref: true})
	}
	clusterNames := make([]string, 0, len(f.Clusters))
	seenCluster := map[string]*Cluster{}
	for _, c := range f.Clusters {
		v.cluster(c)
		if prev, dup := seenCluster[c.Metadata.Name]; dup && c.Metadata.Name != "" {
			v.add(clusterRef(c), "metadata.name", "duplicate Cluster %q (also defined at %s:%d)", c.Metadata.Name, prev.Source.File, prev.Source.Line)
			continue
		}
		seenCluster[c.Metadata.Name] = c
		clusterNames = append(clusterNames, c.Metadata.Name)
	}
	sort.Strings(clusterNames)

	serviceKeys := []string{}
	seenService := map[string]*GlobalService{}
	for _, s := range f.Services {
		v.service(f, s, clusterNames)
		if prev, dup := seenService[s.Key()]; dup && s.Metadata.Name != "" {
			v.add(serviceRef(s), "metadata.name", "duplicate GlobalService %q (also defined at %s:%d)", s.Key(), prev.Source.File, prev.Source.Line)
			continue
		}
		seenService[s.Key()] = s
		serviceKeys = append(serviceKeys, s.Key())
	}
	sort.Strings(serviceKeys)

	seenRoute := map[string]*GlobalRoute{}
	for _, r := range f.Routes {
		v.route(f, r, clusterNames, serviceKeys)
		v.routeLimits(f, r)
		if prev, dup := seenRoute[r.Key()]; dup && r.Metadata.Name != "" {
			v.add(routeRef(r), "metadata.name", "duplicate GlobalRoute %q (also defined at %s:%d)", r.Key(), prev.Source.File, prev.Source.Line)
			continue
		}
		seenRoute[r.Key()] = r
	}
	v.hostConflicts(f)
	v.extensions(f, clusterNames)
	v.failoverAddressMix(f)
	v.localFailover(f)
	return v.errs
}

func (v *validator) meta(d docRef, m ObjectMeta, nameCheck func(string) []string) {
	if m.Name == "" {
		v.add(d, "metadata.name", "required")
	} else if errs := nameCheck(m.Name); len(errs) > 0 {
		v.add(d, "metadata.name", "invalid name %q: %s", m.Name, errs[0])
	}
	if m.Namespace != "" {
		if errs := validation.IsDNS1123Label(m.Namespace); len(errs) > 0 {
			v.add(d, "metadata.namespace", "invalid namespace %q: %s", m.Namespace, errs[0])
		}
	}
	for _, k := range sortedKeys(m.Labels) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			v.add(d, "metadata.labels."+k, "invalid label key %q: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(m.Labels[k]); len(errs) > 0 {
			v.add(d, "metadata.labels."+k, "invalid label value %q: %s", m.Labels[k], errs[0])
		}
	}
}

func hasClass(d *provider.Descriptor) bool       { return d.Defaults.ClassName != "" }
func hasSelector(d *provider.Descriptor) bool    { return d.Defaults.Selector != nil }
func hasStrictTiers(d *provider.Descriptor) bool { return d.Options.StrictTiers != nil }
func hasIPFamilies(d *provider.Descriptor) bool  { return d.Options.IPFamilies }
func hasVersion(d *provider.Descriptor) bool     { return d.Options.Version != nil }

// gatewayOptions checks the spec.gateway fields only some providers take.
func (v *validator) gatewayOptions(d docRef, g GatewaySpec, desc *provider.Descriptor) {
	only := func(field string, set bool, has func(*provider.Descriptor) bool) bool {
		if set && g.Provider != "" && (desc == nil || !has(desc)) {
			v.add(d, "spec.gateway."+field, "only for provider %s", provider.OrList(provider.NamesWhere(has)))
			return false
		}
		return set && desc != nil
	}
	only("strictTiers", g.StrictTiers, hasStrictTiers)
	if only("ipFamilies", len(g.IPFamilies) > 0, hasIPFamilies) {
		for i, f := range g.IPFamilies {
			if f != "IPv4" && f != "IPv6" {
				v.add(d, fmt.Sprintf("spec.gateway.ipFamilies[%d]", i), "%q is not an IP family (want IPv4 or IPv6, as in the Service's spec.ipFamilies)", f)
			}
		}
	}
	if only("version", g.Version != "", hasVersion) {
		if msg := desc.Options.Version(g.Version); msg != "" {
			v.add(d, "spec.gateway.version", "%s", msg)
		}
	}
}

func (v *validator) cluster(c *Cluster) {
	d := clusterRef(c)
	v.meta(d, c.Metadata, validation.IsDNS1123Label)
	if c.Metadata.Namespace != "" {
		v.add(d, "metadata.namespace", "a Cluster has no namespace")
	}
	g := c.Spec.Gateway
	desc := provider.Lookup(g.Provider)
	switch {
	case g.Provider == "":
		v.add(d, "spec.gateway.provider", "required (want %s)", provider.NameList())
	case desc == nil:
		v.add(d, "spec.gateway.provider", "unknown provider %q%s (want %s)", g.Provider, DidYouMean(g.Provider, provider.Names()), provider.NameList())
	}
	if g.Namespace != "" {
		if errs := validation.IsDNS1123Label(g.Namespace); len(errs) > 0 {
			v.add(d, "spec.gateway.namespace", "invalid namespace %q: %s", g.Namespace, errs[0])
		}
	}
	if g.Name != "" {
		if errs := validation.IsDNS1123Subdomain(g.Name); len(errs) > 0 {
			v.add(d, "spec.gateway.name", "invalid name %q: %s", g.Name, errs[0])
		}
	}
	if g.ClassName != "" && g.Provider != "" && (desc == nil || !hasClass(desc)) {
		v.add(d, "spec.gateway.className", "only for provider %s", provider.OrList(provider.NamesWhere(hasClass)))
	}
	if len(g.Selector) > 0 && g.Provider != "" && (desc == nil || !hasSelector(desc)) {
		v.add(d, "spec.gateway.selector", "only for provider %s", provider.OrList(provider.NamesWhere(hasSelector)))
	}
	v.gatewayOptions(d, g, desc)
	for _, k := range Sorted(g.Selector) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			v.add(d, "spec.gateway.selector."+k, "invalid label key %q: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(g.Selector[k]); len(errs) > 0 {
			v.add(d, "spec.gateway.selector."+k, "invalid label value %q: %s", g.Selector[k], errs[0])
		}
	}
	if g.ClassName != "" {
		if errs := validation.IsDNS1123Subdomain(g.ClassName); len(errs) > 0 {
			v.add(d, "spec.gateway.className", "invalid GatewayClass name %q: %s", g.ClassName, errs[0])
		}
	}
	if fo := c.Spec.Failover; fo != nil {
		switch {
		case fo.Address == "":
			v.add(d, "spec.failover.address", "required: the IP or DNS name other clusters reach this one on")
		case net.ParseIP(fo.Address) == nil && len(validation.IsDNS1123Subdomain(fo.Address)) > 0:
			v.add(d, "spec.failover.address", "%q is neither an IP address nor a DNS name", fo.Address)
		}
		if fo.Port < 0 || fo.Port > 65535 {
			v.add(d, "spec.failover.port", "port %d out of range 1-65535", fo.Port)
		}
	}
	if fc := c.Spec.FailoverCertificates; fc != nil {
		v.failoverCertificates(d, fc)
	}
	if dom := c.Spec.ClusterDomain; dom != "" {
		if errs := validation.IsDNS1123Subdomain(dom); len(errs) > 0 {
			v.add(d, "spec.clusterDomain", "invalid DNS domain %q: %s", dom, errs[0])
		}
	}
	if c.Spec.Zone != "" && c.Spec.Region == "" {
		v.add(d, "spec.zone", "a zone needs a region")
	}
}

func (v *validator) placement(f *Fleet, d docRef, field string, p *Placement, clusterNames []string) {
	if p == nil {
		return
	}
	for i, n := range p.Names {
		if f.Cluster(n) == nil {
			v.addRef(d, fmt.Sprintf("%s.names[%d]", field, i), "unknown cluster %q%s", n, DidYouMean(n, clusterNames))
		}
	}
	if p.Selector != nil {
		for i, e := range p.Selector.MatchExpressions {
			ef := fmt.Sprintf("%s.selector.matchExpressions[%d]", field, i)
			switch e.Operator {
			case "In", "NotIn":
				if len(e.Values) == 0 {
					v.add(d, ef+".values", "operator %s needs values", e.Operator)
				}
			case "Exists", "DoesNotExist":
				if len(e.Values) > 0 {
					v.add(d, ef+".values", "operator %s takes no values", e.Operator)
				}
			default:
				v.add(d, ef+".operator", "unknown operator %q (want In, NotIn, Exists or DoesNotExist)", e.Operator)
			}
			if e.Key == "" {
				v.add(d, ef+".key", "required")
			}
		}
	}
	if len(f.Clusters) > 0 && len(f.Placed(p)) == 0 {
		v.add(d, field, "matches no cluster")
	}
}

func (v *validator) failoverCertificates(d docRef, fc *FailoverCertificates) {
	const f = "spec.failoverCertificates"
	ref := fc.IssuerRef
	if ref.Name == "" {
		v.add(d, f+".issuerRef.name", "required: the cert-manager Issuer or ClusterIssuer that signs the failover certificates")
	} else if errs := validation.IsDNS1123Subdomain(ref.Name); len(errs) > 0 {
		v.add(d, f+".issuerRef.name", "invalid name %q: %s", ref.Name, errs[0])
	}
	if (ref.Group == "" || ref.Group == "cert-manager.io") && ref.Kind != "" && ref.Kind != "Issuer" && ref.Kind != "ClusterIssuer" {
		v.add(d, f+".issuerRef.kind", "unknown kind %q%s (want Issuer or ClusterIssuer)", ref.Kind, DidYouMean(ref.Kind, []string{"Issuer", "ClusterIssuer"}))
	}
	v.duration(d, f+".duration", fc.Duration)
	v.duration(d, f+".renewBefore", fc.RenewBefore)
	if dur, rb := fc.Duration.Std(), fc.RenewBefore.Std(); dur > 0 && rb >= dur {
		v.add(d, f+".renewBefore", "%s must be shorter than duration %s", fc.RenewBefore, fc.Duration)
	}
}

func (v *validator) duration(d docRef, field string, s Duration) {
	if s == "" {
		return
	}
	dur, err := time.ParseDuration(string(s))
	if err != nil {
		v.add(d, field, "invalid duration %q (use a number and unit, such as 5s or 100ms)", string(s))
		return
	}
	if dur <= 0 {
		v.add(d, field, "duration %q must be positive", string(s))
	}
}

var policies = []string{PolicyOrdered, PolicyLocality}

func (v *validator) service(f *Fleet, s *GlobalService, clusterNames []string) {
	d := serviceRef(s)
	v.meta(d, s.Metadata, validation.IsDNS1035Label)
	if s.Spec.ServiceName != "" {
		if errs := validation.IsDNS1035Label(s.Spec.ServiceName); len(errs) > 0 {
			v.add(d, "spec.serviceName", "invalid Service name %q: %s", s.Spec.ServiceName, errs[0])
		}
	}
	switch {
	case s.Spec.Port == 0 && !s.Source.Has("spec.port"):
		v.add(d, "spec.port", "required")
	case s.Spec.Port < 1 || s.Spec.Port > 65535:
		v.add(d, "spec.port", "port %d out of range 1-65535", s.Spec.Port)
	default:
		label := fmt.Sprintf("%s-%d", s.ServiceName(), s.Spec.Port)
		if len(label) > validation.DNS1123LabelMaxLength {
			v.add(d, "spec.serviceName", "failover SNI label %q is longer than 63 characters; use a shorter service name", label)
		}
	}
	v.placement(f, d, "spec.clusters", s.Spec.Clusters, clusterNames)
	placed := f.Placed(s.Spec.Clusters)
	if fo := s.Spec.Failover; fo != nil {
		switch fo.Policy {
		case "", PolicyLocality:
			if len(fo.Order) > 0 {
				v.add(d, "spec.failover.order", "only with policy ordered")
			}
		case PolicyOrdered:
			if len(fo.Order) == 0 {
				v.add(d, "spec.failover.order", "required for policy ordered")
			}
		default:
			v.add(d, "spec.failover.policy", "unknown policy %q%s (want ordered or locality)", fo.Policy, DidYouMean(fo.Policy, policies))
		}
		if fo.MaxTiers < 0 || (fo.MaxTiers == 0 && s.Source.Has("spec.failover.maxTiers")) {
			v.add(d, "spec.failover.maxTiers", "%d: must be at least 1 (1 keeps only the first tier: no failover)", fo.MaxTiers)
		}
		seen := map[string]bool{}
		for i, n := range fo.Order {
			field := fmt.Sprintf("spec.failover.order[%d]", i)
			switch {
			case seen[n]:
				v.add(d, field, "cluster %q listed twice", n)
			case f.Cluster(n) == nil:
				v.addRef(d, field, "unknown cluster %q%s", n, DidYouMean(n, clusterNames))
			case !s.Spec.Clusters.Matches(f.Cluster(n)):
				v.add(d, field, "cluster %q does not run this service (see spec.clusters)", n)
			}
			seen[n] = true
		}
	}
	if hc := s.Spec.HealthCheck; hc != nil {
		if hc.Path == "" {
			v.add(d, "spec.healthCheck.path", "required")
		} else if !strings.HasPrefix(hc.Path, "/") {
			v.add(d, "spec.healthCheck.path", "must start with /")
		}
		// The loader fills in interval, timeout and thresholds left out.
		v.duration(d, "spec.healthCheck.interval", hc.Interval)
		v.duration(d, "spec.healthCheck.timeout", hc.Timeout)
		if hc.HealthyThreshold < 0 {
			v.add(d, "spec.healthCheck.healthyThreshold", "must be at least 1")
		}
		if hc.UnhealthyThreshold < 0 {
			v.add(d, "spec.healthCheck.unhealthyThreshold", "must be at least 1")
		}
	}
	if od := s.Spec.OutlierDetection; od != nil {
		if od.Consecutive5xx < 0 {
			v.add(d, "spec.outlierDetection.consecutive5xx", "must be at least 1")
		}
		if od.MaxEjectionPercent < 0 || od.MaxEjectionPercent > 100 {
			v.add(d, "spec.outlierDetection.maxEjectionPercent", "%d is not a percentage (0-100)", od.MaxEjectionPercent)
		}
		v.duration(d, "spec.outlierDetection.interval", od.Interval)
		v.duration(d, "spec.outlierDetection.baseEjectionTime", od.BaseEjectionTime)
	}
	if s.MaxTiers() != 1 && canFailOver(placed) && !s.HasHealthSignal() {
		v.add(d, "spec", "the service can fail over between clusters but has neither healthCheck nor outlierDetection: every provider needs a health signal to fail over%s", signalUses(placed))
	}
}

// signalUses says, for the providers of the clusters, which health signal
// each fails over by: " (gloo, envoy-gateway: either; istio: ...)".
func signalUses(placed []*Cluster) string {
	var uses []string
	byUse := map[string][]string{}
	for _, d := range provider.All() {
		if d.Failover.SignalUse == "" || !slices.ContainsFunc(placed, func(c *Cluster) bool { return c.Spec.Gateway.Provider == d.Name }) {
			continue
		}
		if byUse[d.Failover.SignalUse] == nil {
			uses = append(uses, d.Failover.SignalUse)
		}
		byUse[d.Failover.SignalUse] = append(byUse[d.Failover.SignalUse], d.Name)
	}
	if len(uses) == 0 {
		return ""
	}
	parts := make([]string, len(uses))
	for i, u := range uses {
		parts[i] = strings.Join(byUse[u], ", ") + ": " + u
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// canFailOver reports whether some source cluster would see more than one tier.
func canFailOver(placed []*Cluster) bool {
	targets := 0
	for _, c := range placed {
		if c.FailoverTarget() {
			targets++
		}
	}
	return targets >= 2 || (targets >= 1 && len(placed) >= 2)
}

var (
	hostLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	methods   = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)

func validHost(h string) string {
	if h == CatchAllHost {
		return ""
	}
	name := strings.TrimPrefix(h, "*.")
	if strings.Contains(name, "*") {
		return "a wildcard is allowed only as the whole first label (\"*.example.com\") or as the whole host (\"*\", every host)"
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return errs[0]
	}
	for _, l := range strings.Split(name, ".") {
		if !hostLabel.MatchString(l) {
			return fmt.Sprintf("label %q is not a DNS label", l)
		}
	}
	return ""
}

func (v *validator) route(f *Fleet, r *GlobalRoute, clusterNames, serviceKeys []string) {
	d := routeRef(r)
	v.meta(d, r.Metadata, validation.IsDNS1123Label)
	if len(r.Spec.Hosts) == 0 {
		v.add(d, "spec.hosts", "required: at least one host")
	}
	seenHost := map[string]bool{}
	for i, h := range r.Spec.Hosts {
		field := fmt.Sprintf("spec.hosts[%d]", i)
		if msg := validHost(h); msg != "" {
			v.add(d, field, "invalid host %q: %s", h, msg)
		}
		if seenHost[h] {
			v.add(d, field, "host %q listed twice", h)
		}
		seenHost[h] = true
		if h == CatchAllHost && len(r.Spec.Hosts) > 1 {
			v.add(d, field, "the catch-all host \"*\" serves every host: it must be the route's only host")
		}
	}
	v.placement(f, d, "spec.clusters", r.Spec.Clusters, clusterNames)
	if t := r.Spec.TLS; t != nil {
		if t.SecretName == "" {
			v.add(d, "spec.tls.secretName", "required: the kubernetes.io/tls Secret with the hosts' certificate, in each serving cluster's gateway namespace")
		} else if errs := validation.IsDNS1123Subdomain(t.SecretName); len(errs) > 0 {
			v.add(d, "spec.tls.secretName", "invalid Secret name %q: %s", t.SecretName, errs[0])
		}
	}
	if len(r.Spec.Rules) == 0 {
		v.add(d, "spec.rules", "required: at least one rule")
	}
	routeClusters := f.Placed(r.Spec.Clusters)
	ruleNames := map[string]bool{}
	for i, rule := range r.Spec.Rules {
		rf := fmt.Sprintf("spec.rules[%d]", i)
		if rule.Name != "" {
			if errs := validation.IsDNS1123Label(rule.Name); len(errs) > 0 {
				v.add(d, rf+".name", "invalid rule name %q: %s", rule.Name, errs[0])
			} else if ruleNames[rule.Name] {
				v.add(d, rf+".name", "rule name %q used twice", rule.Name)
			}
			ruleNames[rule.Name] = true
		}
		v.match(d, rf+".match", rule.Match)
		v.duration(d, rf+".timeout", rule.Timeout)
		if rt := rule.Retries; rt != nil {
			if rt.Attempts < 0 {
				v.add(d, rf+".retries.attempts", "must not be negative")
			}
			v.duration(d, rf+".retries.perTryTimeout", rt.PerTryTimeout)
		}
		v.ruleAction(d, rf, &r.Spec.Rules[i])
		v.ruleOptions(d, rf, &r.Spec.Rules[i], routeClusters)
		v.mirror(f, d, rf, r, rule.Mirror, routeClusters, serviceKeys)
		var sum int64
		for j, b := range rule.Backends {
			bf := fmt.Sprintf("%s.backends[%d]", rf, j)
			w := b.WeightOf()
			if w < 0 {
				v.add(d, bf+".weight", "must not be negative")
			}
			sum += int64(w)
			if b.Service == "" {
				v.add(d, bf+".service", "required")
				continue
			}
			v.serviceRef(f, d, bf+".service", r.BackendRef(b), routeClusters, serviceKeys)
		}
		if len(rule.Backends) > 0 && sum <= 0 {
			v.add(d, rf+".backends", "the weights add up to 0: at least one backend needs a positive weight")
		}
	}
}

// serviceRef checks that a route's reference to a service (a backend or a
// mirror) names a known GlobalService every cluster in from can reach.
func (v *validator) serviceRef(f *Fleet, d docRef, field, key string, from []*Cluster, serviceKeys []string) {
	svc := f.Service(key)
	if svc == nil {
		v.addRef(d, field, "unknown GlobalService %q%s", key, DidYouMean(key, serviceKeys))
		return
	}
	for _, c := range from {
		if !reachable(f, svc, c) {
			v.add(d, field, "GlobalService %q cannot be reached from cluster %q: it does not run there and none of the clusters it runs in has spec.failover", key, c.Metadata.Name)
		}
	}
}

// reachable reports whether cluster c can send traffic for s somewhere.
func reachable(f *Fleet, s *GlobalService, c *Cluster) bool {
	for _, p := range f.Placed(s.Spec.Clusters) {
		if p.Metadata.Name == c.Metadata.Name || p.FailoverTarget() {
			return true
		}
	}
	return false
}

func (v *validator) match(d docRef, field string, m *Match) {
	if m == nil {
		return
	}
	set := 0
	for _, p := range []string{m.PathPrefix, m.PathExact, m.PathRegex} {
		if p != "" {
			set++
		}
	}
	if set > 1 {
		v.add(d, field, "at most one of pathPrefix, pathExact and pathRegex")
	}
	if m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/") {
		v.add(d, field+".pathPrefix", "must start with /")
	}
	if m.PathExact != "" && !strings.HasPrefix(m.PathExact, "/") {
		v.add(d, field+".pathExact", "must start with /")
	}
	if m.PathRegex != "" {
		if _, err := regexp.Compile(m.PathRegex); err != nil {
			v.add(d, field+".pathRegex", "invalid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
	}
	for i, h := range m.Headers {
		hf := fmt.Sprintf("%s.headers[%d]", field, i)
		if h.Name == "" {
			v.add(d, hf+".name", "required")
		} else if errs := validation.IsHTTPHeaderName(h.Name); len(errs) > 0 {
			v.add(d, hf+".name", "invalid header name %q: %s", h.Name, errs[0])
		}
	}
	seen := map[string]bool{}
	for i, method := range m.Methods {
		mf := fmt.Sprintf("%s.methods[%d]", field, i)
		valid := false
		for _, ok := range methods {
			valid = valid || ok == method
		}
		if !valid {
			v.add(d, mf, "unknown HTTP method %q%s", method, DidYouMean(method, methods))
		} else if seen[method] {
			v.add(d, mf, "method %q listed twice", method)
		}
		seen[method] = true
	}
}

// hostConflicts reports a host served by two GlobalRoutes on the same cluster:
// Gloo rejects two VirtualServices with one domain, and the routes would race.
func (v *validator) hostConflicts(f *Fleet) {
	owner := map[string]*GlobalRoute{} // cluster + "|" + host
	for _, r := range f.Routes {
		for i, h := range r.Spec.Hosts {
			for _, c := range f.Placed(r.Spec.Clusters) {
				k := c.Metadata.Name + "|" + h
				if prev, ok := owner[k]; ok && prev != r {
					v.add(routeRef(r), fmt.Sprintf("spec.hosts[%d]", i), "host %q is also served by GlobalRoute %s on cluster %q; put both in one route", h, prev.Key(), c.Metadata.Name)
					break
				}
				owner[k] = r
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
