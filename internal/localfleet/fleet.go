package localfleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gatefed/gatefed/internal/provider"
)

// AdminUser and AdminGroup are the identity of every admin client certificate.
const (
	AdminUser  = "gatefed-admin"
	AdminGroup = "system:masters"
)

// Options configure a fleet.
type Options struct {
	// Clusters to start. When empty, Count clusters named c1..cN are started.
	Clusters []ClusterOptions
	// Count is the number of clusters when Clusters is empty (default 1).
	Count int
	// CRDs are the CRD families of clusters that do not choose their own
	// (zero: DefaultCRDs).
	CRDs CRDSet
	// Dir holds data, PKI, kubeconfigs and logs. Default: a new temporary
	// directory, removed by Stop.
	Dir string
	// Detached starts processes in their own sessions so they outlive this
	// process (the demo). Otherwise children get SIGKILL when this process dies.
	Detached bool
	// Progress receives one line per step; nil is silent.
	Progress io.Writer
	// StartTimeout bounds the start of each process (default 3m; the machine
	// may be busy).
	StartTimeout time.Duration
	// StartParallel is how many API servers start (and take their CRDs) at
	// once; 0 is as many as the available memory holds (APIServerStartMemory each).
	StartParallel int
}

// ClusterOptions configure one cluster.
type ClusterOptions struct {
	Name string
	// CRDs installed in this cluster (zero: the fleet's choice).
	CRDs CRDSet
}

// Fleet is a running set of clusters sharing one etcd.
type Fleet struct {
	// Dir holds everything the fleet writes.
	Dir string
	// Kubeconfig is the admin kubeconfig: one context per cluster, named after it.
	Kubeconfig string
	// Clusters in the order they were asked for.
	Clusters []*Cluster
	// EtcdURL is the client URL of the shared etcd.
	EtcdURL string

	// Options are the options the fleet started with, defaults filled in.
	Options Options
	etcd    *Process
	ownsDir bool
	mu      sync.Mutex
	stopped bool
	// crdSlots bounds the clusters creating CRDs at once (crdInstallSlots).
	crdSlots chan struct{}
}

// Cluster is one kube-apiserver of the fleet.
type Cluster struct {
	// Name is the cluster's name, also its kubeconfig context.
	Name string
	// Context is the cluster's context in Kubeconfig.
	Context string
	// Kubeconfig is the path of the fleet's admin kubeconfig.
	Kubeconfig string
	// URL is the API server's address, https://127.0.0.1:PORT.
	URL string
	// Port is the API server's port; it stays the same across restarts.
	Port int
	// Config is an admin client configuration (user gatefed-admin, group
	// system:masters). Copy it before changing it.
	Config *rest.Config
	// CRDs are the CRD families installed.
	CRDs CRDSet
	// CACert is the PEM certificate of the cluster's CA.
	CACert []byte

	fleet *Fleet
	// Dir holds the cluster's PKI and files.
	Dir string
	// CA is the cluster's certificate authority: the API server accepts the
	// client certificates it issues.
	CA   *CertAuthority
	mu   sync.Mutex
	proc *Process
}

func (o *Options) clusterOptions() []ClusterOptions {
	if len(o.Clusters) > 0 {
		return o.Clusters
	}
	n := max(o.Count, 1)
	out := make([]ClusterOptions, n)
	for i := range out {
		out[i] = ClusterOptions{Name: fmt.Sprintf("c%d", i+1)}
	}
	return out
}

// Progressf writes one progress line to Options.Progress, if set.
func (f *Fleet) Progressf(format string, args ...any) {
	if f.Options.Progress != nil {
		fmt.Fprintf(f.Options.Progress, format+"\n", args...)
	}
}

// Start runs etcd and every cluster's API server (in parallel, as many at
// once as memory allows), installs the chosen CRDs and waits until they are
// established and discoverable. On
// error, everything started is stopped again.
func Start(ctx context.Context, opts Options) (*Fleet, error) {
	if err := CheckBinaries(); err != nil {
		return nil, err
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	specs := opts.clusterOptions()
	seen := map[string]bool{}
	for _, s := range specs {
		if s.Name == "" || seen[s.Name] {
			return nil, fmt.Errorf("cluster names must be unique and not empty: %q", s.Name)
		}
		if s.CRDs == "" && opts.CRDs == "" && len(provider.All()) == 0 {
			return nil, errors.New("cluster " + s.Name + ": the default CRDs are every registered provider's, and none is registered (providers.Register)")
		}
		seen[s.Name] = true
	}
	f := &Fleet{Options: opts, Dir: opts.Dir}
	if f.Dir == "" {
		d, err := os.MkdirTemp("", "gatefed-fleet-")
		if err != nil {
			return nil, err
		}
		f.Dir, f.ownsDir = d, true
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return nil, err
	}
	f.Kubeconfig = filepath.Join(f.Dir, "kubeconfig")
	begin := time.Now()

	// Load CRDs while etcd starts.
	var crdErr error
	crdDone := make(chan struct{})
	go func() {
		defer close(crdDone)
		for _, s := range specs {
			if _, err := CRDs(s.CRDs.or(opts.CRDs)); err != nil {
				crdErr = err
				return
			}
		}
	}()

	if err := f.startEtcd(ctx); err != nil {
		f.Stop()
		return nil, err
	}
	<-crdDone
	if crdErr != nil {
		f.Stop()
		return nil, crdErr
	}
	for _, s := range specs {
		c, err := f.newCluster(s)
		if err != nil {
			f.Stop()
			return nil, err
		}
		f.Clusters = append(f.Clusters, c)
	}
	if err := f.writeKubeconfig(); err != nil {
		f.Stop()
		return nil, err
	}

	errs := make([]error, len(f.Clusters))
	slots := startSlots(len(f.Clusters), opts.StartParallel, memAvailable)
	f.crdSlots = make(chan struct{}, crdInstallSlots(slots, runtime.NumCPU()))
	f.Progressf("starting %d kube-apiservers, %d at a time, CRDs created on %d at a time", len(f.Clusters), slots, cap(f.crdSlots))
	sem := make(chan struct{}, slots)
	var wg sync.WaitGroup
	for i, c := range f.Clusters {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = c.Start(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.Stop()
		return nil, err
	}
	f.Progressf("fleet of %d clusters ready in %s (kubeconfig %s)", len(f.Clusters), time.Since(begin).Round(100*time.Millisecond), f.Kubeconfig)
	return f, nil
}

// Cluster returns the named cluster, or nil.
func (f *Fleet) Cluster(name string) *Cluster {
	for _, c := range f.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Stop stops every API server, then etcd, and removes the fleet's directory
// when Start created it. It waits until every process is gone. Calling it
// again does nothing.
func (f *Fleet) Stop() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return nil
	}
	f.stopped = true
	errs := make([]error, len(f.Clusters))
	var wg sync.WaitGroup
	for i, c := range f.Clusters {
		wg.Go(func() {
			errs[i] = c.Stop()
		})
	}
	wg.Wait()
	if f.etcd != nil {
		errs = append(errs, f.etcd.Stop(10*time.Second))
	}
	err := errors.Join(errs...)
	if err == nil && f.ownsDir && os.Getenv("GATEFED_KEEP_FLEET") == "" {
		err = os.RemoveAll(f.Dir)
	}
	return err
}

func (f *Fleet) startEtcd(ctx context.Context) error {
	dataDir := filepath.Join(f.Dir, "etcd")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		p := &Process{
			Name:    "etcd",
			Path:    EtcdBin(),
			LogPath: filepath.Join(f.Dir, "logs", "etcd.log"),
			Journal: filepath.Join(f.Dir, JournalFile),
			Args: []string{
				"--name=fleet",
				"--data-dir=" + dataDir,
				"--listen-client-urls=" + client,
				"--advertise-client-urls=" + client,
				"--listen-peer-urls=" + peer,
				"--initial-advertise-peer-urls=" + peer,
				"--initial-cluster=fleet=" + peer,
				"--initial-cluster-state=new",
				"--unsafe-no-fsync",
				"--log-level=warn",
				"--quota-backend-bytes=4294967296",
			},
		}
		if err := p.Start(f.Options.Detached); err != nil {
			return err
		}
		f.etcd = p
		f.EtcdURL = client
		err = WaitHTTP(ctx, p, http.DefaultClient, client+"/health", f.Options.StartTimeout)
		if err == nil {
			f.Progressf("etcd ready at %s (pid %d)", client, p.Pid())
			return nil
		}
		lastErr = fmt.Errorf("etcd: %w\n%s", err, p.LogTail(20))
		_ = p.Stop(5 * time.Second)
		if !portInUse(p.LogTail(50)) {
			break
		}
		_ = os.RemoveAll(dataDir)
	}
	return lastErr
}

// WaitHTTP polls url until it answers 200, the process exits or the timeout passes.
func WaitHTTP(ctx context.Context, p *Process, client *http.Client, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %d %s", url, resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		if p.Exited() {
			return fmt.Errorf("%w (%v)", errExited, p.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %s", timeout, last)
		case <-p.done:
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (f *Fleet) newCluster(o ClusterOptions) (*Cluster, error) {
	dir := filepath.Join(f.Dir, "clusters", o.Name)
	ca, err := writePKI(filepath.Join(dir, "pki"), o.Name)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: pki: %w", o.Name, err)
	}
	c := &Cluster{
		Name:       o.Name,
		Context:    o.Name,
		Kubeconfig: f.Kubeconfig,
		CRDs:       o.CRDs.or(f.Options.CRDs),
		CACert:     ca.CertPEM(),
		fleet:      f,
		Dir:        dir,
		CA:         ca,
	}
	if err := c.pickPort(); err != nil {
		return nil, err
	}
	adminCert, adminKey, err := ca.ClientCert(AdminUser, AdminGroup)
	if err != nil {
		return nil, err
	}
	c.Config = c.restConfig(adminCert, adminKey)
	return c, nil
}

func (c *Cluster) pickPort() error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	c.Port = ports[0]
	c.URL = fmt.Sprintf("https://127.0.0.1:%d", c.Port)
	if c.Config != nil {
		c.Config.Host = c.URL
	}
	return nil
}

func (c *Cluster) restConfig(certPEM, keyPEM []byte) *rest.Config {
	return &rest.Config{
		Host: c.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.CACert,
			CertData: certPEM,
			KeyData:  keyPEM,
		},
		QPS:       -1,
		UserAgent: "gatefed-testfleet",
		// Generous: the machine running tests may be busy.
		Timeout: 2 * time.Minute,
	}
}

// writeKubeconfig writes the admin kubeconfig: one context per cluster.
func (f *Fleet) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	for _, c := range f.Clusters {
		cfg.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.URL, CertificateAuthorityData: c.CACert}
		cfg.AuthInfos[c.Name+"-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.Config.CertData, ClientKeyData: c.Config.KeyData}
		cfg.Contexts[c.Context] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name + "-admin"}
	}
	if len(f.Clusters) > 0 {
		cfg.CurrentContext = f.Clusters[0].Context
	}
	return clientcmd.WriteToFile(*cfg, f.Kubeconfig)
}

// apiserverArgs are the flags of a cluster's kube-apiserver.
func (c *Cluster) apiserverArgs() []string {
	pki := pkiPaths(filepath.Join(c.Dir, "pki"))
	return []string{
		"--etcd-servers=" + c.fleet.EtcdURL,
		"--etcd-prefix=/gatefed/" + c.Name,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + itoa(c.Port),
		"--tls-cert-file=" + pki.ServingCert,
		"--tls-private-key-file=" + pki.ServingKey,
		"--client-ca-file=" + pki.CACert,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pki.SAPub,
		"--service-account-signing-key-file=" + pki.SAKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--cert-dir=" + filepath.Join(c.Dir, "certs"),
	}
}

// start runs the API server and waits for /readyz. A first start may pick a
// new port when the chosen one was taken meanwhile; a restart keeps it.
func (c *Cluster) start(ctx context.Context, first bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil && !c.proc.Exited() {
		return nil
	}
	httpClient, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		return err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p := &Process{
			Name:    "kube-apiserver " + c.Name,
			Path:    APIServerBin(),
			Args:    c.apiserverArgs(),
			LogPath: filepath.Join(c.fleet.Dir, "logs", c.Name+"-apiserver.log"),
			Journal: filepath.Join(c.fleet.Dir, JournalFile),
		}
		begin := time.Now()
		if err := p.Start(c.fleet.Options.Detached); err != nil {
			return err
		}
		c.proc = p
		err := WaitHTTP(ctx, p, httpClient, c.URL+"/readyz", c.fleet.Options.StartTimeout)
		if err == nil {
			c.fleet.Progressf("cluster %s: kube-apiserver ready at %s in %s (pid %d)", c.Name, c.URL, time.Since(begin).Round(100*time.Millisecond), p.Pid())
			return nil
		}
		lastErr = fmt.Errorf("kube-apiserver: %w\nlast lines of %s:\n%s", err, p.LogPath, p.LogTail(25))
		_ = p.Stop(5 * time.Second)
		if !first || !portInUse(p.LogTail(100)) {
			break
		}
		if err := c.pickPort(); err != nil {
			return err
		}
		if err := c.fleet.writeKubeconfig(); err != nil {
			return err
		}
	}
	return lastErr
}

// Start starts the API server and waits until it is ready. The first time it
// installs the cluster's CRDs and waits until they are established; after
// Stop it starts again on the same port with the same data and waits until
// its CRDs are served again.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	first := c.proc == nil
	c.mu.Unlock()
	if err := c.start(ctx, first); err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	var err error
	if first {
		err = c.installCRDs(ctx)
	} else {
		err = c.waitCRDsServed(ctx)
	}
	if err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return nil
}

// Stop stops the API server (SIGTERM, SIGKILL after 5s) and waits until it is gone.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return nil
	}
	return c.proc.Stop(5 * time.Second)
}

// Pid is the API server's process id, or 0 when it is stopped.
func (c *Cluster) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil || c.proc.Exited() {
		return 0
	}
	return c.proc.Pid()
}

// LogPath is the API server's log file.
func (c *Cluster) LogPath() string {
	return filepath.Join(c.fleet.Dir, "logs", c.Name+"-apiserver.log")
}

// State is what a detached fleet's owner must keep to stop it later.
type State struct {
	Dir        string         `json:"dir"`
	Kubeconfig string         `json:"kubeconfig"`
	Etcd       ProcessState   `json:"etcd"`
	Clusters   []ClusterState `json:"clusters"`
}

// ProcessState identifies a process.
type ProcessState struct {
	Pid  int      `json:"pid"`
	Exe  string   `json:"exe"`
	URL  string   `json:"url"`
	Log  string   `json:"log"`
	Args []string `json:"args,omitempty"`
}

// ClusterState is one cluster of a State.
type ClusterState struct {
	Name      string       `json:"name"`
	Context   string       `json:"context"`
	Port      int          `json:"port"`
	CRDs      []string     `json:"crds"`
	APIServer ProcessState `json:"apiserver"`
}

// State describes the running fleet.
func (f *Fleet) State() State {
	st := State{
		Dir:        f.Dir,
		Kubeconfig: f.Kubeconfig,
		Etcd:       ProcessState{Pid: f.etcd.Pid(), Exe: EtcdBin(), URL: f.EtcdURL, Log: f.etcd.LogPath},
	}
	for _, c := range f.Clusters {
		st.Clusters = append(st.Clusters, ClusterState{
			Name:    c.Name,
			Context: c.Context,
			Port:    c.Port,
			CRDs:    c.CRDs.Names(),
			APIServer: ProcessState{
				Pid: c.Pid(), Exe: APIServerBin(), URL: c.URL, Log: c.LogPath(),
				Args: c.apiserverArgs(),
			},
		})
	}
	return st
}

// takeCRDSlot waits for a turn to create CRDs; release ends it (once, however
// often called). A fleet
// without slots (not started by Start) gives turns at once.
func (f *Fleet) takeCRDSlot(ctx context.Context) (release func(), err error) {
	if f.crdSlots == nil {
		return func() {}, nil
	}
	select {
	case f.crdSlots <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-f.crdSlots }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
