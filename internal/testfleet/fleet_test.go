package testfleet

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
	"github.com/gatefed/gatefed/internal/render/gloo"
)

func TestFleetClustersAreDistinctAndReachableByContext(t *testing.T) {
	if len(shared.Clusters) != sharedClusters {
		t.Fatalf("got %d clusters, want %d", len(shared.Clusters), sharedClusters)
	}
	raw, err := clientcmd.LoadFromFile(shared.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	urls := map[string]bool{}
	ctx := context.Background()
	ns := shared.Namespace(t, "identity")
	for _, c := range shared.Clusters {
		if c.Context != c.Name || c.Kubeconfig != shared.Kubeconfig {
			t.Errorf("cluster %s: context %q kubeconfig %q", c.Name, c.Context, c.Kubeconfig)
		}
		if raw.Contexts[c.Name] == nil {
			t.Fatalf("kubeconfig has no context %s", c.Name)
		}
		if urls[c.URL] {
			t.Errorf("URL %s used twice", c.URL)
		}
		urls[c.URL] = true

		// The kubeconfig context reaches the cluster as an admin.
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: shared.Kubeconfig},
			&clientcmd.ConfigOverrides{CurrentContext: c.Name}).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Host != c.URL {
			t.Errorf("context %s: host %s, want %s", c.Name, cfg.Host, c.URL)
		}
		cs := kubernetes.NewForConfigOrDie(cfg)
		v, err := cs.Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if v.GitVersion != localfleet.KubeVersion {
			t.Errorf("cluster %s: version %s, want %s", c.Name, v.GitVersion, localfleet.KubeVersion)
		}
		review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if u := review.Status.UserInfo; u.Username != localfleet.AdminUser || !contains(u.Groups, localfleet.AdminGroup) {
			t.Errorf("cluster %s: admin is %s %v", c.Name, u.Username, u.Groups)
		}
		// Each cluster keeps its own data: mark it with a ConfigMap.
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "whoami", Namespace: ns}, Data: map[string]string{"cluster": c.Name}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range shared.Clusters {
		cs, _ := c.Clientset()
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "whoami", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["cluster"] != c.Name {
			t.Errorf("cluster %s sees the ConfigMap of %s: clusters share data", c.Name, cm.Data["cluster"])
		}
	}
}

func TestCRDFamiliesAreInstalledAndEstablished(t *testing.T) {
	for _, set := range []localfleet.CRDSet{localfleet.Families(localfleet.GatewayAPI), localfleet.Families(envoygateway.Name), localfleet.Families(gloo.Name)} {
		crds, err := localfleet.CRDs(set)
		if err != nil {
			t.Fatal(err)
		}
		if len(crds) == 0 {
			t.Fatalf("%s: no localfleet.CRDs", set)
		}
	}
	want := map[string]bool{
		"httproutes.gateway.networking.k8s.io":                true, // standard
		"tlsroutes.gateway.networking.k8s.io":                 true, // experimental channel
		"xbackendtrafficpolicies.gateway.networking.x-k8s.io": true,
		"backends.gateway.envoyproxy.io":                      true,
		"backendtrafficpolicies.gateway.envoyproxy.io":        true,
		"upstreams.gloo.solo.io":                              true,
		"virtualservices.gateway.solo.io":                     true,
		"routetables.gateway.solo.io":                         true,
	}
	for _, c := range shared.Clusters {
		disc, _ := c.Clientset()
		_, lists, err := disc.Discovery().ServerGroupsAndResources()
		if err != nil {
			t.Fatal(err)
		}
		served := map[string]bool{}
		for _, l := range lists {
			group := strings.Split(l.GroupVersion, "/")[0]
			for _, r := range l.APIResources {
				served[r.Name+"."+group] = true
			}
		}
		for name := range want {
			if !served[name] {
				t.Errorf("cluster %s does not serve %s", c.Name, name)
			}
		}
	}
}

func TestStopAndStartClusterKeepsPortAndData(t *testing.T) {
	ctx := context.Background()
	c := shared.Clusters[len(shared.Clusters)-1]
	ns := shared.Namespace(t, "restart")
	cs, _ := c.Clientset()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survives", Namespace: ns}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	url, pid := c.URL, c.Pid()

	if err := shared.StopCluster(c.Name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !c.Running() {
			if err := c.Start(ctx); err != nil {
				t.Errorf("restart %s: %v", c.Name, err)
			}
		}
	})
	if !localfleet.ProcessGone(pid) || c.Running() || c.Pid() != 0 {
		t.Fatalf("kube-apiserver pid %d still runs after StopCluster", pid)
	}
	quick := rest.CopyConfig(c.Config)
	quick.Timeout = 2 * time.Second
	if _, err := kubernetes.NewForConfigOrDie(quick).Discovery().ServerVersion(); err == nil {
		t.Fatal("stopped cluster still answers")
	} else {
		t.Logf("stopped cluster: %v", err)
	}
	// The others are not affected.
	other, _ := shared.Clusters[0].Clientset()
	if _, err := other.Discovery().ServerVersion(); err != nil {
		t.Fatalf("cluster %s: %v", shared.Clusters[0].Name, err)
	}

	if err := shared.StartCluster(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if c.URL != url || c.Pid() == 0 || c.Pid() == pid {
		t.Fatalf("after restart: url %s (was %s), pid %d (was %d)", c.URL, url, c.Pid(), pid)
	}
	got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "survives", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["k"] != "v" {
		t.Fatalf("data after restart: %v", got.Data)
	}
	// CRDs are served again at once.
	if _, err := c.Sim().Dynamic.Resource(UpstreamGVR).Namespace(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list upstreams after restart: %v", err)
	}
}

func TestUserKubeconfigIsBoundByRBAC(t *testing.T) {
	ctx := context.Background()
	c := shared.Clusters[0]
	ns := shared.Namespace(t, "rbac")
	path, cfg, err := c.UserKubeconfig("alice", "dev-team")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{CurrentContext: c.Name}).ClientConfig()
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	alice := kubernetes.NewForConfigOrDie(loaded)
	review, err := alice.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; u.Username != "alice" || !contains(u.Groups, "dev-team") {
		t.Fatalf("user is %s %v", u.Username, u.Groups)
	}
	_, err = alice.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("list before any binding: %v, want Forbidden", err)
	}
	admin, _ := c.Clientset()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "cm-reader", Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "cm-reader", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "cm-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "dev-team"}},
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The RBAC authorizer sees the binding through an informer: wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			break
		}
		if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			t.Fatalf("list after binding: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := alice.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("list secrets: %v, want Forbidden", err)
	}
	// A certificate from one cluster's CA is not accepted by another cluster.
	foreign := rest.CopyConfig(cfg)
	foreign.Host = shared.Clusters[1].URL
	foreign.CAData = shared.Clusters[1].CACert
	_, err = kubernetes.NewForConfigOrDie(foreign).CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsUnauthorized(err) {
		t.Fatalf("foreign certificate: %v, want Unauthorized", err)
	}
}

func TestTokenRequestIssuesUsableServiceAccountTokens(t *testing.T) {
	ctx := context.Background()
	c := shared.Clusters[1]
	ns := shared.Namespace(t, "token")
	admin, _ := c.Clientset()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: ns}}
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "robot", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: c.URL, BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: c.CACert}}
	review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:" + ns + ":robot"; review.Status.UserInfo.Username != want {
		t.Fatalf("token authenticates as %q, want %q", review.Status.UserInfo.Username, want)
	}
}

func TestCRDOptionsLeaveFamiliesOutAndStopLeavesNoProcesses(t *testing.T) {
	ctx := context.Background()
	f, err := Start(ctx, localfleet.Options{Clusters: []localfleet.ClusterOptions{{Name: "no-gloo", CRDs: localfleet.Families(localfleet.GatewayAPI, envoygateway.Name)}}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			f.Stop()
		}
	})
	c := f.Cluster("no-gloo")
	if c.CRDs.Has(gloo.Name) || !c.CRDs.Has(localfleet.GatewayAPI) {
		t.Fatalf("CRDs %s", c.CRDs)
	}
	sim := c.Sim()
	if _, err := sim.Dynamic.Resource(HTTPRouteGVR).Namespace("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("httproutes: %v", err)
	}
	_, err = sim.Dynamic.Resource(UpstreamGVR).Namespace("default").List(ctx, metav1.ListOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("upstreams without Gloo CRDs: %v, want NotFound", err)
	}

	pids := f.Pids()
	if len(pids) != 2 {
		t.Fatalf("pids %v, want etcd and one kube-apiserver", pids)
	}
	for _, pid := range pids {
		if localfleet.ProcessGone(pid) {
			t.Fatalf("pid %d not running before Stop", pid)
		}
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for _, pid := range pids {
		if !localfleet.ProcessGone(pid) {
			t.Errorf("pid %d (%s) still runs after Stop", pid, exeOf(pid))
		}
	}
	if _, err := os.Stat(f.Dir); !os.IsNotExist(err) {
		t.Errorf("fleet dir %s not removed: %v", f.Dir, err)
	}
}

const helperEnv = "GATEFED_TESTFLEET_HELPER_PIDFILE"

// runFleetHelper starts a one-cluster fleet, writes its pids to pidFile and
// waits to be killed. It runs in a child test binary.
func runFleetHelper(pidFile string) int {
	f, err := Start(context.Background(), localfleet.Options{CRDs: localfleet.NoCRDs})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dir %s\n", f.Dir)
	for _, pid := range f.Pids() {
		fmt.Fprintf(&b, "%d\n", pid)
	}
	if err := os.WriteFile(pidFile+".tmp", []byte(b.String()), 0o644); err != nil {
		return 1
	}
	if err := os.Rename(pidFile+".tmp", pidFile); err != nil {
		return 1
	}
	time.Sleep(10 * time.Minute)
	return 1
}

func TestKilledTestBinaryLeavesNoOrphans(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+pidFile)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.After(3 * time.Minute)
	for {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("helper exited before starting its fleet: %v\n%s", err, stderr.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("helper did not start its fleet")
		case <-time.After(200 * time.Millisecond):
		}
	}
	var pids []int
	var dir string
	file, _ := os.Open(pidFile)
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "dir "); ok {
			dir = d
			continue
		}
		pid, err := strconv.Atoi(sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	file.Close()
	t.Cleanup(func() { os.RemoveAll(dir) })
	if len(pids) != 2 {
		t.Fatalf("helper reported pids %v", pids)
	}
	for _, pid := range pids {
		if localfleet.ProcessGone(pid) {
			t.Fatalf("pid %d not running while the helper lives", pid)
		}
	}

	// SIGKILL leaves the helper no chance to clean up: only Pdeathsig stops its children.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	gone := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for !localfleet.ProcessGone(pid) {
			if time.Now().After(gone) {
				exe := exeOf(pid)
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("pid %d (%s) outlived the killed test binary", pid, exe)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestPinnedVersionsMatchWrapperModules(t *testing.T) {
	root, err := localfleet.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ goMod, module, want string }{
		{"hack/kube/go.mod", "k8s.io/kubernetes", localfleet.KubeVersion},
		{"hack/etcd/go.mod", "go.etcd.io/etcd/server/v3", localfleet.EtcdVersion},
	} {
		data, err := os.ReadFile(filepath.Join(root, tc.goMod))
		if err != nil {
			t.Fatal(err)
		}
		found := ""
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
			if len(fields) >= 2 && fields[0] == tc.module && strings.HasPrefix(fields[1], "v") {
				found = fields[1]
			}
		}
		if found != tc.want {
			t.Errorf("%s requires %s %q; testfleet expects %s", tc.goMod, tc.module, found, tc.want)
		}
	}
}

func TestMissingBinaryNamesTheBuildCommand(t *testing.T) {
	t.Setenv(localfleet.EnvEtcdBin, filepath.Join(t.TempDir(), "no-etcd"))
	_, err := Start(context.Background(), localfleet.Options{})
	if err == nil {
		t.Fatal("started without etcd")
	}
	for _, want := range []string{"etcd  (want " + filepath.Join(os.Getenv(localfleet.EnvEtcdBin)), "hack/build-kube.sh --demo", "make kube-bins-demo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func ptrTo[T any](v T) *T { return &v }

func exeOf(pid int) string {
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return exe
}

func TestJournalLetsALaterProcessStopWhatAStartLeft(t *testing.T) {
	dir := t.TempDir()
	f, err := Start(context.Background(), localfleet.Options{Dir: dir, CRDs: localfleet.NoCRDs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Stop() })
	pids := f.Pids()
	// Someone that only has the directory (the fleet's state is lost) stops it.
	stopped, err := localfleet.StopJournaled(dir, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(stopped) != len(pids) {
		t.Errorf("stopped %v, want %d processes", stopped, len(pids))
	}
	for _, pid := range pids {
		if !localfleet.ProcessGone(pid) {
			t.Errorf("pid %d still runs", pid)
		}
	}
	// A second pass finds nothing left to stop.
	if again, err := localfleet.StopJournaled(dir, time.Second); err != nil || len(again) != 0 {
		t.Errorf("second pass stopped %v (%v)", again, err)
	}
}
