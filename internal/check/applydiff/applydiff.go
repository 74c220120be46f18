// Package applydiff gives gatefed check the comparison gatefed diff makes,
// from the apply engine.
package applydiff

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/fleet"
)

var _ check.Differ = Differ{}

// Differ is check's Differ made of gatefed diff's engine: a plan of the cluster's
// ApplySet with pruning, then a server-side dry-run of each object that the
// cheap comparison does not find in sync. It writes nothing.
type Differ struct {
	// Kubeconfig is used for clusters whose Cluster document names none.
	Kubeconfig string
	// CacheDir holds the discovery cache (default: apply's).
	CacheDir string
}

// Diff compares one cluster's live objects with the render.
func (d Differ) Diff(ctx context.Context, c *fleet.Cluster, objects []*unstructured.Unstructured) ([]check.Change, error) {
	eng := apply.New(apply.Options{Kubeconfig: d.Kubeconfig, CacheDir: d.CacheDir, Prune: true, AllowEmpty: true, Parallel: 1})
	p := eng.Plan(ctx, []apply.Target{{Cluster: c, Objects: objects}})
	eng.Diff(ctx, p)
	cp := p.Clusters[0]
	if cp.Err != nil {
		return nil, cp.Err
	}
	if len(cp.Errors) > 0 {
		errs := make([]error, len(cp.Errors))
		for i, e := range cp.Errors {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	var out []check.Change
	for _, ch := range cp.Changes {
		switch ch.Op {
		case apply.OpCreate, apply.OpUpdate, apply.OpDelete:
			out = append(out, check.Change{Op: string(ch.Op), Kind: ch.Kind, Namespace: ch.Namespace, Name: ch.Name})
		}
	}
	return out, nil
}
