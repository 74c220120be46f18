package envoygateway

import (
	"reflect"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// retryTriggers are the conditions a rule with retries retries on:
// render.RetryOn, the same for every provider.
var retryTriggers = func() []egv1a1.TriggerEnum {
	var out []egv1a1.TriggerEnum
	for _, t := range strings.Split(render.RetryOn, ",") {
		out = append(out, egv1a1.TriggerEnum(t))
	}
	return out
}()

// rulePolicy is what a BackendTrafficPolicy sets on one HTTPRoute rule.
type rulePolicy struct {
	settings  egv1a1.ClusterSettings
	rateLimit *egv1a1.RateLimitSpec
}

// rulePolicy computes the cluster settings of one rule. Envoy Gateway builds
// one Envoy cluster per HTTPRoute rule, holding every backendRef of the rule
// (local Service endpoints and remote Backends alike), so the rule is where
// a service's health check and outlier detection take effect, next to the
// rule's own timeout and retries. It returns nil when the rule needs none.
func (r *renderer) rulePolicy(route *fleet.GlobalRoute, index int, rule *fleet.Rule) (*rulePolicy, error) {
	var services []*fleet.GlobalService
	seen := map[string]bool{}
	for _, b := range rule.Backends {
		p, err := r.plan(route, b)
		if err != nil {
			return nil, err
		}
		if len(p.Tiers) == 0 || seen[p.Service.Key()] {
			continue
		}
		seen[p.Service.Key()] = true
		services = append(services, p.Service)
	}
	label := ruleLabel(rule.Name, index)

	var s egv1a1.ClusterSettings
	if hc := r.pickHealth(route, label, services, "health check", func(g *fleet.GlobalService) any { return g.Spec.HealthCheck }); hc != nil {
		s.HealthCheck = &egv1a1.HealthCheck{Active: activeHealthCheck(hc.Spec.HealthCheck)}
	}
	if od := r.pickHealth(route, label, services, "outlier detection", func(g *fleet.GlobalService) any { return g.Spec.OutlierDetection }); od != nil {
		if s.HealthCheck == nil {
			s.HealthCheck = &egv1a1.HealthCheck{}
		}
		s.HealthCheck.Passive = passiveHealthCheck(od.Spec.OutlierDetection)
	}
	if rt := rule.Retries; rt != nil {
		attempts := rt.Attempts
		if attempts <= 0 {
			attempts = 1
		}
		retry := &egv1a1.Retry{
			NumRetries: ptrTo(attempts),
			RetryOn:    &egv1a1.RetryOn{Triggers: retryTriggers},
		}
		if d := gwDuration(rt.PerTryTimeout); d != nil {
			retry.PerRetry = &egv1a1.PerRetryPolicy{Timeout: d}
		}
		s.Retry = retry
	}
	if d := gwDuration(rule.Timeout); d != nil {
		s.Timeout = &egv1a1.Timeout{HTTP: &egv1a1.HTTPTimeout{RequestTimeout: d}}
	}
	var rl *egv1a1.RateLimitSpec
	if l := rule.RateLimit; l != nil {
		rl = &egv1a1.RateLimitSpec{Local: &egv1a1.LocalRateLimit{Rules: []egv1a1.RateLimitRule{{
			Limit: egv1a1.RateLimitValue{Requests: uint32(l.Requests), Unit: egv1a1.RateLimitUnit(l.Unit)},
		}}}}
	}
	if reflect.DeepEqual(s, egv1a1.ClusterSettings{}) && rl == nil {
		return nil, nil
	}
	return &rulePolicy{settings: s, rateLimit: rl}, nil
}

// pickHealth returns the first service of a rule with the given setting.
// Envoy Gateway applies one setting to every endpoint of the rule, so when
// the rule's services disagree it warns that the first one applies to all.
func (r *renderer) pickHealth(route *fleet.GlobalRoute, label string, services []*fleet.GlobalService, what string, get func(*fleet.GlobalService) any) *fleet.GlobalService {
	var chosen *fleet.GlobalService
	for _, s := range services {
		if !reflect.ValueOf(get(s)).IsNil() {
			chosen = s
			break
		}
	}
	if chosen == nil {
		return nil
	}
	var differ []string
	for _, s := range services {
		if !reflect.DeepEqual(get(s), get(chosen)) {
			differ = append(differ, s.Key())
		}
	}
	if len(differ) > 0 {
		r.Warnf("GlobalRoute %s %s: Envoy Gateway applies one %s to all backends of a rule; the %s of GlobalService %s also applies to %s",
			route.Key(), label, what, what, chosen.Key(), strings.Join(differ, ", "))
	}
	return chosen
}

// activeHealthCheck copies the health check; the fleet loader has filled in
// interval, timeout and thresholds, so all of them are written and Envoy
// Gateway's own defaults never apply.
func activeHealthCheck(hc *fleet.HealthCheck) *egv1a1.ActiveHealthCheck {
	a := &egv1a1.ActiveHealthCheck{
		Type:     egv1a1.ActiveHealthCheckerTypeHTTP,
		HTTP:     &egv1a1.HTTPActiveHealthChecker{Path: hc.Path},
		Interval: gwDuration(hc.Interval),
		Timeout:  gwDuration(hc.Timeout),
	}
	if hc.HealthyThreshold > 0 {
		a.HealthyThreshold = ptrTo(uint32(hc.HealthyThreshold))
	}
	if hc.UnhealthyThreshold > 0 {
		a.UnhealthyThreshold = ptrTo(uint32(hc.UnhealthyThreshold))
	}
	return a
}

// passiveHealthCheck copies outlier detection, with maxEjectionPercent 100
// when not set.
func passiveHealthCheck(od *fleet.OutlierDetection) *egv1a1.PassiveHealthCheck {
	p := &egv1a1.PassiveHealthCheck{
		Interval:         gwDuration(od.Interval),
		BaseEjectionTime: gwDuration(od.BaseEjectionTime),
	}
	if od.Consecutive5xx > 0 {
		p.Consecutive5xxErrors = ptrTo(uint32(od.Consecutive5xx))
	}
	p.MaxEjectionPercent = ptrTo(od.MaxEjection())
	return p
}

// trafficPolicies renders one BackendTrafficPolicy per rule of a route that
// has settings, attached to the rule by its name (sectionName).
func (r *renderer) trafficPolicies(route *fleet.GlobalRoute) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	routeName := r.httpRouteName(route)
	for _, m := range r.rules[route.Key()] {
		if m.policy == nil {
			continue
		}
		btp := &egv1a1.BackendTrafficPolicy{
			TypeMeta: metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindBackendTrafficPolicy},
			ObjectMeta: metav1.ObjectMeta{
				Name:      r.names.Name(kindPolicy, r.Gateway.Namespace, route.Metadata.Namespace, route.Metadata.Name, m.name),
				Namespace: r.Gateway.Namespace,
			},
		}
		btp.Spec.TargetRefs = []gwapiv1.LocalPolicyTargetReferenceWithSectionName{{
			LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{
				Group: gatewayGroup,
				Kind:  kindHTTPRoute,
				Name:  gwapiv1.ObjectName(routeName),
			},
			SectionName: ptrTo(gwapiv1.SectionName(m.name)),
		}}
		btp.Spec.ClusterSettings = m.policy.settings
		btp.Spec.RateLimit = m.policy.rateLimit
		obj, err := r.object(btp, fleet.KindGlobalRoute, route.Metadata.Namespace, route.Metadata.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}
