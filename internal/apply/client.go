package apply

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/disk"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/gatefed/gatefed/internal/kube"
)

// discoveryTTL is how long cached discovery is trusted; a kind the cache does
// not know refreshes it at once.
const discoveryTTL = 6 * time.Hour

// Conn is a connection to a cluster that a caller already holds and lends
// the engine (gatefed check does, for drift), so that the engine loads no
// kubeconfig, opens no other connection and reads no discovery it has.
type Conn struct {
	// Config is the cluster's client config, as the caller uses it.
	Config *rest.Config
	// HTTPClient carries every request; nil builds one from Config.
	HTTPClient *http.Client
	// Mappings are the kinds the caller has resolved; others are discovered.
	Mappings map[schema.GroupKind]*meta.RESTMapping
	// List, when set, answers the engine's member lists from lists the
	// caller holds: the objects of m's kind in namespace ("" for a
	// cluster-scoped kind) whose labels match selector, complete with
	// managedFields; the engine only reads them. ok is false when the
	// caller holds no such list; the engine then lists itself.
	List func(ctx context.Context, m *meta.RESTMapping, namespace string, selector labels.Selector) (objs []*unstructured.Unstructured, ok bool)
}

// clusterClient talks to one cluster, at most Concurrency requests at a time.
type clusterClient struct {
	dyn  dynamic.Interface
	meta metadata.Interface
	raw  rest.Interface
	sem  chan struct{}
	list func(ctx context.Context, m *meta.RESTMapping, namespace string, selector labels.Selector) ([]*unstructured.Unstructured, bool)

	cfg      *rest.Config
	cacheDir string
	known    map[schema.GroupKind]*meta.RESTMapping
	// retries reports the client's retries (nil for a lent connection).
	retries *retryEvents

	mu     sync.Mutex
	mapper *restmapper.DeferredDiscoveryRESTMapper // built at the first kind known doesn't hold
	reset  bool                                    // discovery was refreshed during this run
}

func newClusterClient(conn Conn, cacheDir string, concurrency int) (*clusterClient, error) {
	cfg, httpClient := conn.Config, conn.HTTPClient
	if httpClient == nil {
		var err error
		if httpClient, err = rest.HTTPClientFor(cfg); err != nil {
			return nil, err
		}
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	md, err := metadata.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	return &clusterClient{
		dyn:      dyn,
		meta:     md,
		raw:      disc.RESTClient(),
		sem:      make(chan struct{}, concurrency),
		list:     conn.List,
		cfg:      cfg,
		cacheDir: cacheDir,
		known:    conn.Mappings,
	}, nil
}

// do runs one request within the cluster's concurrency bound.
func (c *clusterClient) do(ctx context.Context, f func() error) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.sem }()
	if err := ctx.Err(); err != nil {
		return err
	}
	return f()
}

// mapping resolves a kind to its resource: from the kinds the caller
// resolved, else from discovery (cached on disk), refreshed once when the
// cache does not know the kind (a CRD installed since the cache was written).
func (c *clusterClient) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	if m, ok := c.known[gvk.GroupKind()]; ok && (gvk.Version == "" || gvk.Version == m.GroupVersionKind.Version) {
		return m, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mapper == nil {
		disc, err := disk.NewCachedDiscoveryClientForConfig(c.cfg, filepath.Join(c.cacheDir, "discovery", safeHost(c.cfg.Host)), "", discoveryTTL)
		if err != nil {
			return nil, err
		}
		c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(disc)
	}
	var versions []string
	if gvk.Version != "" {
		versions = []string{gvk.Version}
	}
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), versions...)
	if err != nil && meta.IsNoMatchError(err) && !c.reset {
		c.reset = true
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), versions...)
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("the cluster does not serve %s (is its CRD installed?)", gvkString(gvk))
		}
		return nil, err
	}
	return m, nil
}

func gvkString(gvk schema.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Version + " " + gvk.Kind
	}
	return gvk.Group + "/" + gvk.Version + " " + gvk.Kind
}

func (c *clusterClient) resource(m *meta.RESTMapping, namespace string) dynamic.ResourceInterface {
	r := c.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return r.Namespace(namespace)
	}
	return r
}

var unsafeFileChars = regexp.MustCompile(`[^\w.\-]`)

// safeHost turns an API server URL into a directory name.
func safeHost(host string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	return unsafeFileChars.ReplaceAllString(h, "_")
}

// DefaultCacheDir is ${XDG_CACHE_HOME:-~/.cache}/gatefed.
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "gatefed")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "gatefed")
	}
	return filepath.Join(os.TempDir(), "gatefed-cache")
}

// listLabelled returns the objects of a kind in a namespace ("" for a
// cluster-scoped kind) whose labels match selector: from the caller's lists
// when it holds them, else listed here.
func (c *clusterClient) listLabelled(ctx context.Context, m *meta.RESTMapping, namespace string, selector labels.Selector) ([]*unstructured.Unstructured, error) {
	if c.list != nil {
		if objs, ok := c.list(ctx, m, namespace, selector); ok {
			return objs, nil
		}
	}
	return kube.List(ctx, c.raw, m, namespace, selector.String())
}
