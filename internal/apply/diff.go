package apply

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// Diff fills every change's Diff: objects to create or update are applied
// with dryRun=All and the server's answer is compared with the live object;
// an update whose answer equals the live object becomes unchanged. Objects
// the cheap comparison already found in sync are not sent at all. Deletions
// show the live object going away. Per-object failures (a conflict, a field
// the schema rejects) land in the cluster's Errors.
func (e *Engine) Diff(ctx context.Context, p *Plan) {
	e.forEachCluster(ctx, p.Clusters, func(ctx context.Context, cp *ClusterPlan) {
		if cp.Err != nil {
			return
		}
		e.adopt(cp)
		e.diffCluster(ctx, cp)
	})
}

func (e *Engine) diffCluster(parent context.Context, cp *ClusterPlan) {
	// A failure of the whole cluster stops its other requests.
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	cl := cp.client
	var todo []*Change
	for _, c := range cp.Changes {
		if c.Op == OpCreate || c.Op == OpUpdate {
			todo = append(todo, c)
		}
	}
	e.emit(Event{Cluster: cp.Name, Stage: StageDiffing, Total: len(todo)})
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for _, c := range todo {
		wg.Go(func() {
			var merged *unstructured.Unstructured
			err := cl.do(ctx, func() error {
				var err error
				merged, err = e.serverSideApply(ctx, cl, c, true)
				return err
			})
			whole := e.asClusterError(cp, err)
			mu.Lock()
			defer mu.Unlock()
			done++
			if err != nil && (cp.Err != nil || ctx.Err() != nil) {
				return // the cluster already failed as a whole
			}
			if whole != nil {
				cp.Err = fmt.Errorf("%s while diffing: %w", whole.what, whole.err)
				cancel()
				return
			}
			if err != nil {
				cp.Errors = append(cp.Errors, newObjectError(c, err))
				e.emit(Event{Cluster: cp.Name, Stage: StageDiffing, Done: done, Total: len(todo), Message: newObjectError(c, err).Error()})
				return
			}
			before, after := stripped(c.live), stripped(merged)
			if c.Op == OpUpdate && reflect.DeepEqual(before, after) {
				c.Op = OpUnchanged
			} else {
				c.Diff = objectDiff(before, after, isSecret(c.desired))
			}
			e.emit(Event{Cluster: cp.Name, Stage: StageDiffing, Done: done, Total: len(todo)})
		})
	}
	wg.Wait()
	if cp.Err == nil && parent.Err() != nil {
		cp.Err = fmt.Errorf("interrupted: %w", parent.Err())
	}
	for _, c := range cp.Changes {
		if c.Op == OpDelete {
			c.Diff = objectDiff(stripped(c.live), nil, isSecret(c.live))
		}
	}
	sortErrors(cp.Errors)
	if cp.Failed() {
		e.emitf(cp.Name, StageFailed, "%d %s failed", len(cp.Errors), pluralize(len(cp.Errors), "object", "objects"))
	} else {
		e.emit(Event{Cluster: cp.Name, Stage: StageDone})
	}
}

// applyPatch is one object's apply patch and its options: field manager
// gatefed, strict field validation, dryRun=All when asked. The patch is
// block YAML: the API server reads apply patches with a YAML parser, which
// takes JSON text (a flow mapping to it) more slowly than block YAML.
func (e *Engine) applyPatch(c *Change, dryRun bool) ([]byte, metav1.PatchOptions, error) {
	data, err := render.MarshalYAML(c.desired.Object)
	force := e.opts.ForceConflicts
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force, FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return data, opts, err
}

// serverSideApply sends one apply patch (PATCH application/apply-patch+yaml)
// and returns the whole object the server answers with.
func (e *Engine) serverSideApply(ctx context.Context, cl *clusterClient, c *Change, dryRun bool) (*unstructured.Unstructured, error) {
	data, opts, err := e.applyPatch(c, dryRun)
	if err != nil {
		return nil, err
	}
	return cl.resource(c.mapping, c.Namespace).Patch(ctx, c.Name, types.ApplyPatchType, data, opts)
}

// serverSideApplyMeta sends the same patch but asks for the answer's
// metadata only (as=PartialObjectMetadata): less to encode and decode when
// all that is needed is the new resourceVersion.
func (e *Engine) serverSideApplyMeta(ctx context.Context, cl *clusterClient, c *Change) (*metav1.PartialObjectMetadata, error) {
	data, opts, err := e.applyPatch(c, false)
	if err != nil {
		return nil, err
	}
	r := cl.meta.Resource(c.mapping.Resource)
	if c.mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return r.Namespace(c.Namespace).Patch(ctx, c.Name, types.ApplyPatchType, data, opts)
	}
	return r.Patch(ctx, c.Name, types.ApplyPatchType, data, opts)
}

// objectDiff is the unified YAML diff from before to after (nil is absent).
func objectDiff(before, after map[string]any, secret bool) string {
	if secret {
		before, after = cloneMap(before), cloneMap(after)
		maskSecrets(before, after)
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: yamlLines(before), B: yamlLines(after),
		FromFile: "live", ToFile: "applied", Context: 3,
	})
	if err != nil {
		return fmt.Sprintf("diff failed: %v\n", err)
	}
	return text
}

// yamlLines is an object as YAML lines; nil (absent) has none.
func yamlLines(obj map[string]any) []string {
	if obj == nil {
		return nil
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return []string{fmt.Sprintf("# cannot show: %v\n", err)}
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return (&unstructured.Unstructured{Object: m}).DeepCopy().Object
}

// pluralize is the one plural of every message.
var pluralize = fleet.Plural
