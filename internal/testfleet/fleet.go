package testfleet

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gatefed/gatefed/internal/localfleet"
)

// Fleet is a running local fleet (localfleet.Fleet) with what tests need
// besides: namespaces, user kubeconfigs, restarts, the Envoy Gateway
// controller and stand-in proxies.
type Fleet struct {
	*localfleet.Fleet
	// Clusters in the order they were asked for.
	Clusters []*Cluster
	byName   map[string]*Cluster
}

// Cluster is one kube-apiserver of a test fleet.
type Cluster struct {
	*localfleet.Cluster
	fleet *Fleet
}

// Start runs a local fleet (localfleet.Start) for tests.
func Start(ctx context.Context, opts localfleet.Options) (*Fleet, error) {
	lf, err := localfleet.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	f := &Fleet{Fleet: lf, byName: map[string]*Cluster{}}
	for _, c := range lf.Clusters {
		tc := &Cluster{Cluster: c, fleet: f}
		f.Clusters = append(f.Clusters, tc)
		f.byName[c.Name] = tc
	}
	return f, nil
}

// Cluster returns the named cluster, or nil.
func (f *Fleet) Cluster(name string) *Cluster { return f.byName[name] }

// Names returns the cluster names in order.
func (f *Fleet) Names() []string {
	out := make([]string, len(f.Clusters))
	for i, c := range f.Clusters {
		out[i] = c.Name
	}
	return out
}

// StopCluster stops a cluster's API server; its data stays in etcd.
func (f *Fleet) StopCluster(name string) error {
	c := f.Cluster(name)
	if c == nil {
		return fmt.Errorf("no cluster %q", name)
	}
	return c.Stop()
}

// StartCluster starts a stopped cluster's API server again on the same port
// with the same data, and waits until it is ready and serves its CRDs.
func (f *Fleet) StartCluster(ctx context.Context, name string) error {
	c := f.Cluster(name)
	if c == nil {
		return fmt.Errorf("no cluster %q", name)
	}
	return c.Start(ctx)
}

// Pids returns the process ids of etcd and the running API servers.
func (f *Fleet) Pids() []int {
	var pids []int
	if p := f.EtcdPid(); p != 0 {
		pids = append(pids, p)
	}
	for _, c := range f.Clusters {
		if p := c.Pid(); p != 0 {
			pids = append(pids, p)
		}
	}
	return pids
}

// EtcdPid is the process id of the shared etcd.
func (f *Fleet) EtcdPid() int { return f.State().Etcd.Pid }

// Running reports whether the API server process runs.
func (c *Cluster) Running() bool { return c.Pid() != 0 }

// Clientset returns a typed admin client.
func (c *Cluster) Clientset() (kubernetes.Interface, error) { return kubernetes.NewForConfig(c.Config) }

// Dynamic returns a dynamic admin client.
func (c *Cluster) Dynamic() (dynamic.Interface, error) { return dynamic.NewForConfig(c.Config) }

// Sim writes what controllers would write on this cluster, as admin.
func (c *Cluster) Sim() *Sim { return &Sim{c.Cluster.Sim()} }

// Sim is a localfleet.Sim with the stand-in proxies of Envoy Gateway's controller.
type Sim struct{ *localfleet.Sim }

// NewSim builds a Sim for a client configuration.
func NewSim(cfg *rest.Config) (*Sim, error) {
	s, err := localfleet.NewSim(cfg)
	if err != nil {
		return nil, err
	}
	return &Sim{s}, nil
}

// False is a condition with status False.
func False(typ, reason, message string) localfleet.Condition {
	return localfleet.Condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason, Message: message}
}
