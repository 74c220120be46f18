package testfleet

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
)

// The real Envoy Gateway controller runs against a test cluster as it would
// in one: it watches the Gateway API and Envoy Gateway objects, translates
// them and writes their statuses. Two things of its own are fixed: it reads
// its xDS serving certificate from /certs, and it binds fixed ports (xDS
// 18000, 18001, the Wasm server 18002, health 8081, metrics 19001). So each
// controller runs in a private mount namespace whose root is this machine's
// with a tmpfs on /certs, and one controller runs at a time on a machine: a
// lock file in the temporary directory, held by the controller process for
// its lifetime.

// EnvoyGatewayNamespace is where the controller runs and looks for its own objects.
const EnvoyGatewayNamespace = "envoy-gateway-system"

// envoyGatewayHealthURL is the controller's readiness endpoint (fixed port).
const envoyGatewayHealthURL = "http://127.0.0.1:8081/readyz"

// ErrNoPrivateMounts is wrapped by StartEnvoyGateway's error when this machine
// gives the test fleet no private mount namespace.
var ErrNoPrivateMounts = errors.New("no private mount namespace for the Envoy Gateway controller")

// EnvoyGateway is a running Envoy Gateway controller for one cluster.
type EnvoyGateway struct {
	Cluster *Cluster
	// LogPath is the controller's log.
	LogPath string
	proc    *localfleet.Process
}

var (
	mountsOnce sync.Once
	mountsErr  error
)

// unshareArgs are the unshare flags that give a process a private mount
// namespace: as root a mount namespace alone; as anyone else also a user
// namespace in which they are root.
func unshareArgs() []string {
	if os.Geteuid() == 0 {
		return []string{"-m", "--propagation", "private"}
	}
	return []string{"-U", "-r", "-m", "--propagation", "private"}
}

// PrivateMounts reports whether processes can be given a private mount
// namespace here (unshare from util-linux; as an ordinary user, user
// namespaces must be enabled). The answer is found once.
func PrivateMounts() error {
	mountsOnce.Do(func() {
		path, err := exec.LookPath("unshare")
		if err != nil {
			mountsErr = fmt.Errorf("%w: unshare is not installed (util-linux)", ErrNoPrivateMounts)
			return
		}
		out, err := exec.Command(path, append(unshareArgs(), "mount", "-t", "tmpfs", "tmpfs", os.TempDir())...).CombinedOutput()
		if err != nil {
			mountsErr = fmt.Errorf("%w: unshare %v: %v: %s", ErrNoPrivateMounts, unshareArgs(), err, out)
		}
	})
	return mountsErr
}

// privateRootScript makes a new root in $1: the host's top-level directories
// bound in, symlinks copied, and a tmpfs on /certs holding the files of $2;
// then runs the rest of its arguments chrooted there.
const privateRootScript = `set -e
root=$1; certs=$2; shift 2
mount -t tmpfs tmpfs "$root"
for d in /*; do
  name=${d#/}
  [ "$name" = certs ] && continue
  if [ -L "$d" ]; then ln -s "$(readlink "$d")" "$root/$name"; continue; fi
  [ -d "$d" ] || continue
  mkdir -p "$root/$name"
  mount --rbind "$d" "$root/$name"
done
mkdir -p "$root/certs"
mount -t tmpfs tmpfs "$root/certs"
cp "$certs"/* "$root/certs/"
cd /
exec chroot "$root" "$@"
`

// envoyGatewayConfig is the controller's configuration: the Kubernetes
// provider without leader election or the topology webhook, and the Backend
// and EnvoyPatchPolicy APIs enabled, as gatefed's docs ask of a cluster
// (the latter for spec.gateway.strictTiers). StartEnvoyGateway also writes
// it where Envoy Gateway's Helm chart does, ConfigMap envoy-gateway-config
// (key envoy-gateway.yaml) in the controller's namespace, for check to read.
const envoyGatewayConfig = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyGateway
gateway:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
provider:
  type: Kubernetes
  kubernetes:
    leaderElection:
      disable: true
    proxyTopologyInjector:
      disabled: true
extensionApis:
  enableBackend: true
  enableEnvoyPatchPolicy: true
logging:
  level:
    default: info
`

// StartEnvoyGateway starts the real Envoy Gateway controller against the
// cluster and waits until it is ready. It waits first for any other
// controller on this machine to end (the fixed ports). The controller is
// stopped with Stop, and with the fleet: it is recorded in the fleet's
// journal, and a non-detached fleet's controller dies with this process.
func (c *Cluster) StartEnvoyGateway(ctx context.Context) (*EnvoyGateway, error) {
	return c.StartEnvoyGatewayWith(ctx, EnvoyGatewayOptions{})
}

// EnvoyGatewayOptions change how StartEnvoyGatewayWith starts the controller.
type EnvoyGatewayOptions struct {
	// TrustedCAs (PEM) are added to the system CAs the controller trusts,
	// as a cluster's image or node would, for example to fetch Wasm modules
	// from a test server.
	TrustedCAs []byte
}

// systemCAFile is the machine's CA bundle, the controller's default trust.
const systemCAFile = "/etc/ssl/certs/ca-certificates.crt"

// StartEnvoyGatewayWith is StartEnvoyGateway with options.
func (c *Cluster) StartEnvoyGatewayWith(ctx context.Context, opts EnvoyGatewayOptions) (*EnvoyGateway, error) {
	if err := CheckEnvoyGatewayBinaries(); err != nil {
		return nil, err
	}
	if err := PrivateMounts(); err != nil {
		return nil, err
	}
	dir := filepath.Join(c.Dir, "envoy-gateway")
	certs := filepath.Join(dir, "certs")
	root := filepath.Join(dir, "root")
	for _, d := range []string{certs, root} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if os.Geteuid() != 0 {
		// The user namespace's root is this user: the new root must be ours.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, err
		}
	}
	if err := c.writeEnvoyGatewayFiles(dir, certs); err != nil {
		return nil, err
	}
	if err := c.ensureNamespace(ctx, EnvoyGatewayNamespace); err != nil {
		return nil, err
	}
	if err := c.ensureHMACSecret(ctx); err != nil {
		return nil, err
	}
	if err := c.ensureEnvoyGatewayConfigMap(ctx); err != nil {
		return nil, err
	}
	env := []string{"KUBECONFIG=" + filepath.Join(dir, "kubeconfig"), "ENVOY_GATEWAY_NAMESPACE=" + EnvoyGatewayNamespace}
	if len(opts.TrustedCAs) > 0 {
		bundle, err := os.ReadFile(systemCAFile)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		bundle = append(append(bundle, '\n'), opts.TrustedCAs...)
		path := filepath.Join(dir, "trusted-cas.pem")
		if err := os.WriteFile(path, bundle, 0o600); err != nil {
			return nil, err
		}
		env = append(env, "SSL_CERT_FILE="+path)
	}

	lock, err := lockEnvoyGatewayPorts(ctx)
	if err != nil {
		return nil, err
	}
	defer lock.Close() // the controller holds its own descriptor of the lock

	p := &localfleet.Process{
		Name:    "envoy-gateway " + c.Name,
		Path:    "unshare",
		Args:    append(unshareArgs(), "sh", filepath.Join(dir, "private-root.sh"), root, certs, EnvoyGatewayBin(), "server", "--config-path", filepath.Join(dir, "config.yaml")),
		LogPath: filepath.Join(c.fleet.Dir, "logs", c.Name+"-envoy-gateway.log"),
		Journal: filepath.Join(c.fleet.Dir, localfleet.JournalFile),
		Env:     env,
		Files:   []*os.File{lock},
		Runs:    EnvoyGatewayBin(),
	}
	if p.Path, err = exec.LookPath(p.Path); err != nil {
		return nil, err
	}
	begin := time.Now()
	if err := p.Start(c.fleet.Options.Detached); err != nil {
		return nil, err
	}
	eg := &EnvoyGateway{Cluster: c, LogPath: p.LogPath, proc: p}
	if err := localfleet.WaitHTTP(ctx, p, http.DefaultClient, envoyGatewayHealthURL, c.fleet.Options.StartTimeout); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("envoy-gateway for cluster %s: %w\nlast lines of %s:\n%s", c.Name, err, p.LogPath, p.LogTail(30))
	}
	c.fleet.Progressf("cluster %s: envoy-gateway ready in %s (pid %d)", c.Name, time.Since(begin).Round(100*time.Millisecond), p.Pid())
	return eg, nil
}

// EnvoyConfig returns the Envoy configuration the controller serves the
// proxy of one Gateway, as xdsdump reads it over ADS: {"clusters": [...],
// "endpoints": [...], "listeners": [...], "routes": [...]}, each resource in
// protobuf JSON. The proxy identifies itself as Envoy Gateway's proxies do,
// by the Gateway's namespace/name as its node's cluster.
func (e *EnvoyGateway) EnvoyConfig(ctx context.Context, gatewayNamespace, gatewayName string) (map[string][]map[string]any, error) {
	dir := filepath.Join(e.Cluster.Dir, "envoy-gateway")
	cmd := exec.CommandContext(ctx, XDSDumpBin(),
		"-addr", "127.0.0.1:18000", "-ca", filepath.Join(dir, "certs", "ca.crt"),
		"-cert", filepath.Join(dir, "xds-client.crt"), "-key", filepath.Join(dir, "xds-client.key"),
		"-node-cluster", gatewayNamespace+"/"+gatewayName, "-timeout", "30s")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("xdsdump %s/%s: %w: %s", gatewayNamespace, gatewayName, err, stderr.String())
	}
	var cfg map[string][]map[string]any
	if err := json.Unmarshal(out, &cfg); err != nil {
		return nil, fmt.Errorf("xdsdump output: %w", err)
	}
	return cfg, nil
}

// Pid is the controller's process id.
func (e *EnvoyGateway) Pid() int { return e.proc.Pid() }

// State identifies the controller's process, to stop it from another process
// (Terminate) when the fleet is detached.
func (e *EnvoyGateway) State() localfleet.ProcessState {
	return localfleet.ProcessState{Pid: e.proc.Pid(), Exe: e.proc.Runs, Log: e.LogPath, Args: e.proc.Args}
}

// Stop stops the controller and waits until it is gone; the port lock goes with it.
func (e *EnvoyGateway) Stop() error { return e.proc.Stop(10 * time.Second) }

// lockEnvoyGatewayPorts takes the machine-wide lock on the controller's ports,
// waiting for ctx at most. The lock file is in the temporary directory, the
// same for every cache and user.
func lockEnvoyGatewayPorts(ctx context.Context) (*os.File, error) {
	path := filepath.Join(os.TempDir(), "gatefed-envoy-gateway-ports.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o666)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another Envoy Gateway controller on this machine to end (%s): %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writeEnvoyGatewayFiles writes the controller's kubeconfig (this cluster's
// admin), its configuration, its xDS certificates and the new-root script.
func (c *Cluster) writeEnvoyGatewayFiles(dir, certs string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.URL, CertificateAuthorityData: c.CACert}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.Config.CertData, ClientKeyData: c.Config.KeyData}
	kc.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: "admin"}
	kc.CurrentContext = c.Name
	if err := clientcmd.WriteToFile(*kc, filepath.Join(dir, "kubeconfig")); err != nil {
		return err
	}
	ca, err := localfleet.NewCertAuthority("envoy-gateway-" + c.Name)
	if err != nil {
		return err
	}
	cert, key, err := ca.ServerCert("envoy-gateway", "envoy-gateway."+EnvoyGatewayNamespace, "envoy-gateway."+EnvoyGatewayNamespace+".svc", "127.0.0.1")
	if err != nil {
		return err
	}
	clientCert, clientKey, err := ca.ClientCert("xdsdump")
	if err != nil {
		return err
	}
	files := map[string][]byte{
		filepath.Join(dir, "xds-client.crt"):  clientCert,
		filepath.Join(dir, "xds-client.key"):  clientKey,
		filepath.Join(certs, "ca.crt"):        ca.CertPEM(),
		filepath.Join(certs, "tls.crt"):       cert,
		filepath.Join(certs, "tls.key"):       key,
		filepath.Join(dir, "config.yaml"):     []byte(envoyGatewayConfig),
		filepath.Join(dir, "private-root.sh"): []byte(privateRootScript),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// ensureHMACSecret writes the envoy-oidc-hmac Secret that Envoy Gateway's
// certgen job creates at install: the controller salts the download paths
// of its Wasm module server with it, and without it serves no Wasm module.
func (c *Cluster) ensureHMACSecret(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	_, err = cs.CoreV1().Secrets(EnvoyGatewayNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "envoy-oidc-hmac", Namespace: EnvoyGatewayNamespace},
		Data:       map[string][]byte{"hmac-secret": salt},
	}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// ensureEnvoyGatewayConfigMap writes the controller's configuration where
// Envoy Gateway's Helm chart puts it.
func (c *Cluster) ensureEnvoyGatewayConfigMap(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "envoy-gateway-config", Namespace: EnvoyGatewayNamespace},
		Data:       map[string]string{"envoy-gateway.yaml": envoyGatewayConfig},
	}
	_, err = cs.CoreV1().ConfigMaps(EnvoyGatewayNamespace).Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = cs.CoreV1().ConfigMaps(EnvoyGatewayNamespace).Update(ctx, cm, metav1.UpdateOptions{})
	}
	return err
}

func (c *Cluster) ensureNamespace(ctx context.Context, name string) error {
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// envoyProxyLabels select the proxy Deployments and Services Envoy Gateway creates.
const envoyProxyLabels = "app.kubernetes.io/managed-by=envoy-gateway,app.kubernetes.io/component=proxy"

// ProxyInfra stands in for what a real cluster does with the proxies the
// controller creates, which no test cluster runs: kubelet makes each proxy
// Deployment's replicas available, and a cloud gives each LoadBalancer
// Service the address ip. Envoy Gateway itself then marks the Gateways
// Programmed. It waits until the controller has created a proxy for each of
// the gateways (namespace/name) and returns how many it made ready.
//
// It repeats this until the controller reports every one of the gateways
// Programmed, since the controller may create or replace a proxy's objects
// after a first pass.
func (s *Sim) ProxyInfra(ctx context.Context, ip string, gateways ...string) (int, error) {
	for {
		n, err := s.proxyInfraOnce(ctx, ip, gateways)
		if err != nil {
			return n, err
		}
		programmed, err := s.gatewaysProgrammed(ctx, gateways)
		if err != nil || programmed {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, fmt.Errorf("gateways %v not Programmed by the controller: %w", gateways, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// gatewaysProgrammed reports whether every gateway (namespace/name) has Programmed=True.
func (s *Sim) gatewaysProgrammed(ctx context.Context, gateways []string) (bool, error) {
	for _, g := range gateways {
		ns, name, _ := strings.Cut(g, "/")
		gw, err := s.Dynamic.Resource(GatewayGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(gw.Object, "status", "conditions")
		ok := false
		for _, c := range conds {
			m, _ := c.(map[string]any)
			ok = ok || m["type"] == "Programmed" && m["status"] == "True"
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func (s *Sim) proxyInfraOnce(ctx context.Context, ip string, gateways []string) (int, error) {
	want := map[string]bool{}
	for _, g := range gateways {
		want[g] = true
	}
	for {
		deps, err := s.Kube.AppsV1().Deployments(EnvoyGatewayNamespace).List(ctx, metav1.ListOptions{LabelSelector: envoyProxyLabels})
		if err != nil {
			return 0, err
		}
		svcs, err := s.Kube.CoreV1().Services(EnvoyGatewayNamespace).List(ctx, metav1.ListOptions{LabelSelector: envoyProxyLabels})
		if err != nil {
			return 0, err
		}
		// A proxy is complete with its Deployment and its Service (created after it).
		owner := func(l map[string]string) string {
			return l["gateway.envoyproxy.io/owning-gateway-namespace"] + "/" + l["gateway.envoyproxy.io/owning-gateway-name"]
		}
		withService := map[string]bool{}
		for i := range svcs.Items {
			withService[owner(svcs.Items[i].Labels)] = true
		}
		found := map[string]bool{}
		for i := range deps.Items {
			if g := owner(deps.Items[i].Labels); withService[g] {
				found[g] = true
			}
		}
		missing := false
		for g := range want {
			missing = missing || !found[g]
		}
		if !missing {
			break
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("Envoy Gateway created no proxy for %v (found %v): %w", gateways, found, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
	deps, err := s.Kube.AppsV1().Deployments(EnvoyGatewayNamespace).List(ctx, metav1.ListOptions{LabelSelector: envoyProxyLabels})
	if err != nil {
		return 0, err
	}
	for _, d := range deps.Items {
		if err := s.Deployment(ctx, localfleet.Deployment{Namespace: d.Namespace, Name: d.Name, Available: true}); err != nil {
			return 0, err
		}
	}
	svcs, err := s.Kube.CoreV1().Services(EnvoyGatewayNamespace).List(ctx, metav1.ListOptions{LabelSelector: envoyProxyLabels})
	if err != nil {
		return 0, err
	}
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
		if _, err := s.Kube.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{FieldManager: "cloud-controller-manager"}); err != nil {
			return 0, err
		}
	}
	return len(deps.Items), nil
}

// EnvoyGatewayClassFinalizer is the finalizer Envoy Gateway puts on a
// GatewayClass that has Gateways.
//
// Envoy Gateway v1.9.1 adds it on its first reconcile of the class with an
// Update that overwrites its in-memory copy with the server's, whose status
// is still Pending; its translator then publishes that Pending status over
// the Accepted one it had just written. Such a class stays "Waiting for
// controller" until something else makes the controller reconcile (seen in
// five of six fresh starts). A class that already carries the finalizer, as
// on any cluster where the controller has run, is left as Accepted.
const EnvoyGatewayClassFinalizer = "gateway-exists-finalizer.gateway.networking.k8s.io"

// EnvoyGatewayParents creates what a cluster's operator installs for the
// real controller: Gateway namespace/gateway with one HTTP listener on port
// 80, and its GatewayClass class carrying EnvoyGatewayClassFinalizer.
func (s *Sim) EnvoyGatewayParents(ctx context.Context, class, namespace, gateway string) error {
	// The Gateway comes first: a class without Gateways loses the finalizer.
	gw := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": gateway, "namespace": namespace},
		"spec": map[string]any{
			"gatewayClassName": class,
			"listeners":        []any{map[string]any{"name": "http", "protocol": "HTTP", "port": int64(80)}},
		},
	}}
	if _, err := s.Dynamic.Resource(GatewayGVR).Namespace(namespace).Create(ctx, gw, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create Gateway %s/%s: %w", namespace, gateway, err)
	}
	gc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": class, "finalizers": []any{EnvoyGatewayClassFinalizer}},
		"spec":     map[string]any{"controllerName": envoygateway.ControllerName},
	}}
	if _, err := s.Dynamic.Resource(GatewayClassGVR).Create(ctx, gc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create GatewayClass %s: %w", class, err)
	}
	return nil
}

// DeleteEnvoyGatewayParents deletes what EnvoyGatewayParents created,
// removing the class's finalizer first.
func (s *Sim) DeleteEnvoyGatewayParents(ctx context.Context, class, namespace, gateway string) error {
	err := s.Dynamic.Resource(GatewayGVR).Namespace(namespace).Delete(ctx, gateway, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	_, err = s.Dynamic.Resource(GatewayClassGVR).Patch(ctx, class, types.MergePatchType, patch, metav1.PatchOptions{})
	if err == nil {
		err = s.Dynamic.Resource(GatewayClassGVR).Delete(ctx, class, metav1.DeleteOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
