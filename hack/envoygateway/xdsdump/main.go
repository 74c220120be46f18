// Command xdsdump asks an xDS server for one node's configuration over ADS
// and prints what it was sent as JSON: clusters, endpoints, listeners and
// route configurations. Tests use it to read the Envoy configuration the
// real Envoy Gateway controller serves its proxies.
//
//	xdsdump -addr 127.0.0.1:18000 -ca ca.crt -cert tls.crt -key tls.key -node-cluster envoy-gateway-system/eg
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"

	// Types the configuration embeds, so that it prints in full.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/dns/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/least_request/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

const (
	typeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	typeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "xdsdump:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	addr, caFile, certFile, keyFile, serverName string
	nodeCluster, nodeID                         string
	timeout, idleWait                           time.Duration
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:18000", "xDS server address")
	caFile := flag.String("ca", "", "CA that signed the server's certificate")
	certFile := flag.String("cert", "", "client certificate")
	keyFile := flag.String("key", "", "client key")
	serverName := flag.String("server-name", "envoy-gateway", "name the server's certificate must carry")
	nodeCluster := flag.String("node-cluster", "", "the node's cluster (Envoy Gateway: namespace/name of the Gateway)")
	nodeID := flag.String("node-id", "xdsdump", "the node's id")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for the configuration")
	idleWait := flag.Duration("idle", 3*time.Second, "after the first answer, how long a quiet server means no more types")
	flag.Parse()
	if *nodeCluster == "" {
		return errors.New("-node-cluster is required")
	}
	o := options{addr: *addr, caFile: *caFile, certFile: *certFile, keyFile: *keyFile, serverName: *serverName,
		nodeCluster: *nodeCluster, nodeID: *nodeID, timeout: *timeout, idleWait: *idleWait}
	conn, err := dial(o)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	got, err := fetch(ctx, stream, &corev3.Node{Id: o.nodeID, Cluster: o.nodeCluster}, o.idleWait)
	if err != nil {
		return err
	}
	return printJSON(got)
}

// dial connects to the xDS server over mutual TLS.
func dial(o options) (*grpc.ClientConn, error) {
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, err
	}
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return nil, err
	}
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: o.serverName, MinVersion: tls.VersionTLS12})
	return grpc.NewClient(o.addr, grpc.WithTransportCredentials(creds))
}

type received struct {
	resp *discoveryv3.DiscoveryResponse
	err  error
}

// receive passes the stream's responses on until an error or ctx ends.
func receive(ctx context.Context, stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient) <-chan received {
	responses := make(chan received)
	go func() {
		for {
			resp, err := stream.Recv()
			select {
			case responses <- received{resp, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return responses
}

// fetch subscribes to clusters and listeners, then to the endpoints and
// routes they name, acknowledging every answer, and returns the resources
// by type.
func fetch(ctx context.Context, stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient, node *corev3.Node, idleWait time.Duration) (map[string][]*anypb.Any, error) {
	send := func(typ, version, nonce string, names []string) error {
		return stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typ, VersionInfo: version, ResponseNonce: nonce, ResourceNames: names})
	}
	for _, typ := range []string{typeCluster, typeListener} {
		if err := send(typ, "", "", nil); err != nil {
			return nil, err
		}
	}
	responses := receive(ctx, stream)
	got := map[string][]*anypb.Any{}
	var edsNames, rdsNames []string
	pending := map[string]bool{typeCluster: true, typeListener: true}
	first := true
	for len(pending) > 0 {
		// A server sends nothing for a type it has no resources of: once it
		// has answered, a quiet -idle ends the wait with those types empty.
		var idle <-chan time.Time
		if !first {
			idle = time.After(idleWait)
		}
		var resp *discoveryv3.DiscoveryResponse
		select {
		case r := <-responses:
			if r.err != nil {
				return nil, fmt.Errorf("waiting for %v: %w", keys(pending), r.err)
			}
			resp = r.resp
		case <-idle:
			pending = nil
			continue
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %v: %w", keys(pending), ctx.Err())
		}
		first = false
		typ := resp.GetTypeUrl()
		got[typ] = resp.GetResources()
		delete(pending, typ)
		// follow subscribes to the type a response names resources of.
		follow := func(names []string, typ string) error {
			if len(names) == 0 || got[typ] != nil {
				return nil
			}
			pending[typ] = true
			return send(typ, "", "", names)
		}
		var names []string
		var err error
		switch typ {
		case typeCluster:
			edsNames = edsClusters(resp.GetResources())
			err = follow(edsNames, typeEndpoint)
		case typeListener:
			rdsNames = routeNames(resp.GetResources())
			err = follow(rdsNames, typeRoute)
		case typeEndpoint:
			names = edsNames
		case typeRoute:
			names = rdsNames
		}
		if err != nil {
			return nil, err
		}
		// Acknowledge, so the server counts the node as up to date.
		if err := send(typ, resp.GetVersionInfo(), resp.GetNonce(), names); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// printJSON writes the resources as JSON: clusters, endpoints, listeners, routes.
func printJSON(got map[string][]*anypb.Any) error {
	out := map[string][]json.RawMessage{}
	for typ, key := range map[string]string{typeCluster: "clusters", typeEndpoint: "endpoints", typeListener: "listeners", typeRoute: "routes"} {
		out[key] = []json.RawMessage{}
		for _, a := range got[typ] {
			msg, err := a.UnmarshalNew()
			if err != nil {
				return err
			}
			data, err := protojson.Marshal(msg)
			if err != nil {
				return fmt.Errorf("%s: %w", typ, err)
			}
			out[key] = append(out[key], data)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// edsClusters names the clusters whose endpoints come from EDS.
func edsClusters(res []*anypb.Any) []string {
	var names []string
	for _, a := range res {
		c := &clusterv3.Cluster{}
		if err := a.UnmarshalTo(c); err == nil && c.GetType() == clusterv3.Cluster_EDS {
			name := c.GetName()
			if sn := c.GetEdsClusterConfig().GetServiceName(); sn != "" {
				name = sn
			}
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// routeNames names the route configurations the listeners' HTTP connection managers load by RDS.
func routeNames(res []*anypb.Any) []string {
	seen := map[string]bool{}
	for _, a := range res {
		l := &listenerv3.Listener{}
		if err := a.UnmarshalTo(l); err != nil {
			continue
		}
		chains := append([]*listenerv3.FilterChain{l.GetDefaultFilterChain()}, l.GetFilterChains()...)
		for _, fc := range chains {
			for _, f := range fc.GetFilters() {
				h := &hcmv3.HttpConnectionManager{}
				if tc := f.GetTypedConfig(); tc != nil && tc.UnmarshalTo(h) == nil {
					if n := h.GetRds().GetRouteConfigName(); n != "" {
						seen[n] = true
					}
				}
			}
		}
	}
	return keys(seen)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
