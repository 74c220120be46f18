// Package kube builds API clients for fleet clusters from their Cluster documents.
package kube

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gatefed/gatefed/internal/fleet"
)

// KubeconfigPath resolves the kubeconfig for a cluster: the Cluster document's
// spec.kubeconfig, else fallback (the --kubeconfig flag), else $KUBECONFIG,
// else ~/.kube/config. A leading ~ is expanded. An empty result with a
// colon-separated $KUBECONFIG means "use the loading rules".
func KubeconfigPath(c *fleet.Cluster, fallback string) string {
	p := c.Spec.Kubeconfig
	if p == "" {
		p = fallback
	}
	return expandHome(p)
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

// RESTConfig returns a client config for the cluster's kubeconfig context.
// Client-side rate limiting is off: callers bound concurrency themselves.
func RESTConfig(c *fleet.Cluster, fallbackKubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	overrides := &clientcmd.ConfigOverrides{CurrentContext: c.Context()}
	var cc clientcmd.ClientConfig
	if p := KubeconfigPath(c, fallbackKubeconfig); p != "" {
		rules.ExplicitPath = p
		loaded, err := load(rules)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: kubeconfig %s: %w", c.Name(), p, err)
		}
		// A copy: building a client config may write into it (exec plugins).
		cc = clientcmd.NewNonInteractiveClientConfig(*loaded.DeepCopy(), c.Context(), overrides, rules)
	} else {
		cc = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("cluster %s: context %q: %w", c.Name(), c.Context(), err)
	}
	cfg.QPS = -1 // no client-side throttling
	cfg.Burst = 0
	cfg.UserAgent = "gatefed"
	return cfg, nil
}

// parsed holds the kubeconfig files read so far, by path, with a digest of
// their content: the clusters of a fleet often share one file, which need
// not be parsed again for each of them.
var (
	parsedMu sync.Mutex
	parsed   = map[string]parsedFile{}
)

type parsedFile struct {
	sum    [sha256.Size]byte
	config *clientcmdapi.Config
}

// load reads rules.ExplicitPath, parsing it only when its content is new.
// The returned config is shared: copy it before use.
func load(rules *clientcmd.ClientConfigLoadingRules) (*clientcmdapi.Config, error) {
	data, err := os.ReadFile(rules.ExplicitPath)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	parsedMu.Lock()
	defer parsedMu.Unlock()
	if f, ok := parsed[rules.ExplicitPath]; ok && f.sum == sum {
		return f.config, nil
	}
	config, err := rules.Load()
	if err != nil {
		return nil, err
	}
	parsed[rules.ExplicitPath] = parsedFile{sum: sum, config: config}
	return config, nil
}

// ListPath is the API path that lists a resource in a namespace, or in the
// whole cluster when namespace is "".
func ListPath(gvr schema.GroupVersionResource, namespace string) []string {
	path := []string{"/apis", gvr.Group, gvr.Version}
	if gvr.Group == "" {
		path = []string{"/api", gvr.Version}
	}
	if namespace != "" {
		path = append(path, "namespaces", namespace)
	}
	return append(path, gvr.Resource)
}

// List reads the objects of a kind in a namespace ("" for all, and ignored
// for a cluster-scoped kind) whose labels match selector ("" for any), with
// one request decoded in one pass: the dynamic client parses a list response
// several times over.
func List(ctx context.Context, c rest.Interface, m *meta.RESTMapping, namespace, selector string) ([]*unstructured.Unstructured, error) {
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		namespace = ""
	}
	req := c.Get().AbsPath(ListPath(m.Resource, namespace)...)
	if selector != "" {
		req = req.Param("labelSelector", selector)
	}
	body, err := req.Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := utiljson.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decode the list of %s: %w", m.Resource.Resource, err)
	}
	out := make([]*unstructured.Unstructured, len(list.Items))
	for i, item := range list.Items {
		o := &unstructured.Unstructured{Object: item}
		// Items of built-in lists carry no apiVersion and kind.
		if o.GetAPIVersion() == "" {
			o.SetAPIVersion(m.GroupVersionKind.GroupVersion().String())
		}
		if o.GetKind() == "" {
			o.SetKind(m.GroupVersionKind.Kind)
		}
		out[i] = o
	}
	return out, nil
}
