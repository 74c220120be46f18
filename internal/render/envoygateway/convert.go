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

// object converts a typed object rendered for this cluster from the named
// source (see render.Convert).
func (r *renderer) object(typed any, sourceKind, sourceNamespace, sourceName string) (*unstructured.Unstructured, error) {
	return render.Convert(typed, r.Cluster, sourceKind, sourceNamespace, sourceName)
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
