package apply

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/render"
)

// Plan connects to every target cluster, reads what gatefed manages there and
// works out what an apply would do. It writes nothing. Unreachable clusters
// get an Err; the others are planned regardless.
func (e *Engine) Plan(ctx context.Context, targets []Target) *Plan {
	p := &Plan{Prune: e.opts.Prune}
	objs := map[*ClusterPlan][]*unstructured.Unstructured{}
	for _, t := range targets {
		cp := &ClusterPlan{Name: t.Cluster.Name(), Namespace: t.Cluster.Spec.Gateway.Namespace, cluster: t.Cluster}
		objs[cp] = t.Objects
		p.Clusters = append(p.Clusters, cp)
	}
	clusters := map[string]Target{}
	for _, t := range targets {
		clusters[t.Cluster.Name()] = t
	}
	e.forEachCluster(ctx, p.Clusters, func(ctx context.Context, cp *ClusterPlan) {
		cp.started = time.Now()
		cp.Err = e.credentials(cp, e.planCluster(ctx, cp, clusters[cp.Name], objs[cp]))
		cp.planned = time.Since(cp.started)
		if cp.Err != nil {
			e.emitf(cp.Name, StageFailed, "%v", cp.Err)
		}
	})
	return p
}

// liveKey identifies an object across API versions.
type liveKey struct {
	gk        schema.GroupKind
	namespace string
	name      string
}

type listKey struct {
	gk        schema.GroupKind
	namespace string
}

func (e *Engine) planCluster(ctx context.Context, cp *ClusterPlan, t Target, objects []*unstructured.Unstructured) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.emit(Event{Cluster: cp.Name, Stage: StageConnecting})
	cl, err := e.connect(cp, t)
	if err != nil {
		return err
	}
	cp.set = newApplySet(e.opts.ParentName, cp.Namespace, e.opts.Tooling)
	e.emit(Event{Cluster: cp.Name, Stage: StagePlanning})
	if err := e.desiredChanges(cp, objects); err != nil {
		return err
	}
	if err := readApplySetParent(ctx, cp); err != nil {
		return err
	}
	members, err := e.matchLive(ctx, cp)
	if err != nil {
		return err
	}
	if e.opts.Prune {
		return e.planPrunes(cl, cp, members, len(objects))
	}
	return nil
}

// connect makes the cluster's client, from the target's connection or its
// kubeconfig.
func (e *Engine) connect(cp *ClusterPlan, t Target) (*clusterClient, error) {
	conn := t.Conn
	var retries *retryEvents
	if conn == nil {
		retries = &retryEvents{}
		retries.to.Store(e)
		cfg, err := e.restConfig(t.Cluster, retries)
		if err != nil {
			return nil, err
		}
		conn = &Conn{Config: cfg}
	}
	cl, err := newClusterClient(*conn, e.opts.CacheDir, e.opts.Concurrency)
	if err != nil {
		return nil, err
	}
	cl.retries = retries
	cp.client = cl
	return cl, nil
}

// desiredChanges adds the desired objects to the plan, normalized and
// labelled into the ApplySet.
func (e *Engine) desiredChanges(cp *ClusterPlan, objects []*unstructured.Unstructured) error {
	cl, set := cp.client, cp.set
	seen := map[liveKey]bool{}
	for _, obj := range objects {
		gvk := obj.GroupVersionKind()
		m, err := cl.mapping(gvk)
		if ce := e.asClusterError(cp, err); ce != nil {
			// Discovery itself failed: no fault of this object's.
			return fmt.Errorf("read the kinds the API serves (discovery): %w", ce.err)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), transportError(err))
		}
		d := normalize(obj)
		delete(d.Object, "status")
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if d.GetNamespace() == "" {
				d.SetNamespace(cp.Namespace)
			}
		} else {
			d.SetNamespace("")
		}
		labels := d.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelPartOf] = set.id
		d.SetLabels(labels)
		k := liveKey{gvk.GroupKind(), d.GetNamespace(), d.GetName()}
		if seen[k] {
			return fmt.Errorf("%s %s/%s is rendered twice", gvk.Kind, d.GetNamespace(), d.GetName())
		}
		seen[k] = true
		cp.Changes = append(cp.Changes, &Change{
			APIVersion: d.GetAPIVersion(), Kind: d.GetKind(), Namespace: d.GetNamespace(), Name: d.GetName(),
			desired: d, mapping: m, rank: render.KindRank(d.GetKind()),
		})
		set.addMember(gvk.GroupKind(), d.GetNamespace())
	}
	return nil
}

// readApplySetParent reads the ApplySet parent, which says which kinds and
// namespaces members may be in.
func readApplySetParent(ctx context.Context, cp *ClusterPlan) error {
	cl, set := cp.client, cp.set
	var parent *unstructured.Unstructured
	err := cl.do(ctx, func() error {
		var err error
		parent, err = cl.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).
			Namespace(cp.Namespace).Get(ctx, set.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			parent, err = nil, nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("read ApplySet parent ConfigMap %s/%s: %w", cp.Namespace, set.name, transportError(err))
	}
	return set.readParent(parent)
}

// matchLive lists the members in every kind and namespace the set may
// cover, pairs them with the desired objects and sets each change's
// operation. It returns the members nothing rendered.
func (e *Engine) matchLive(ctx context.Context, cp *ClusterPlan) (map[liveKey]*unstructured.Unstructured, error) {
	members, err := e.listMembers(ctx, cp.client, cp.set)
	if err != nil {
		return nil, err
	}
	var missing []*Change
	for _, c := range cp.Changes {
		k := liveKey{c.mapping.GroupVersionKind.GroupKind(), c.Namespace, c.Name}
		if live, ok := members[k]; ok {
			c.live = live
			delete(members, k)
		} else {
			missing = append(missing, c)
		}
	}
	// Objects that exist outside the set (applied by kubectl, say) are updated, not created.
	if err := e.findUnlabelled(ctx, cp.client, missing); err != nil {
		return nil, err
	}
	for _, c := range cp.Changes {
		switch {
		case c.live == nil:
			c.Op = OpCreate
		case inSync(c.desired, c.live):
			c.Op = OpUnchanged
		default:
			c.Op = OpUpdate
		}
	}
	return members, nil
}

// planPrunes deletes the members no longer rendered, dependents first,
// and refuses to delete them all when nothing is rendered for the cluster.
func (e *Engine) planPrunes(cl *clusterClient, cp *ClusterPlan, members map[liveKey]*unstructured.Unstructured, rendered int) error {
	var deletes []*Change
	for _, live := range members {
		m, err := cl.mapping(live.GroupVersionKind())
		if err != nil {
			return err
		}
		deletes = append(deletes, &Change{
			Op: OpDelete, APIVersion: live.GetAPIVersion(), Kind: live.GetKind(),
			Namespace: live.GetNamespace(), Name: live.GetName(),
			live: live, mapping: m, rank: render.KindRank(live.GetKind()),
		})
	}
	sort.Slice(deletes, func(i, j int) bool {
		a, b := deletes[i], deletes[j]
		if a.rank != b.rank {
			return a.rank > b.rank
		}
		return a.Ref() < b.Ref()
	})
	if rendered == 0 && len(deletes) > 0 && !e.opts.AllowEmpty {
		cp.Refused = fmt.Errorf("refusing to delete all %d objects gatefed manages in this cluster: nothing is rendered for it (pass --allow-empty to do so)", len(deletes))
	}
	cp.Changes = append(cp.Changes, deletes...)
	return nil
}

// listMembers lists the ApplySet's members in every kind and namespace the
// set may cover, keyed by group-kind, namespace and name.
func (e *Engine) listMembers(ctx context.Context, cl *clusterClient, set *applySet) (map[liveKey]*unstructured.Unstructured, error) {
	type job struct {
		m  *meta.RESTMapping
		ns string
	}
	var jobs []job
	for _, gk := range set.prunableGKs() {
		m, err := cl.mapping(gk.WithVersion(""))
		if err != nil {
			if set.desiredGKs[gk] {
				return nil, err
			}
			continue // a kind no longer served holds no objects to prune
		}
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			jobs = append(jobs, job{m, ""})
			continue
		}
		for _, ns := range set.prunableNamespaces() {
			jobs = append(jobs, job{m, ns})
		}
	}
	selector := labels.SelectorFromSet(labels.Set{LabelPartOf: set.id})
	out := map[liveKey]*unstructured.Unstructured{}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			err := cl.do(ctx, func() error {
				items, err := cl.listLabelled(ctx, j.m, j.ns, selector)
				if apierrors.IsForbidden(err) && !set.desiredAt[listKey{j.m.GroupVersionKind.GroupKind(), j.ns}] {
					// Least-privilege credentials may write a kind in some of the
					// set's namespaces only; where they cannot even list it, they
					// cannot have created members to prune either.
					return nil
				}
				if err != nil {
					return fmt.Errorf("list %s in %q: %w", j.m.Resource.Resource, j.ns, transportError(err))
				}
				mu.Lock()
				defer mu.Unlock()
				for _, o := range items {
					out[liveKey{j.m.GroupVersionKind.GroupKind(), o.GetNamespace(), o.GetName()}] = o
				}
				return nil
			})
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out, firstErr
}

// findUnlabelled fills in the live state of desired objects that exist but
// are not (yet) members of the set: one metadata-only list per kind and
// namespace, then a read of each object found.
func (e *Engine) findUnlabelled(ctx context.Context, cl *clusterClient, missing []*Change) error {
	groups := map[listKey][]*Change{}
	var order []listKey
	for _, c := range missing {
		k := listKey{c.mapping.GroupVersionKind.GroupKind(), c.Namespace}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	var wg sync.WaitGroup
	for _, k := range order {
		changes := groups[k]
		m := changes[0].mapping
		wg.Go(func() {
			var names map[string]bool
			err := cl.do(ctx, func() error {
				r := cl.meta.Resource(m.Resource)
				var list *metav1.PartialObjectMetadataList
				var err error
				if m.Scope.Name() == meta.RESTScopeNameNamespace {
					list, err = r.Namespace(k.namespace).List(ctx, metav1.ListOptions{})
				} else {
					list, err = r.List(ctx, metav1.ListOptions{})
				}
				if err != nil {
					return fmt.Errorf("list %s in %q: %w", m.Resource.Resource, k.namespace, transportError(err))
				}
				names = make(map[string]bool, len(list.Items))
				for _, it := range list.Items {
					names[it.Name] = true
				}
				return nil
			})
			if err != nil {
				fail(err)
				return
			}
			var inner sync.WaitGroup
			for _, c := range changes {
				if !names[c.Name] {
					continue
				}
				inner.Add(1)
				go func() {
					defer inner.Done()
					err := cl.do(ctx, func() error {
						live, err := cl.resource(c.mapping, c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
						if apierrors.IsNotFound(err) {
							return nil
						}
						if err != nil {
							return fmt.Errorf("get %s: %w", c.Ref(), transportError(err))
						}
						c.live = live
						return nil
					})
					if err != nil {
						fail(err)
					}
				}()
			}
			inner.Wait()
		})
	}
	wg.Wait()
	return firstErr
}
