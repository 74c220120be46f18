package envoygateway

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// healthSignals reads each HTTPRoute rule with a fallback Backend: Envoy
// Gateway fails over to it only on the active or passive health check of a
// BackendTrafficPolicy targeting the rule or its route.
func healthSignals(objs []*unstructured.Unstructured) provider.HealthSignals {
	fallback, covered := fallbackBackends(objs), checkedRoutes(objs)
	var hs provider.HealthSignals
	for _, o := range objs {
		if o.GetKind() != kindHTTPRoute {
			continue
		}
		route := o.GetNamespace() + "/" + o.GetName()
		rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
		for i, r := range rules {
			rm, _ := r.(map[string]any)
			if !failsOver(rm, o.GetNamespace(), fallback) {
				continue
			}
			hs.Paths++
			section, _ := rm["name"].(string)
			if covered[route+"#"+section] || covered[route+"#"] {
				continue
			}
			hs.Missing = append(hs.Missing, fmt.Sprintf("HTTPRoute %s %s (%s)", route, ruleLabel(section, i), o.GetAnnotations()[render.AnnotationSource]))
		}
	}
	return hs
}

// fallbackBackends are the namespace/name of the Backends with fallback: true.
func fallbackBackends(objs []*unstructured.Unstructured) map[string]bool {
	fallback := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() != kindBackend {
			continue
		}
		if fb, _, _ := unstructured.NestedBool(o.Object, "spec", "fallback"); fb {
			fallback[o.GetNamespace()+"/"+o.GetName()] = true
		}
	}
	return fallback
}

// checkedRoutes are the HTTPRoutes (namespace/name#section, "" for the
// whole route) a BackendTrafficPolicy gives an active or passive health check.
func checkedRoutes(objs []*unstructured.Unstructured) map[string]bool {
	covered := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() != kindPolicy {
			continue
		}
		_, active, _ := unstructured.NestedMap(o.Object, "spec", "healthCheck", "active")
		_, passive, _ := unstructured.NestedMap(o.Object, "spec", "healthCheck", "passive")
		if !active && !passive {
			continue
		}
		refs, _, _ := unstructured.NestedSlice(o.Object, "spec", "targetRefs")
		for _, r := range refs {
			rm, _ := r.(map[string]any)
			if rm["kind"] != kindHTTPRoute {
				continue
			}
			section, _ := rm["sectionName"].(string)
			covered[fmt.Sprintf("%s/%v#%s", o.GetNamespace(), rm["name"], section)] = true
		}
	}
	return covered
}

// failsOver reports whether a rule of a route in namespace ns has a fallback
// Backend among its backendRefs.
func failsOver(rule map[string]any, ns string, fallback map[string]bool) bool {
	refs, _ := rule["backendRefs"].([]any)
	for _, b := range refs {
		bm, _ := b.(map[string]any)
		refNS, _ := bm["namespace"].(string)
		if refNS == "" {
			refNS = ns
		}
		if bm["kind"] == kindBackend && fallback[fmt.Sprintf("%s/%v", refNS, bm["name"])] {
			return true
		}
	}
	return false
}
