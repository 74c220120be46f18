package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/cluster"
	"github.com/gatefed/gatefed/internal/discover"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// clusterEnv is one cluster's clients, render and what the connectivity
// probe learnt, shared by that cluster's checks.
type clusterEnv struct {
	run     *runner
	cluster *fleet.Cluster
	// objects are the cluster's rendered objects, in apply order.
	objects []*unstructured.Unstructured
	// input is what the provider rendered from: used services with tiers, served services.
	input *render.ClusterInput

	cfg  *rest.Config
	hc   *http.Client // one connection for every client, the drift engine's too
	kube kubernetes.Interface
	dyn  dynamic.Interface
	meta metadata.Interface
	disc discovery.DiscoveryInterface

	// configErr is set when no client could be built (kubeconfig, context).
	configErr error
	// Set by the connectivity probe. apiErr is non-nil when the API cannot be used.
	apiErr  error
	version *version.Info
	latency time.Duration
	// mappings are the kinds the API serves, of those the checks use.
	mappings map[schema.GroupKind]*meta.RESTMapping

	// Reads shared by the checks, each made once per run.
	namespaces readOnce[string, *namespaceServices]
	lists      readOnce[schema.GroupVersionResource, *listed]
	deploys    readOnce[string, *appsv1.Deployment]
	// trust holds the failover Secrets failover-trust parsed; secrets are
	// the reads of them, shared with failover-readiness.
	trust   failoverSecrets
	secrets readOnce[string, *corev1.Secret]

	// ownOnce sets setID (the ID of the cluster's gatefed ApplySet) and
	// rendered (the identities of the rendered objects), for ours.
	ownOnce  sync.Once
	setID    string
	rendered map[objectID]bool
}

// objectID identifies an object across API versions.
type objectID struct {
	gk        schema.GroupKind
	namespace string
	name      string
}

func idOf(o *unstructured.Unstructured) objectID {
	return objectID{o.GroupVersionKind().GroupKind(), o.GetNamespace(), o.GetName()}
}

// ours reports whether a live object labelled as gatefed's is one gatefed
// manages for this cluster: a member of the cluster's ApplySet, as gatefed
// diff and apply count them, or, carrying no ApplySet label, an object the
// render holds (delivered from gatefed render by a GitOps controller, say).
// Objects of another ApplySet are not: another fleet's, or those of another
// gateway namespace of the same cluster.
func (e *clusterEnv) ours(o *unstructured.Unstructured) bool {
	lb := o.GetLabels()
	if lb[render.LabelManagedBy] != render.ManagedByValue {
		return false
	}
	e.ownOnce.Do(func() {
		e.setID = apply.DefaultApplySetID(e.gatewayNamespace())
		e.rendered = make(map[objectID]bool, len(e.objects))
		for _, r := range e.objects {
			e.rendered[idOf(r)] = true
		}
	})
	if set, ok := lb[apply.LabelPartOf]; ok {
		return set == e.setID
	}
	return e.rendered[idOf(o)]
}

func newClusterEnv(r *runner, out render.ClusterOutput) *clusterEnv {
	env := &clusterEnv{
		run:     r,
		cluster: out.Cluster,
		objects: out.Objects,
		input:   r.input(out.Cluster),
	}
	cfg, err := kube.RESTConfig(out.Cluster, r.opts.Kubeconfig)
	if err != nil {
		env.configErr, env.apiErr = err, err
		return env
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1
	cfg.Burst = 0
	// Bounds calls that take no context (discovery); the rest use the check's context.
	cfg.Timeout = r.opts.Timeout
	if w := r.opts.WrapTransport; w != nil {
		name := out.Cluster.Name()
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return w(name, rt) })
	}
	env.cfg = cfg
	// Built-in types travel as protobuf: less to encode and decode on both ends.
	typed := rest.CopyConfig(cfg)
	typed.ContentType = runtime.ContentTypeProtobuf
	typed.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	if env.hc, err = rest.HTTPClientFor(cfg); err == nil {
		if env.kube, err = kubernetes.NewForConfigAndClient(typed, env.hc); err == nil {
			if env.dyn, err = dynamic.NewForConfigAndClient(cfg, env.hc); err == nil {
				if env.meta, err = metadata.NewForConfigAndClient(cfg, env.hc); err == nil {
					env.disc, err = discovery.NewDiscoveryClientForConfigAndClient(cfg, env.hc)
				}
			}
		}
	}
	if err != nil {
		env.configErr = fmt.Errorf("client for cluster %s: %w", out.Cluster.Name(), err)
		env.apiErr = env.configErr
	}
	return env
}

// probe reads the server version (timing it) and, at the same time, which
// of the kinds the checks use the API serves.
func (e *clusterEnv) probe(ctx context.Context) error {
	if e.apiErr != nil {
		return e.apiErr
	}
	var wg sync.WaitGroup
	var discErr error
	wg.Go(func() {
		e.mappings, discErr = e.discover(ctx)
	})
	start := time.Now()
	body, err := e.kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	e.latency = time.Since(start)
	wg.Wait()
	if err != nil {
		e.apiErr = e.credentials(err)
		return e.apiErr
	}
	var info version.Info
	if err := jsonUnmarshal(body, &info); err != nil {
		e.apiErr = fmt.Errorf("read /version: %w", err)
		return e.apiErr
	}
	e.version = &info
	if discErr != nil {
		e.apiErr = e.credentials(fmt.Errorf("discovery: %w", discErr))
		return e.apiErr
	}
	return nil
}

// credentials turns an API server's 401 into an error that names the
// cluster's context and says how to get new credentials.
func (e *clusterEnv) credentials(err error) error {
	if ce := cluster.Rejected(e.cluster, e.run.opts.Kubeconfig, err); ce != nil {
		return ce
	}
	return err
}

// wantedKinds are the kinds the checks may use on this cluster: the
// provider's, the proxy kinds sizing reads and the rendered ones.
func (e *clusterEnv) wantedKinds() map[schema.GroupVersionKind]bool {
	want := map[schema.GroupVersionKind]bool{}
	add := func(gk schema.GroupKind, version string) {
		if version == "" {
			version = "v1"
		}
		want[gk.WithVersion(version)] = true
	}
	desc := e.provider()
	for _, kinds := range [][]provider.Kind{desc.CRDs, desc.Sizing.Kinds} {
		for _, k := range kinds {
			add(k.GroupKind(), k.Version)
		}
	}
	for _, o := range e.objects {
		gvk := o.GroupVersionKind()
		add(gvk.GroupKind(), gvk.Version)
	}
	return want
}

// discover finds how the API serves each wanted kind: one small request per
// group version, in parallel, instead of reading the whole discovery
// document. A kind missing from the version looked at is searched for in
// the group's other served versions.
func (e *clusterEnv) discover(ctx context.Context) (map[schema.GroupKind]*meta.RESTMapping, error) {
	want := e.wantedKinds()
	gvs := map[schema.GroupVersion]bool{}
	for gvk := range want {
		gvs[gvk.GroupVersion()] = true
	}
	out := map[schema.GroupKind]*meta.RESTMapping{}
	var mu sync.Mutex
	var errs []error
	fetch := func(gvList []schema.GroupVersion) {
		var wg sync.WaitGroup
		for _, gv := range gvList {
			wg.Go(func() {
				list, err := e.resourcesOf(ctx, gv)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if !isNotFound(err) {
						errs = append(errs, err)
					}
					return
				}
				for _, r := range list.APIResources {
					if strings.Contains(r.Name, "/") {
						continue // a subresource
					}
					gk := schema.GroupKind{Group: gv.Group, Kind: r.Kind}
					if _, done := out[gk]; done {
						continue
					}
					scope := meta.RESTScopeNamespace
					if !r.Namespaced {
						scope = meta.RESTScopeRoot
					}
					out[gk] = &meta.RESTMapping{
						Resource:         gv.WithResource(r.Name),
						GroupVersionKind: gv.WithKind(r.Kind),
						Scope:            scope,
					}
				}
			})
		}
		wg.Wait()
	}
	first := make([]schema.GroupVersion, 0, len(gvs))
	for gv := range gvs {
		first = append(first, gv)
	}
	fetch(first)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Kinds not found where looked for: try the group's other versions.
	missingGroups := map[string]bool{}
	for gvk := range want {
		if _, ok := out[gvk.GroupKind()]; !ok && gvk.Group != "" {
			missingGroups[gvk.Group] = true
		}
	}
	var more []schema.GroupVersion
	for g := range missingGroups {
		var group metav1.APIGroup
		body, err := e.disc.RESTClient().Get().AbsPath("/apis", g).Do(ctx).Raw()
		if err != nil {
			if isNotFound(err) {
				continue // the group is not served at all
			}
			return nil, err
		}
		if err := json.Unmarshal(body, &group); err != nil {
			return nil, fmt.Errorf("discovery of group %s: %w", g, err)
		}
		for _, v := range group.Versions {
			if gv := (schema.GroupVersion{Group: g, Version: v.Version}); !gvs[gv] {
				more = append(more, gv)
			}
		}
	}
	if len(more) > 0 {
		fetch(more)
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	return out, nil
}

// resourcesOf reads the resources the API serves in one group version.
func (e *clusterEnv) resourcesOf(ctx context.Context, gv schema.GroupVersion) (*metav1.APIResourceList, error) {
	path := []string{"/apis", gv.Group, gv.Version}
	if gv.Group == "" {
		path = []string{"/api", gv.Version}
	}
	body, err := e.disc.RESTClient().Get().AbsPath(path...).Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	var list metav1.APIResourceList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", gv, err)
	}
	return &list, nil
}

// mapping resolves a kind the API serves, or returns nil.
func (e *clusterEnv) mapping(gk schema.GroupKind) *meta.RESTMapping {
	return e.mappings[gk]
}

// resource returns the dynamic client of a mapping in a namespace ("" for all or cluster scope).
func (e *clusterEnv) resource(m *meta.RESTMapping, namespace string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameRoot {
		return e.dyn.Resource(m.Resource)
	}
	if namespace == "" {
		return e.dyn.Resource(m.Resource)
	}
	return e.dyn.Resource(m.Resource).Namespace(namespace)
}

// gatewayNamespace is the cluster's gateway namespace.
func (e *clusterEnv) gatewayNamespace() string { return e.cluster.Spec.Gateway.Namespace }

// provider is the descriptor of the cluster's provider (an empty one for an
// unknown provider, which a loaded fleet never has).
func (e *clusterEnv) provider() *provider.Descriptor {
	if d := provider.Lookup(e.cluster.Spec.Gateway.Provider); d != nil {
		return d
	}
	return &provider.Descriptor{Name: e.cluster.Spec.Gateway.Provider}
}

// endpointCount is what a Service's EndpointSlices say about one port, or
// why they could not be read.
type endpointCount struct {
	discover.Endpoints
	err error
}

// namespaceServices are the Services and EndpointSlices of one namespace,
// read once per run with two list requests.
type namespaceServices struct {
	services map[string]*corev1.Service
	slices   map[string][]discoveryv1.EndpointSlice // by the kubernetes.io/service-name label
}

// readyEndpoints counts the endpoints of a Service's port (ready:
// conditions.ready true or unset), from its namespace's Services and
// EndpointSlices, read once per run and shared by every check.
func (e *clusterEnv) readyEndpoints(ctx context.Context, namespace, name string, port int32) *endpointCount {
	ns, err := e.namespaces.do(namespace, func() (*namespaceServices, error) {
		return readNamespaceServices(ctx, e.kube, namespace)
	})
	if err != nil {
		return &endpointCount{err: err}
	}
	return &endpointCount{Endpoints: discover.CountEndpoints(ns.services[name], ns.slices[name], port)}
}

func readNamespaceServices(ctx context.Context, kc kubernetes.Interface, namespace string) (*namespaceServices, error) {
	var wg sync.WaitGroup
	var svcErr, sliceErr error
	var svcs *corev1.ServiceList
	var slices *discoveryv1.EndpointSliceList
	wg.Add(2)
	go func() {
		defer wg.Done()
		svcs, svcErr = kc.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	}()
	go func() {
		defer wg.Done()
		slices, sliceErr = kc.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName})
	}()
	wg.Wait()
	if err := errors.Join(svcErr, sliceErr); err != nil {
		return nil, err
	}
	ns := &namespaceServices{services: map[string]*corev1.Service{}}
	for i := range svcs.Items {
		ns.services[svcs.Items[i].Name] = &svcs.Items[i]
	}
	ns.slices = map[string][]discoveryv1.EndpointSlice{}
	for _, s := range slices.Items {
		owner := s.Labels[discoveryv1.LabelServiceName]
		ns.slices[owner] = append(ns.slices[owner], s)
	}
	return ns, nil
}

// listed is one kind's objects, listed once per run: in the whole cluster,
// or, when that is forbidden, in the namespaces gatefed manages objects of
// that kind in (partial).
type listed struct {
	objects    []*liveObject
	partial    bool
	namespaces []string
}

// liveObject is a listed object. It is shared between checks, and lent to
// the drift engine, and never changed.
type liveObject struct {
	// Unstructured is the object without its managedFields, as checks read it.
	*unstructured.Unstructured
	// whole is the object as listed, managedFields included.
	whole *unstructured.Unstructured
}

// namespacesOf are the namespaces gatefed manages objects of a kind in:
// the gateway namespace and those of the rendered objects of that kind.
func (e *clusterEnv) namespacesOf(gk schema.GroupKind) []string {
	set := map[string]bool{e.gatewayNamespace(): true}
	for _, o := range e.objects {
		if o.GroupVersionKind().GroupKind() == gk && o.GetNamespace() != "" {
			set[o.GetNamespace()] = true
		}
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// listAll lists every object of a served kind once per run (config-status
// and sizing read the same lists): in the whole cluster, or, when the
// identity may not list it cluster-wide (a service account registered by
// gatefed cluster register may not), in the namespaces of namespacesOf.
func (e *clusterEnv) listAll(ctx context.Context, m *meta.RESTMapping) (*listed, error) {
	return e.lists.do(m.Resource, func() (*listed, error) {
		objs, err := e.listKind(ctx, m, "", "")
		if err == nil || !apierrors.IsForbidden(err) || m.Scope.Name() == meta.RESTScopeNameRoot {
			return &listed{objects: objs}, err
		}
		namespaces := e.namespacesOf(m.GroupVersionKind.GroupKind())
		objs, err = e.listNamespaces(ctx, m, namespaces, "")
		return &listed{objects: objs, partial: true, namespaces: namespaces}, err
	})
}

// sharedLists reports whether the checks read one cluster-wide list of each
// kind (listAll) rather than each filtering on the server: so when two or
// more of them read the same kinds.
func (e *clusterEnv) sharedLists() bool {
	return e.run.enabled(Sizing) || e.run.enabled(Drift)
}

// conn lends the drift engine this cluster's connection, resolved kinds and lists.
func (e *clusterEnv) conn() *apply.Conn {
	if e.configErr != nil {
		return nil
	}
	return &apply.Conn{Config: e.cfg, HTTPClient: e.hc, Mappings: e.mappings, List: e.listedMembers}
}

// listedMembers answers the drift engine's member lists from listAll: the
// objects of m's kind in namespace whose labels match selector. ok is false
// when the run holds no such list.
func (e *clusterEnv) listedMembers(ctx context.Context, m *meta.RESTMapping, namespace string, selector labels.Selector) ([]*unstructured.Unstructured, bool) {
	if !e.sharedLists() {
		return nil, false
	}
	l, err := e.listAll(ctx, m)
	if err != nil || (l.partial && !slices.Contains(l.namespaces, namespace)) {
		return nil, false // the engine lists, and reports any error itself
	}
	namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
	var out []*unstructured.Unstructured
	for _, o := range l.objects {
		if (namespaced && o.GetNamespace() != namespace) || !selector.Matches(labels.Set(o.GetLabels())) {
			continue
		}
		out = append(out, o.whole)
	}
	return out, true
}

// deployment reads a Deployment once per run (gateway-install and sizing
// both read the proxy's).
func (e *clusterEnv) deployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error) {
	return e.deploys.do(namespace+"/"+name, func() (*appsv1.Deployment, error) {
		return e.kube.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	})
}

// listNamespaces lists a kind in each namespace, in parallel.
func (e *clusterEnv) listNamespaces(ctx context.Context, m *meta.RESTMapping, namespaces []string, selector string) ([]*liveObject, error) {
	lists := make([][]*liveObject, len(namespaces))
	errs := make([]error, len(namespaces))
	var wg sync.WaitGroup
	for i, ns := range namespaces {
		wg.Go(func() {
			lists[i], errs[i] = e.listKind(ctx, m, ns, selector)
		})
	}
	wg.Wait()
	var out []*liveObject
	for _, l := range lists {
		out = append(out, l...)
	}
	return out, errors.Join(errs...)
}

// listKind lists a kind (in a namespace, "" for all; with a label
// selector, "" for none) and keeps a view of each object without its
// managedFields.
func (e *clusterEnv) listKind(ctx context.Context, m *meta.RESTMapping, namespace, selector string) ([]*liveObject, error) {
	items, err := kube.List(ctx, e.disc.RESTClient(), m, namespace, selector)
	if err != nil {
		where := ""
		if namespace != "" {
			where = " in namespace " + namespace
		}
		return nil, fmt.Errorf("list %s%s: %w", m.Resource.GroupResource(), where, err)
	}
	out := make([]*liveObject, len(items))
	for i, whole := range items {
		view := make(map[string]any, len(whole.Object))
		for k, v := range whole.Object {
			view[k] = v
		}
		if md, ok := whole.Object["metadata"].(map[string]any); ok {
			viewMD := make(map[string]any, len(md))
			for k, v := range md {
				if k != "managedFields" {
					viewMD[k] = v
				}
			}
			view["metadata"] = viewMD
		}
		out[i] = &liveObject{Unstructured: &unstructured.Unstructured{Object: view}, whole: whole}
	}
	return out, nil
}

// apiFailure says why the cluster's API cannot be used, and what to do.
func apiFailure(e *clusterEnv) (msg, hint string) {
	var ce *cluster.CredentialsError
	var status apierrors.APIStatus
	switch {
	case errors.As(e.apiErr, &ce):
		return ce.Message(), ce.Hint()
	case e.configErr != nil:
		return "no client for the cluster: " + e.configErr.Error(),
			fmt.Sprintf("add context %q to %s, or set spec.context / spec.kubeconfig of Cluster %s", e.cluster.Context(), kubeconfigName(e), e.cluster.Name())
	case errors.As(e.apiErr, &status):
		return fmt.Sprintf("API server of context %q answers with an error: %v", e.cluster.Context(), e.apiErr),
			fmt.Sprintf("the API server answers but fails; look at its health: kubectl --context %s get --raw '/readyz?verbose'", e.cluster.Context())
	}
	return fmt.Sprintf("API server of context %q is not reachable: %v", e.cluster.Context(), e.apiErr), hintUnreachable(e)
}

func hintUnreachable(e *clusterEnv) string {
	return fmt.Sprintf("check that the API server of context %q in %s is up and reachable from this host",
		e.cluster.Context(), kubeconfigName(e))
}

func kubeconfigName(e *clusterEnv) string {
	if p := kube.KubeconfigPath(e.cluster, e.run.opts.Kubeconfig); p != "" {
		return p
	}
	return "the default kubeconfig"
}

// failoverSecret reads a failover Secret of the gateway namespace, whole
// and once per run: failover-trust judges it and failover-readiness sees
// that it exists. Its data stays in memory.
func (e *clusterEnv) failoverSecret(ctx context.Context, name string) (*corev1.Secret, error) {
	return e.secrets.do(name, func() (*corev1.Secret, error) {
		return e.kube.CoreV1().Secrets(e.gatewayNamespace()).Get(ctx, name, metav1.GetOptions{})
	})
}
