package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kubeconfigSeeds are kubeconfigs with the fields a real one carries, and a
// few broken ones.
var kubeconfigSeeds = []string{
	"",
	"{}",
	"apiVersion: v1\nkind: Config\n",
	"apiVersion: v1\nkind: Config\ncurrent-context: c1\nclusters:\n- name: c1\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: bm90IGEgY2VydA==\n    tls-server-name: api\n    proxy-url: http://127.0.0.1:3128\nusers:\n- name: u\n  user:\n    client-certificate-data: bm90IGEgY2VydA==\n    client-key-data: bm90IGEga2V5\ncontexts:\n- name: c1\n  context: {cluster: c1, user: u, namespace: ns}\n",
	"apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster: {server: https://a, insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/false\n      args: [x]\n      env: [{name: A, value: b}]\n      interactiveMode: Never\ncontexts:\n- name: c1\n  context: {cluster: c1, user: u}\n",
	"apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster: {server: https://a}\nusers:\n- name: u\n  user: {username: a, password: b, as: x, as-groups: [g]}\ncontexts:\n- name: c1\n  context: {cluster: c1, user: u}\n",
	"apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster: {server: https://a}\nusers:\n- name: u\n  user: {auth-provider: {name: oidc, config: {idp-issuer-url: https://i}}}\ncontexts:\n- name: c1\n  context: {cluster: c1, user: u}\n",
	"apiVersion: v1\nkind: Config\ncontexts:\n- name: c1\n  context: {cluster: nowhere, user: nobody}\n",
	"apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster: {server: \"://bad url\", certificate-authority: ca.crt}\ncontexts:\n- name: c1\n  context: {cluster: c1}\n",
	`{"apiVersion":"v1","kind":"Config","clusters":[{"name":"c1","cluster":{"server":"https://a"}}],"contexts":[{"name":"c1","context":{"cluster":"c1"}}]}`,
	"apiVersion: v2\nkind: Other\n",
	"clusters: [1, 2]\n",
	"a: &a [*a]\n",
}

// FuzzKubeconfig loads any bytes as a cluster's kubeconfig and resolves a
// context from it: RESTConfig must return a config or an error, never panic.
func FuzzKubeconfig(f *testing.F) {
	seeds := append([]string{kubeconfig("https://a:6443"), kubeconfig("https://a:6443", "https://[::1]:6443")}, kubeconfigSeeds...)
	for _, s := range seeds {
		for _, ctx := range []string{"c1", "", "c2"} {
			f.Add([]byte(s), ctx)
		}
	}
	// One path for every input: the parsed-file cache holds one entry.
	path := filepath.Join(f.TempDir(), "kubeconfig")
	f.Fuzz(func(t *testing.T, data []byte, context string) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := RESTConfig(cluster(path, context), "")
		if err != nil {
			if !strings.Contains(err.Error(), "cluster ") {
				t.Fatalf("error does not name the cluster: %v", err)
			}
			return
		}
		if cfg == nil || cfg.UserAgent != "gatefed" {
			t.Fatalf("config %+v", cfg)
		}
	})
}
