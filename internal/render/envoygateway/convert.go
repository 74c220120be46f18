package envoygateway

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// toObject converts a typed object to unstructured (render.ToUnstructured
// drops null fields), drops its status, and stamps the gatefed labels and
// source annotation.
func toObject(typed any, cluster, sourceKind, sourceNamespace, sourceName string) (*unstructured.Unstructured, error) {
	obj, err := render.ToUnstructured(typed)
	if err != nil {
		return nil, err
	}
	delete(obj.Object, "status")
	render.Stamp(obj, cluster, sourceKind, sourceNamespace, sourceName)
	return obj, nil
}

// gwDuration converts a fleet duration to the Gateway API duration format
// (^([0-9]{1,5}(h|m|s|ms)){1,4}$). Empty or non-positive durations give nil.
// Precision below a millisecond is rounded up to the next millisecond.
func gwDuration(d fleet.Duration) *gwapiv1.Duration {
	v := d.Std()
	if v <= 0 {
		return nil
	}
	ms := (v + time.Millisecond - 1) / time.Millisecond
	h := ms / (60 * 60 * 1000)
	ms -= h * 60 * 60 * 1000
	m := ms / (60 * 1000)
	ms -= m * 60 * 1000
	s := ms / 1000
	ms -= s * 1000
	var b strings.Builder
	for _, part := range []struct {
		n    time.Duration
		unit string
	}{{h, "h"}, {m, "m"}, {s, "s"}, {ms, "ms"}} {
		if part.n > 0 {
			fmt.Fprintf(&b, "%d%s", part.n, part.unit)
		}
	}
	out := gwapiv1.Duration(b.String())
	return &out
}

// tierList is one service's tier clusters in order: "a,c,b".
func tierList(p *render.ServicePlan) string {
	names := make([]string, len(p.Tiers))
	for i, t := range p.Tiers {
		names[i] = t.Cluster.Name()
	}
	return strings.Join(names, ",")
}

// skipList is one service's skipped clusters: "c: reason; d: reason".
func skipList(p *render.ServicePlan, sep string) string {
	parts := make([]string, len(p.Skips))
	for i, s := range p.Skips {
		parts[i] = s.Cluster + ": " + s.Reason
	}
	return strings.Join(parts, sep)
}

// annotateService sets the tiers annotation of an object that belongs to
// one service, and the skipped annotation when clusters were left out:
// "a,c,b" and "c: reason; d: reason", as the gloo provider writes them.
func annotateService(obj *unstructured.Unstructured, p *render.ServicePlan) {
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[render.AnnotationTiers] = tierList(p)
	if len(p.Skips) > 0 {
		ann[render.AnnotationSkipped] = skipList(p, "; ")
	}
	obj.SetAnnotations(ann)
}

// annotateRoute sets the annotations of an object that sends to several
// services, one "namespace/name=..." entry per service joined by "; ":
// tiers "shop/checkout=a,c,b; shop/cart=a" and skipped
// "shop/checkout=c: reason, d: reason".
func annotateRoute(obj *unstructured.Unstructured, plans []*render.ServicePlan) {
	if len(plans) == 0 {
		return
	}
	var tiers, skips []string
	for _, p := range plans {
		tiers = append(tiers, p.Service.Key()+"="+tierList(p))
		if len(p.Skips) > 0 {
			skips = append(skips, p.Service.Key()+"="+skipList(p, ", "))
		}
	}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[render.AnnotationTiers] = strings.Join(tiers, "; ")
	if len(skips) > 0 {
		ann[render.AnnotationSkipped] = strings.Join(skips, "; ")
	}
	obj.SetAnnotations(ann)
}
