package apply

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/disk"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// discoveryTTL is how long cached discovery is trusted; a kind the cache does
// not know refreshes it at once.
const discoveryTTL = 6 * time.Hour

// clusterClient talks to one cluster, at most Concurrency requests at a time.
type clusterClient struct {
	dyn    dynamic.Interface
	meta   metadata.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	sem    chan struct{}

	mu    sync.Mutex
	reset bool // discovery was refreshed during this run
}

func newClusterClient(cfg *rest.Config, cacheDir string, concurrency int) (*clusterClient, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	md, err := metadata.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	disc, err := disk.NewCachedDiscoveryClientForConfig(cfg, filepath.Join(cacheDir, "discovery", safeHost(cfg.Host)), "", discoveryTTL)
	if err != nil {
		return nil, err
	}
	return &clusterClient{
		dyn:    dyn,
		meta:   md,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(disc),
		sem:    make(chan struct{}, concurrency),
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

// mapping resolves a kind to its resource, refreshing discovery once when the
// cache does not know the kind (a CRD installed since the cache was written).
func (c *clusterClient) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
