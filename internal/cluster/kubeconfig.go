package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
)

// source is a context of the user's kubeconfig: where register connects.
type source struct {
	// Kubeconfig is the explicit path, or "" for the default loading rules.
	Kubeconfig string
	// Files are the kubeconfig files that were read, for messages.
	Files   []string
	Context string
	Raw     *clientcmdapi.Config
	Config  *rest.Config
	// Server is the API server URL of the context.
	Server string
}

// loadSource reads the user's kubeconfig and resolves a context. Errors
// name the file and, for an unknown context, list the known ones.
func loadSource(kubeconfig, context string) (*source, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	files := rules.GetLoadingPrecedence()
	if kubeconfig != "" {
		path := expandHome(kubeconfig)
		if _, err := os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: cannot read it: %w", kubeconfig, unwrapPathError(err))
		}
		rules.ExplicitPath = path
		files = []string{path}
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", strings.Join(files, ":"), err)
	}
	where := "kubeconfig " + strings.Join(existing(files), ":")
	if len(existing(files)) == 0 {
		where = "kubeconfig (none found: " + strings.Join(files, ":") + ")"
	}
	if _, ok := raw.Contexts[context]; !ok {
		known := sortedKeys(raw.Contexts)
		list := "it has no contexts"
		if len(known) > 0 {
			list = "known contexts: " + strings.Join(known, ", ")
		}
		return nil, fmt.Errorf("context %q not found in %s%s (%s)", context, where, fleet.DidYouMean(context, known), list)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("context %q in %s: %w", context, where, err)
	}
	cfg.QPS, cfg.Burst, cfg.UserAgent = -1, 0, "gatefed"
	return &source{Kubeconfig: kubeconfig, Files: existing(files), Context: context, Raw: raw, Config: cfg, Server: cfg.Host}, nil
}

// clusterEntry is the kubeconfig cluster entry of the source context.
func (s *source) clusterEntry() (*clientcmdapi.Cluster, error) {
	ctx := s.Raw.Contexts[s.Context]
	c, ok := s.Raw.Clusters[ctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("context %q names cluster %q, which the kubeconfig does not define", s.Context, ctx.Cluster)
	}
	return c, nil
}

func existing(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

// absoluteKubeconfig is the kubeconfig path a Cluster document stores: made
// absolute, since a relative path would be read from wherever gatefed runs
// later, and written ~/... under the home directory; "" stays "" (the
// default kubeconfig).
func absoluteKubeconfig(p string) string {
	if p == "" {
		return ""
	}
	abs, err := filepath.Abs(expandHome(p))
	if err != nil {
		return p
	}
	return withHome(abs)
}

// withHome writes a path under the home directory as ~/..., so that a fleet
// kept in git does not carry one user's home directory.
func withHome(p string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return p
	}
	if rel, err := filepath.Rel(home, p); err == nil && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel) {
		return filepath.ToSlash(filepath.Join("~", rel))
	}
	return p
}

// NormalizeServer makes API server URLs comparable: lower-case scheme and
// host, explicit default port, no trailing slash.
func NormalizeServer(server string) string {
	u, err := url.Parse(strings.TrimSpace(server))
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.ToLower(strings.TrimSpace(server)), "/")
	}
	scheme := strings.ToLower(u.Scheme)
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
		if scheme == "http" {
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(host), port) + strings.TrimRight(u.EscapedPath(), "/")
}

// serverOf resolves a fleet cluster's API server URL from its kubeconfig and context.
func serverOf(c *fleet.Cluster, fallbackKubeconfig string) (string, error) {
	cfg, err := kube.RESTConfig(c, fallbackKubeconfig)
	if err != nil {
		return "", err
	}
	return cfg.Host, nil
}

// clientConfig returns a copy of cfg with a per-request timeout.
func clientConfig(cfg *rest.Config, timeout time.Duration) *rest.Config {
	c := rest.CopyConfig(cfg)
	if timeout > 0 {
		c.Timeout = timeout
	}
	return c
}
