package demo

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gatefed/gatefed/internal/localfleet"
)

// Cluster states reported by Status.
const (
	StateReady    = "ready"
	StateNotReady = "not-ready"
	StateStopped  = "stopped"
)

// ClusterStatus is one cluster of a Status report.
type ClusterStatus struct {
	ClusterInfo
	Context string `json:"context"`
	URL     string `json:"url"`
	Pid     int    `json:"pid,omitempty"`
	State   string `json:"state"`
	Detail  string `json:"detail,omitempty"`
}

// Report is the state of a demo fleet.
type Report struct {
	StateDir   string          `json:"stateDir"`
	Kubeconfig string          `json:"kubeconfig"`
	FleetDir   string          `json:"fleetDir"`
	Started    time.Time       `json:"started"`
	Etcd       ClusterStatus   `json:"etcd"`
	Listener   ClusterStatus   `json:"failoverListener"`
	Clusters   []ClusterStatus `json:"clusters"`
}

// Status reports each recorded process and whether each API server is ready.
func Status(ctx context.Context, opts Options) (*Report, error) {
	st, err := opts.LoadState()
	if err != nil {
		return nil, err
	}
	rep := &Report{StateDir: opts.StateDir, Kubeconfig: opts.Kubeconfig(), FleetDir: opts.FleetDir(), Started: st.Started}
	rep.Etcd = ClusterStatus{ClusterInfo: ClusterInfo{Name: "etcd"}, URL: st.Fleet.Etcd.URL, State: StateStopped}
	if localfleet.ProcessRuns(st.Fleet.Etcd.Pid, st.Fleet.Etcd.Exe) {
		rep.Etcd.Pid = st.Fleet.Etcd.Pid
		rep.Etcd.State, rep.Etcd.Detail = probe(ctx, http.DefaultClient, st.Fleet.Etcd.URL+"/health")
	}
	var ports []string
	for _, c := range st.Clusters {
		ports = append(ports, strconv.Itoa(int(c.FailoverPort)))
	}
	rep.Listener = ClusterStatus{ClusterInfo: ClusterInfo{Name: "failover-listener"}, URL: "127.0.0.1:" + strings.Join(ports, ","), State: StateStopped}
	if localfleet.ProcessRuns(st.Listener.Pid, st.Listener.Exe) {
		rep.Listener.Pid, rep.Listener.State = st.Listener.Pid, StateReady
	}
	for _, c := range st.Fleet.Clusters {
		cs := ClusterStatus{ClusterInfo: infoOf(st, c.Name), Context: c.Context, URL: c.APIServer.URL, State: StateStopped}
		if localfleet.ProcessRuns(c.APIServer.Pid, c.APIServer.Exe) {
			cs.Pid = c.APIServer.Pid
			client, err := opts.httpClient(c.Context)
			if err != nil {
				cs.State, cs.Detail = StateNotReady, err.Error()
			} else {
				cs.State, cs.Detail = probe(ctx, client, c.APIServer.URL+"/readyz")
			}
		}
		rep.Clusters = append(rep.Clusters, cs)
	}
	return rep, nil
}

func infoOf(st *State, name string) ClusterInfo {
	for _, c := range st.Clusters {
		if c.Name == name {
			return c
		}
	}
	return ClusterInfo{Name: name}
}

func (o *Options) restConfig(context string) (*rest.Config, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: o.Kubeconfig()},
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 5 * time.Second
	return cfg, nil
}

func (o *Options) httpClient(context string) (*http.Client, error) {
	cfg, err := o.restConfig(context)
	if err != nil {
		return nil, err
	}
	return rest.HTTPClientFor(cfg)
}

func probe(ctx context.Context, client *http.Client, url string) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return StateNotReady, err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return StateNotReady, fmt.Sprintf("%s answered %s", url, resp.Status)
	}
	return StateReady, ""
}

// StopCluster stops one cluster's API server; its data stays in etcd.
func StopCluster(opts Options, name string) error {
	_, c, err := opts.loadCluster(name)
	if err != nil {
		return err
	}
	return stopProcess(opts.IO.Out, "kube-apiserver "+name, c.APIServer)
}

// StartCluster starts a stopped cluster's API server again with the same
// port and data and waits until it is ready.
func StartCluster(ctx context.Context, opts Options, name string) error {
	st, c, err := opts.loadCluster(name)
	if err != nil {
		return err
	}
	if localfleet.ProcessRuns(c.APIServer.Pid, c.APIServer.Exe) {
		fmt.Fprintf(opts.IO.Out, "kube-apiserver %s already runs (pid %d)\n", name, c.APIServer.Pid)
		return nil
	}
	if !localfleet.ProcessRuns(st.Fleet.Etcd.Pid, st.Fleet.Etcd.Exe) {
		return fmt.Errorf("etcd of the demo fleet is not running; restart the demo: gatefed demo down && gatefed demo up")
	}
	begin := time.Now()
	pid, err := localfleet.StartProcess(c.APIServer.Exe, c.APIServer.Args, c.APIServer.Log, !opts.Attached, opts.StateDir)
	if err != nil {
		return err
	}
	c.APIServer.Pid = pid
	if err := opts.saveState(st); err != nil {
		return err
	}
	client, err := opts.httpClient(c.Context)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		state, detail := probe(ctx, client, c.APIServer.URL+"/readyz")
		if state == StateReady {
			break
		}
		if !localfleet.ProcessRuns(pid, c.APIServer.Exe) {
			return fmt.Errorf("kube-apiserver %s exited; see %s", name, c.APIServer.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver %s not ready after 2m: %s (log %s)", name, detail, c.APIServer.Log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	fmt.Fprintf(opts.IO.Out, "started kube-apiserver %s (pid %d), ready in %s\n", name, pid, time.Since(begin).Round(100*time.Millisecond))
	return nil
}

// loadCluster loads the demo's state and finds one cluster in it.
func (opts Options) loadCluster(name string) (*State, *localfleet.ClusterState, error) {
	st, err := opts.LoadState()
	if err != nil {
		return nil, nil, err
	}
	c, err := findCluster(st, name)
	return st, c, err
}

func findCluster(st *State, name string) (*localfleet.ClusterState, error) {
	var known []string
	for i := range st.Fleet.Clusters {
		if st.Fleet.Clusters[i].Name == name {
			return &st.Fleet.Clusters[i], nil
		}
		known = append(known, st.Fleet.Clusters[i].Name)
	}
	return nil, fmt.Errorf("no demo cluster %q (clusters: %v)", name, known)
}
