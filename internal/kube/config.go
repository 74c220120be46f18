// Package kube builds API clients for fleet clusters from their Cluster documents.
package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

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
	if p := KubeconfigPath(c, fallbackKubeconfig); p != "" {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("cluster %s: kubeconfig %s: %w", c.Name(), p, err)
		}
		rules.ExplicitPath = p
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: c.Context()})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("cluster %s: context %q: %w", c.Name(), c.Context(), err)
	}
	cfg.QPS = -1 // no client-side throttling
	cfg.Burst = 0
	cfg.UserAgent = "gatefed"
	return cfg, nil
}
