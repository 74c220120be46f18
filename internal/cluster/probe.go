package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
)

// Status is one row of gatefed cluster list.
type Status struct {
	Name       string `json:"name"`
	Context    string `json:"context"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Provider   string `json:"provider"`
	Region     string `json:"region,omitempty"`
	Zone       string `json:"zone,omitempty"`
	// Failover is "address:port", or "" when the cluster is not a failover target.
	Failover string `json:"failover,omitempty"`
	// Probed is false with --offline; the fields below are then empty.
	Probed    bool    `json:"probed"`
	Server    string  `json:"server,omitempty"`
	Reachable bool    `json:"reachable"`
	Version   string  `json:"version,omitempty"`
	LatencyMS float64 `json:"latencyMs,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// Latency is the round trip of the version request.
func (s Status) Latency() time.Duration {
	return time.Duration(s.LatencyMS * float64(time.Millisecond))
}

// ProbeOptions configure Probe.
type ProbeOptions struct {
	// Kubeconfig is the fallback for documents that name none.
	Kubeconfig string
	// Timeout bounds each cluster's probe.
	Timeout time.Duration
	// Offline skips probing.
	Offline bool
}

// Probe describes every cluster and, unless offline, asks each API server
// for its version, all in parallel and each within the timeout: an
// unreachable cluster is reported, never waited on longer.
func Probe(ctx context.Context, clusters []*fleet.Cluster, o ProbeOptions) []Status {
	out := make([]Status, len(clusters))
	var wg sync.WaitGroup
	for i, c := range clusters {
		out[i] = Status{
			Name: c.Name(), Context: c.Context(), Kubeconfig: c.Spec.Kubeconfig,
			Provider: c.Spec.Gateway.Provider, Region: c.Spec.Region, Zone: c.Spec.Zone,
		}
		if c.FailoverTarget() {
			out[i].Failover = Failover{Address: c.Spec.Failover.Address, Port: c.FailoverPort()}.String()
		}
		if o.Offline {
			continue
		}
		wg.Go(func() {
			probeOne(ctx, c, o, &out[i])
		})
	}
	wg.Wait()
	return out
}

func probeOne(ctx context.Context, c *fleet.Cluster, o ProbeOptions, st *Status) {
	st.Probed = true
	cfg, err := kube.RESTConfig(c, o.Kubeconfig)
	if err != nil {
		st.Error = err.Error()
		return
	}
	st.Server = cfg.Host
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	v, latency, err := ServerVersion(ctx, clientConfig(cfg, o.Timeout))
	if err != nil {
		st.Error = err.Error()
		return
	}
	st.Reachable, st.Version = true, v
	st.LatencyMS = float64(latency.Microseconds()) / 1000
}
