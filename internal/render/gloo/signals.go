package gloo

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/gloo/gloov1"
)

// healthSignals reads each Upstream with a failover block: Gloo moves its
// traffic to the next priority only on its healthChecks or outlierDetection.
func healthSignals(objs []*unstructured.Unstructured) provider.HealthSignals {
	var hs provider.HealthSignals
	for _, o := range objs {
		if o.GetKind() != gloov1.KindUpstream {
			continue
		}
		if _, ok, _ := unstructured.NestedMap(o.Object, "spec", "failover"); !ok {
			continue
		}
		hs.Paths++
		hc, _, _ := unstructured.NestedSlice(o.Object, "spec", "healthChecks")
		_, od, _ := unstructured.NestedMap(o.Object, "spec", "outlierDetection")
		if len(hc) == 0 && !od {
			hs.Missing = append(hs.Missing, fmt.Sprintf("Upstream %s/%s (%s)", o.GetNamespace(), o.GetName(), o.GetAnnotations()[render.AnnotationSource]))
		}
	}
	return hs
}
