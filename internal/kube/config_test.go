package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/fleet"
)

func kubeconfig(servers ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n")
	for i, s := range servers {
		b.WriteString("- name: c" + string(rune('1'+i)) + "\n  cluster: {server: " + s + "}\n")
	}
	b.WriteString("users:\n- name: u\n  user: {token: t}\ncontexts:\n")
	for i := range servers {
		n := "c" + string(rune('1'+i))
		b.WriteString("- name: " + n + "\n  context: {cluster: " + n + ", user: u}\n")
	}
	return b.String()
}

func cluster(path, context string) *fleet.Cluster {
	c := &fleet.Cluster{}
	c.Metadata.Name = context
	c.Spec.Kubeconfig = path
	c.Spec.Context = context
	return c
}

// Clusters sharing a kubeconfig read it once; a changed file is read again.
func TestRESTConfigRereadsChangedKubeconfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig("https://a:6443", "https://b:6443")), 0o600); err != nil {
		t.Fatal(err)
	}
	for ctx, want := range map[string]string{"c1": "https://a:6443", "c2": "https://b:6443"} {
		cfg, err := RESTConfig(cluster(path, ctx), "")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Host != want || cfg.BearerToken != "t" {
			t.Errorf("context %s: host %q token %q, want %q and t", ctx, cfg.Host, cfg.BearerToken, want)
		}
	}
	if err := os.WriteFile(path, []byte(kubeconfig("https://z:6443")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := RESTConfig(cluster(path, "c1"), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://z:6443" {
		t.Errorf("after the file changed: host %q, want https://z:6443", cfg.Host)
	}
	if _, err := RESTConfig(cluster(path, "c2"), ""); err == nil || !strings.Contains(err.Error(), `context "c2"`) {
		t.Errorf("a context the new file lacks: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := RESTConfig(cluster(missing, "c1"), ""); err == nil || !strings.Contains(err.Error(), "kubeconfig "+missing) {
		t.Errorf("a missing kubeconfig: %v", err)
	}
}

func TestListPath(t *testing.T) {
	for _, c := range []struct {
		gvr       schema.GroupVersionResource
		namespace string
		want      string
	}{
		{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "shop", "/api/v1/namespaces/shop/services"},
		{schema.GroupVersionResource{Group: "gloo.solo.io", Version: "v1", Resource: "upstreams"}, "", "/apis/gloo.solo.io/v1/upstreams"},
		{schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}, "gw", "/apis/gateway.networking.k8s.io/v1/namespaces/gw/httproutes"},
	} {
		if got := strings.Join(ListPath(c.gvr, c.namespace), "/"); strings.ReplaceAll(got, "//", "/") != c.want {
			t.Errorf("ListPath(%v, %q) = %s, want %s", c.gvr, c.namespace, got, c.want)
		}
	}
}
