// Package applydiff gives gatefed check the comparison gatefed diff makes,
// from the apply engine.
package applydiff

import (
	"context"
	"errors"
	"net/http"

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
	// WrapTransport, when set, wraps every cluster's HTTP transport.
	WrapTransport func(cluster string, rt http.RoundTripper) http.RoundTripper
}

// Diff compares one cluster's live objects with the render.
// conn, when set, is the check's own connection to the cluster.
func (d Differ) Diff(ctx context.Context, c *fleet.Cluster, objects []*unstructured.Unstructured, conn *apply.Conn) ([]check.Change, error) {
	eng := apply.New(apply.Options{Kubeconfig: d.Kubeconfig, CacheDir: d.CacheDir, WrapTransport: d.WrapTransport, Prune: true, AllowEmpty: true, Parallel: 1})
	p := eng.Plan(ctx, []apply.Target{{Cluster: c, Objects: objects, Conn: conn}})
	eng.Diff(ctx, p)
	cp := p.Clusters[0]
	if cp.Err != nil {
		return nil, cp.Err
	}
	var out []check.Change
	var errs []error
	failed := map[string]bool{}
	for _, e := range cp.Errors {
		failed[e.Kind+" "+e.Namespace+"/"+e.Name] = true
		if len(e.Conflicts) == 0 {
			errs = append(errs, e)
			continue
		}
		// Another field manager took over fields gatefed applied: changed out of band.
		out = append(out, check.Change{Op: string(apply.OpUpdate), Kind: e.Kind, Namespace: e.Namespace, Name: e.Name, Detail: apply.ConflictFields(e.Conflicts)})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, ch := range cp.Changes {
		if failed[ch.Kind+" "+ch.Namespace+"/"+ch.Name] {
			continue
		}
		switch ch.Op {
		case apply.OpCreate, apply.OpUpdate, apply.OpDelete:
			out = append(out, check.Change{Op: string(ch.Op), Kind: ch.Kind, Namespace: ch.Namespace, Name: ch.Name})
		}
	}
	return out, nil
}
