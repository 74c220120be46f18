package testfleet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// UserConfig returns a client configuration for user (in groups) with a
// client certificate signed by the cluster's CA. What the user may do is up
// to RBAC objects the test creates.
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, error) {
	certPEM, keyPEM, err := c.CA.ClientCert(user, groups...)
	if err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.CertData, cfg.KeyData = certPEM, keyPEM
	return cfg, nil
}

// UserKubeconfig writes a kubeconfig for user (in groups) with one context
// named after the cluster, and returns its path and client configuration.
func (c *Cluster) UserKubeconfig(user string, groups ...string) (string, *rest.Config, error) {
	cfg, err := c.UserConfig(user, groups...)
	if err != nil {
		return "", nil, err
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.URL, CertificateAuthorityData: c.CACert}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts[c.Context] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: user}
	kc.CurrentContext = c.Context
	dir := filepath.Join(c.Dir, "users")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, fileSafe(user)+".kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return "", nil, fmt.Errorf("write %s: %w", path, err)
	}
	return path, cfg, nil
}

// FleetUserKubeconfig writes a kubeconfig for user (in groups) with one
// context per running cluster, named after the cluster, like the admin
// kubeconfig, and returns its path.
func (f *Fleet) FleetUserKubeconfig(user string, groups ...string) (string, error) {
	kc := clientcmdapi.NewConfig()
	for _, c := range f.Clusters {
		cfg, err := c.UserConfig(user, groups...)
		if err != nil {
			return "", err
		}
		kc.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.URL, CertificateAuthorityData: c.CACert}
		kc.AuthInfos[c.Name+"-"+user] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
		kc.Contexts[c.Context] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name + "-" + user}
		if kc.CurrentContext == "" {
			kc.CurrentContext = c.Context
		}
	}
	dir := filepath.Join(f.Dir, "users")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fileSafe(user)+".kubeconfig")
	return path, clientcmd.WriteToFile(*kc, path)
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
