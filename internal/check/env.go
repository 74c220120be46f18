package check

import (
	"context"
	"fmt"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
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
	mapper  meta.RESTMapper

	endpointsMu sync.Mutex
	endpoints   map[string]*endpointCount
}

func newClusterEnv(r *runner, out render.ClusterOutput) *clusterEnv {
	env := &clusterEnv{
		run:       r,
		cluster:   out.Cluster,
		objects:   out.Objects,
		input:     r.input(out.Cluster),
		endpoints: map[string]*endpointCount{},
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
	env.cfg = cfg
	if env.kube, err = kubernetes.NewForConfig(cfg); err == nil {
		if env.dyn, err = dynamic.NewForConfig(cfg); err == nil {
			if env.meta, err = metadata.NewForConfig(cfg); err == nil {
				env.disc, err = discovery.NewDiscoveryClientForConfig(cfg)
			}
		}
	}
	if err != nil {
		env.configErr = fmt.Errorf("client for cluster %s: %w", out.Cluster.Name(), err)
		env.apiErr = env.configErr
	}
	return env
}

// probe reads the server version (timing it) and the served API resources.
func (e *clusterEnv) probe(ctx context.Context) error {
	if e.apiErr != nil {
		return e.apiErr
	}
	start := time.Now()
	body, err := e.kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	e.latency = time.Since(start)
	if err != nil {
		e.apiErr = err
		return err
	}
	var info version.Info
	if err := jsonUnmarshal(body, &info); err != nil {
		e.apiErr = fmt.Errorf("read /version: %w", err)
		return e.apiErr
	}
	e.version = &info
	groups, err := withContext(ctx, func() ([]*restmapper.APIGroupResources, error) {
		return restmapper.GetAPIGroupResources(e.disc)
	})
	if err != nil && len(groups) == 0 {
		e.apiErr = fmt.Errorf("discovery: %w", err)
		return e.apiErr
	}
	e.mapper = restmapper.NewDiscoveryRESTMapper(groups)
	return nil
}

// withContext runs f and returns early when ctx ends (f keeps running until
// the client's own timeout stops it).
func withContext[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type answer struct {
		v   T
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := f()
		ch <- answer{v, err}
	}()
	select {
	case a := <-ch:
		return a.v, a.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// mapping resolves a kind the API serves, or returns nil.
func (e *clusterEnv) mapping(gk schema.GroupKind) *meta.RESTMapping {
	if e.mapper == nil {
		return nil
	}
	m, err := e.mapper.RESTMapping(gk)
	if err != nil {
		return nil
	}
	return m
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

// endpointCount is what a Service's EndpointSlices say about one port.
type endpointCount struct {
	once sync.Once
	// Found is false when the Service does not exist.
	found bool
	// portFound is false when the Service has no such port.
	portFound bool
	ready     int
	notReady  int
	err       error
}

// readyEndpoints reads a Service and its EndpointSlices once per run and
// counts the endpoints of port (ready: conditions.ready true or unset).
func (e *clusterEnv) readyEndpoints(ctx context.Context, namespace, name string, port int32) *endpointCount {
	key := fmt.Sprintf("%s/%s:%d", namespace, name, port)
	e.endpointsMu.Lock()
	ec, ok := e.endpoints[key]
	if !ok {
		ec = &endpointCount{}
		e.endpoints[key] = ec
	}
	e.endpointsMu.Unlock()
	ec.once.Do(func() { ec.read(ctx, e.kube, namespace, name, port) })
	return ec
}

func (ec *endpointCount) read(ctx context.Context, kc kubernetes.Interface, namespace, name string, port int32) {
	svc, err := kc.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if isNotFound(err) {
			return
		}
		ec.err = err
		return
	}
	ec.found = true
	portName := ""
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			ec.portFound = true
			portName = p.Name
		}
	}
	if !ec.portFound {
		return
	}
	slices, err := kc.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + name,
	})
	if err != nil {
		ec.err = err
		return
	}
	for _, s := range slices.Items {
		if !slicePort(s.Ports, portName) {
			continue
		}
		for _, ep := range s.Endpoints {
			// An endpoint is one backend; its addresses are interchangeable.
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ec.ready++
			} else {
				ec.notReady++
			}
		}
	}
}

// slicePort reports whether an EndpointSlice carries the Service port named
// name (EndpointSlice ports take the Service port's name; "" for an unnamed port).
func slicePort(ports []discoveryv1.EndpointPort, name string) bool {
	if len(ports) == 0 {
		return false
	}
	for _, p := range ports {
		pn := ""
		if p.Name != nil {
			pn = *p.Name
		}
		if pn == name {
			return true
		}
	}
	return false
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
