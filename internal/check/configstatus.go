package check

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/status"
)

// managedSelector selects the objects labelled as gatefed's; ours narrows
// them to this cluster's ApplySet and render.
const managedSelector = render.LabelManagedBy + "=" + render.ManagedByValue

// managedKinds are the kinds whose managed objects config-status reads: what
// the render holds plus every kind the provider may render, so objects left
// from an older render are read too. Sorted.
func managedKinds(env *clusterEnv) []schema.GroupKind {
	set := map[schema.GroupKind]bool{}
	for _, o := range env.objects {
		set[o.GroupVersionKind().GroupKind()] = true
	}
	desc := env.provider()
	written := map[schema.GroupKind]bool{}
	for _, k := range desc.Kinds {
		written[k.GroupKind()] = true
	}
	for _, c := range desc.CRDs {
		if written[c.GroupKind()] {
			set[c.GroupKind()] = true
		}
	}
	out := make([]schema.GroupKind, 0, len(set))
	for gk := range set {
		out = append(out, gk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// listManaged lists the objects gatefed manages on the cluster (clusterEnv.ours:
// members of its ApplySet, as gatefed diff sees them) of every served kind,
// in parallel. When sizing or drift runs too, they read one list of each
// kind (filtered here); otherwise the server filters by gatefed's label, in the
// namespaces gatefed manages objects of that kind in. Kinds the API does
// not serve are returned in missing.
func listManaged(ctx context.Context, env *clusterEnv, kinds []schema.GroupKind) (objs []*unstructured.Unstructured, missing []schema.GroupKind, errs []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	shared := env.sharedLists()
	for _, gk := range kinds {
		m := env.mapping(gk)
		if m == nil {
			missing = append(missing, gk)
			continue
		}
		wg.Go(func() {
			var found []*liveObject
			var err error
			switch {
			case shared:
				var l *listed
				if l, err = env.listAll(ctx, m); err == nil {
					found = l.objects
				}
			case m.Scope.Name() == meta.RESTScopeNameRoot:
				found, err = env.listKind(ctx, m, "", managedSelector)
			default:
				found, err = env.listNamespaces(ctx, m, env.namespacesOf(gk), managedSelector)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			for _, o := range found {
				if env.ours(o.Unstructured) {
					objs = append(objs, o.Unstructured)
				}
			}
		})
	}
	wg.Wait()
	render.SortObjects(objs)
	return objs, missing, errs
}

func checkConfigStatus(ctx context.Context, env *clusterEnv, res *result) {
	objs, missing, errs := listManaged(ctx, env, managedKinds(env))
	for _, err := range errs {
		res.fail(err.Error(), rbacHint("list", ""))
	}
	if len(missing) > 0 {
		names := make([]string, len(missing))
		for i, gk := range missing {
			names[i] = gk.String()
		}
		res.info("not served by the API, not read: " + strings.Join(names, ", ") + " (see gateway-install)")
	}
	counts := map[status.State]int{}
	for _, o := range objs {
		ref := objRef(o.GetKind(), o.GetNamespace(), o.GetName())
		v := status.Of(o)
		counts[v.State]++
		source := o.GetAnnotations()[render.AnnotationSource]
		from := ""
		if source != "" {
			from = " (rendered from " + source + ")"
		}
		if o.GetKind() == render.KindCertificate {
			certificateStatus(env, res, o, ref, v)
			continue
		}
		switch v.State {
		case status.Accepted:
			if v.Reason != "" {
				res.objWarn(ref, fmt.Sprintf("%s is accepted with warnings: %s", ref, v.Reason),
					"read the warning in the object's status and fix its source document"+from)
			}
		case status.Rejected:
			res.objFail(ref, fmt.Sprintf("%s is rejected: %s", ref, orText(v.Reason, "no reason given")),
				fmt.Sprintf("fix the source document%s and apply again; kubectl get %s -n %s %s -o yaml shows the whole status",
					from, strings.ToLower(o.GetKind()), o.GetNamespace(), o.GetName()))
		case status.Pending:
			msg := fmt.Sprintf("%s has no verdict from its gateway: %s", ref, v.Reason)
			if v.Reason == "no status yet" {
				msg = fmt.Sprintf("no controller has reported on %s", ref)
			}
			res.objWarn(ref, msg, pendingHint(env.cluster.Spec.Gateway.Provider, o))
		}
	}
	res.info(fmt.Sprintf("%s managed: %d accepted, %d rejected, %d without a verdict, %d carry no status",
		plural(len(objs), "object", "objects"), counts[status.Accepted], counts[status.Rejected], counts[status.Pending], counts[status.None]))
}

// pendingHint says what to do about an object without a verdict: its
// provider's hint for the kind, or to check that the controller runs.
func pendingHint(providerName string, o *unstructured.Unstructured) string {
	if hint := provider.PendingHint(o.GroupVersionKind().GroupKind(), o.GetNamespace(), o.GetName()); hint != "" {
		return hint
	}
	return fmt.Sprintf("check that the %s controller runs and watches namespace %s (see gateway-install)", providerName, o.GetNamespace())
}

// certificateStatus reports a cert-manager Certificate that is not Ready:
// its Secret is missing or stale, so failover handshakes fail.
func certificateStatus(env *clusterEnv, res *result, o *unstructured.Unstructured, ref string, v status.Result) {
	if v.State == status.Accepted {
		return
	}
	secret, _, _ := unstructured.NestedString(o.Object, "spec", "secretName")
	hint := fmt.Sprintf("kubectl -n %s describe certificate %s; check the issuer (spec.failoverCertificates.issuerRef of Cluster %s) and that cert-manager runs",
		o.GetNamespace(), o.GetName(), env.cluster.Name())
	msg := fmt.Sprintf("%s is not Ready (%s): Secret %s/%s may be missing or stale", ref, orText(v.Reason, "no status"), o.GetNamespace(), secret)
	if v.State == status.Rejected {
		res.objFail(ref, msg, hint)
		return
	}
	res.objWarn(ref, msg, hint)
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
