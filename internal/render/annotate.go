package render

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TierNames are one service's tier clusters in order.
func TierNames(p *ServicePlan) []string {
	names := make([]string, len(p.Tiers))
	for i, t := range p.Tiers {
		names[i] = t.Cluster.Name()
	}
	return names
}

// TierList is one service's tier clusters in order: "a,c,b".
func TierList(p *ServicePlan) string { return strings.Join(TierNames(p), ",") }

// SkipList is one service's skipped clusters in the planner's order,
// "c: reason" entries joined by sep.
func SkipList(p *ServicePlan, sep string) string {
	parts := make([]string, len(p.Skips))
	for i, s := range p.Skips {
		parts[i] = s.Cluster + ": " + s.Reason
	}
	return strings.Join(parts, sep)
}

// AnnotateService sets the tiers annotation of an object that belongs to
// one service, and the skipped annotation when clusters were left out:
// "a,c,b" and "c: reason; d: reason".
func AnnotateService(obj *unstructured.Unstructured, p *ServicePlan) {
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationTiers] = TierList(p)
	if len(p.Skips) > 0 {
		ann[AnnotationSkipped] = SkipList(p, "; ")
	}
	obj.SetAnnotations(ann)
}

// AnnotateRoute sets the annotations of an object that sends to several
// services, one "namespace/name=..." entry per service joined by "; ":
// tiers "shop/checkout=a,c,b; shop/cart=a" and skipped
// "shop/checkout=c: reason, d: reason".
func AnnotateRoute(obj *unstructured.Unstructured, plans []*ServicePlan) {
	if len(plans) == 0 {
		return
	}
	var tiers, skips []string
	for _, p := range plans {
		tiers = append(tiers, p.Service.Key()+"="+TierList(p))
		if len(p.Skips) > 0 {
			skips = append(skips, p.Service.Key()+"="+SkipList(p, ", "))
		}
	}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationTiers] = strings.Join(tiers, "; ")
	if len(skips) > 0 {
		ann[AnnotationSkipped] = strings.Join(skips, "; ")
	}
	obj.SetAnnotations(ann)
}
