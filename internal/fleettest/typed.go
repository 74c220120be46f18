package fleettest

import "github.com/gatefed/gatefed/internal/fleet"

// NewCluster is a Cluster as the loader leaves it: the provider's default
// gateway namespace, name, class and selector. An empty address makes a cluster that
// is not a failover target; port 0 takes the default failover port.
func NewCluster(name, provider, region, zone, address string, port int32) *fleet.Cluster {
	c := &fleet.Cluster{
		TypeMeta: fleet.TypeMeta{APIVersion: fleet.APIVersion, Kind: fleet.KindCluster},
		Metadata: fleet.ObjectMeta{Name: name},
		Spec: fleet.ClusterSpec{
			Region:  region,
			Zone:    zone,
			Gateway: fleet.GatewaySpec{Provider: provider},
		},
	}
	c.Spec.Gateway.SetDefaults()
	if address != "" {
		if port == 0 {
			port = fleet.DefaultFailoverPort
		}
		c.Spec.Failover = &fleet.ClusterFailover{Address: address, Port: port}
	}
	return c
}

// NewService is a GlobalService placed in the named clusters (all when
// none); "" namespace is the default one.
func NewService(namespace, name string, port int32, placed ...string) *fleet.GlobalService {
	if namespace == "" {
		namespace = fleet.DefaultNamespace
	}
	s := &fleet.GlobalService{
		TypeMeta: fleet.TypeMeta{APIVersion: fleet.APIVersion, Kind: fleet.KindGlobalService},
		Metadata: fleet.ObjectMeta{Name: name, Namespace: namespace},
		Spec:     fleet.GlobalServiceSpec{Port: port},
	}
	if len(placed) > 0 {
		s.Spec.Clusters = &fleet.Placement{Names: placed}
	}
	return s
}

// NewRoute is a GlobalRoute served everywhere; "" namespace is the default one.
func NewRoute(namespace, name string, hosts []string, rules ...fleet.Rule) *fleet.GlobalRoute {
	if namespace == "" {
		namespace = fleet.DefaultNamespace
	}
	return &fleet.GlobalRoute{
		TypeMeta: fleet.TypeMeta{APIVersion: fleet.APIVersion, Kind: fleet.KindGlobalRoute},
		Metadata: fleet.ObjectMeta{Name: name, Namespace: namespace},
		Spec:     fleet.GlobalRouteSpec{Hosts: hosts, Rules: rules},
	}
}

// To is a rule that sends to the services in equal shares.
func To(services ...string) fleet.Rule {
	var r fleet.Rule
	for _, s := range services {
		r.Backends = append(r.Backends, fleet.Backend{Service: s})
	}
	return r
}

// Backend is a backend with an optional weight.
func Backend(service string, weight ...int32) fleet.Backend {
	b := fleet.Backend{Service: service}
	if len(weight) > 0 {
		b.Weight = Weight(weight[0])
	}
	return b
}

// Weight points at w.
func Weight(w int32) *int32 { return &w }

// NewFleet is a fleet of the objects as given (no loading, no validation).
func NewFleet(clusters []*fleet.Cluster, services []*fleet.GlobalService, routes ...*fleet.GlobalRoute) *fleet.Fleet {
	return &fleet.Fleet{Clusters: clusters, Services: services, Routes: routes}
}
