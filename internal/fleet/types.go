// Package fleet is gatefed's policy model: Cluster, GlobalService and
// GlobalRoute documents, loaded strictly from YAML and validated.
package fleet

// APIVersion is the apiVersion of every fleet document.
const APIVersion = APIGroup + "/v1alpha1"

// APIGroup is the API group of every fleet document.
const APIGroup = "gatefed.dev"

// Document kinds.
const (
	KindCluster       = "Cluster"
	KindGlobalService = "GlobalService"
	KindGlobalRoute   = "GlobalRoute"
)

// Failover policies.
const (
	PolicyOrdered  = "ordered"
	PolicyLocality = "locality"
)

// DefaultFailoverPort is the port other clusters reach a failover target on.
const DefaultFailoverPort = 15443

// DefaultLocalityMaxTiers is how many tiers a locality service keeps when
// failover.maxTiers is left out: the source and its three nearest failover
// targets. Ordered services keep every cluster they run in by default.
const DefaultLocalityMaxTiers = 4

// Fleet is every document loaded, defaulted and validated.
type Fleet struct {
	Clusters []*Cluster
	Services []*GlobalService
	Routes   []*GlobalRoute
	// Extensions are the GlobalExtensions, sorted by namespace/name.
	Extensions []*GlobalExtension

	// Lookup indexes, built by Index; nil means search the slices.
	clusterIndex map[string]*Cluster
	serviceIndex map[string]*GlobalService
	routeIndex   map[string]*GlobalRoute
	placed       map[*Placement][]*Cluster
}

// Index builds the name lookups. Call it again after changing the slices.
func (f *Fleet) Index() {
	f.clusterIndex = make(map[string]*Cluster, len(f.Clusters))
	for _, c := range f.Clusters {
		if _, dup := f.clusterIndex[c.Metadata.Name]; !dup {
			f.clusterIndex[c.Metadata.Name] = c
		}
	}
	f.serviceIndex = make(map[string]*GlobalService, len(f.Services))
	for _, s := range f.Services {
		if _, dup := f.serviceIndex[s.Key()]; !dup {
			f.serviceIndex[s.Key()] = s
		}
	}
	f.placed = nil
	placed := map[*Placement][]*Cluster{nil: f.Placed(nil)}
	for _, s := range f.Services {
		placed[s.Spec.Clusters] = f.Placed(s.Spec.Clusters)
	}
	for _, r := range f.Routes {
		placed[r.Spec.Clusters] = f.Placed(r.Spec.Clusters)
	}
	f.placed = placed
	f.routeIndex = make(map[string]*GlobalRoute, len(f.Routes))
	for _, r := range f.Routes {
		if _, dup := f.routeIndex[r.Key()]; !dup {
			f.routeIndex[r.Key()] = r
		}
	}
}

// Source records where a document came from.
type Source struct {
	File string // as given on the command line; "-" for stdin
	Line int    // line of the document's first key
	// lines maps a field path such as "spec.failover.order[1]" to its line.
	lines map[string]int
}

// Has reports whether the field path was written in the input.
func (s Source) Has(path string) bool {
	_, ok := s.lines[path]
	return ok
}

// LineOf returns the line of a field path, or of its nearest parent.
func (s Source) LineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := s.lines[p]; ok {
			return l
		}
	}
	return s.Line
}

// ObjectMeta is the metadata of a fleet document.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// TypeMeta is the apiVersion and kind of a document.
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// Cluster is one cluster of the fleet.
type Cluster struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta  `json:"metadata"`
	Spec     ClusterSpec `json:"spec"`
	Source   Source      `json:"-"`
}

// ClusterSpec says how to reach a cluster and its gateway.
type ClusterSpec struct {
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
	Region     string `json:"region,omitempty"`
	Zone       string `json:"zone,omitempty"`
	// ClusterDomain is the DNS domain of the cluster's Services (default cluster.local).
	ClusterDomain string           `json:"clusterDomain,omitempty"`
	Gateway       GatewaySpec      `json:"gateway"`
	Failover      *ClusterFailover `json:"failover,omitempty"`
	// FailoverCertificates has cert-manager issue the cluster's two failover
	// Secrets: render emits a Certificate for each.
	FailoverCertificates *FailoverCertificates `json:"failoverCertificates,omitempty"`
}

// FailoverCertificates names the cert-manager issuer of a cluster's
// failover Secrets and their lifetime.
type FailoverCertificates struct {
	IssuerRef IssuerRef `json:"issuerRef"`
	// Duration and RenewBefore are cert-manager's (its defaults when empty).
	Duration    Duration `json:"duration,omitempty"`
	RenewBefore Duration `json:"renewBefore,omitempty"`
}

// IssuerRef is a cert-manager issuer: kind Issuer (in the gateway
// namespace) or ClusterIssuer, group cert-manager.io unless an external one.
type IssuerRef struct {
	Name  string `json:"name"`
	Kind  string `json:"kind,omitempty"`
	Group string `json:"group,omitempty"`
}

// GatewaySpec names the gateway gatefed writes objects for.
type GatewaySpec struct {
	Provider  string `json:"provider"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	ClassName string `json:"className,omitempty"`
	// Selector picks the ingress gateway pods an istio Gateway binds to.
	Selector map[string]string `json:"selector,omitempty"`
	// StrictTiers gives every failover tier of a service its own Envoy
	// priority where the provider needs a patch of the generated Envoy
	// configuration for it (envoy-gateway: an EnvoyPatchPolicy, which
	// Envoy Gateway applies only with extensionApis.enableEnvoyPatchPolicy).
	StrictTiers bool `json:"strictTiers,omitempty"`
	// IPFamilies are the IP families of the gateway proxy's Service
	// (IPv4, IPv6), as cluster register records them; a gloo failover
	// Gateway binds 0.0.0.0 on an IPv4-only cluster, :: otherwise.
	IPFamilies []string `json:"ipFamilies,omitempty"`
	// Version is the gateway's version ("1.19.3"), as cluster register
	// records it; gloo output leaves out fields older versions lack.
	Version string `json:"version,omitempty"`
}

// ClusterFailover is how other clusters reach this one.
type ClusterFailover struct {
	Address string `json:"address"`
	Port    int32  `json:"port,omitempty"`
}

// GlobalService is a Kubernetes Service that runs in several clusters.
type GlobalService struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta        `json:"metadata"`
	Spec     GlobalServiceSpec `json:"spec"`
	Source   Source            `json:"-"`
}

// GlobalServiceSpec places a service and says how it fails over.
type GlobalServiceSpec struct {
	ServiceName      string            `json:"serviceName,omitempty"`
	Port             int32             `json:"port"`
	Clusters         *Placement        `json:"clusters,omitempty"`
	Failover         *FailoverPolicy   `json:"failover,omitempty"`
	HealthCheck      *HealthCheck      `json:"healthCheck,omitempty"`
	OutlierDetection *OutlierDetection `json:"outlierDetection,omitempty"`
}

// Placement picks clusters by name or label selector (ORed). Empty means all.
type Placement struct {
	Names    []string       `json:"names,omitempty"`
	Selector *LabelSelector `json:"selector,omitempty"`
}

// LabelSelector is a Kubernetes label selector.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one expression of a LabelSelector.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// FailoverPolicy orders the clusters a service fails over to.
type FailoverPolicy struct {
	Policy string   `json:"policy,omitempty"`
	Order  []string `json:"order,omitempty"`
	// MaxTiers caps the tiers each source keeps, tier 0 included.
	MaxTiers int32 `json:"maxTiers,omitempty"`
}

// HealthCheck is an active HTTP health check.
type HealthCheck struct {
	Path               string   `json:"path,omitempty"`
	Interval           Duration `json:"interval,omitempty"`
	Timeout            Duration `json:"timeout,omitempty"`
	HealthyThreshold   int32    `json:"healthyThreshold,omitempty"`
	UnhealthyThreshold int32    `json:"unhealthyThreshold,omitempty"`
}

// OutlierDetection is passive health checking.
type OutlierDetection struct {
	Consecutive5xx     int32    `json:"consecutive5xx,omitempty"`
	Interval           Duration `json:"interval,omitempty"`
	BaseEjectionTime   Duration `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent int32    `json:"maxEjectionPercent,omitempty"`
}

// GlobalRoute routes hosts to GlobalServices on a set of gateways.
type GlobalRoute struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta      `json:"metadata"`
	Spec     GlobalRouteSpec `json:"spec"`
	Source   Source          `json:"-"`
}

// GlobalRouteSpec is the hosts, placement and rules of a route.
type GlobalRouteSpec struct {
	Hosts []string `json:"hosts"`
	// TLS serves the hosts over HTTPS with a certificate from a Secret.
	TLS      *RouteTLS  `json:"tls,omitempty"`
	Clusters *Placement `json:"clusters,omitempty"`
	Rules    []Rule     `json:"rules"`
}

// RouteTLS serves a route's hosts over HTTPS.
type RouteTLS struct {
	// SecretName is a kubernetes.io/tls Secret in the gateway namespace of
	// every cluster that serves the route, holding a certificate for the hosts.
	SecretName string `json:"secretName"`
	// HTTPSRedirect answers plain HTTP on the hosts with a 301 to https.
	HTTPSRedirect bool `json:"httpsRedirect,omitempty"`
}

// Rule is one match and what answers it: its backends, or a redirect, or a
// direct response.
type Rule struct {
	Name     string    `json:"name,omitempty"`
	Match    *Match    `json:"match,omitempty"`
	Backends []Backend `json:"backends,omitempty"`
	Timeout  Duration  `json:"timeout,omitempty"`
	Retries  *Retries  `json:"retries,omitempty"`
	// Rewrite changes the path prefix or host before the request is sent on.
	Rewrite *Rewrite `json:"rewrite,omitempty"`
	// RequestHeaders change the request's headers before it is sent on;
	// ResponseHeaders the response's before it is returned.
	RequestHeaders  *HeaderModifier `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderModifier `json:"responseHeaders,omitempty"`
	// Redirect answers with a redirect instead of sending to backends.
	Redirect *Redirect `json:"redirect,omitempty"`
	// DirectResponse answers with a fixed status and body instead of sending to backends.
	DirectResponse *DirectResponse `json:"directResponse,omitempty"`
	// CORS answers browsers' cross-origin checks.
	CORS *CORS `json:"cors,omitempty"`
	// RateLimit limits the rule's requests on each gateway instance.
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	// Mirror sends a copy of a share of the rule's requests to another
	// service, whose answers are dropped.
	Mirror *Mirror `json:"mirror,omitempty"`
}

// Mirror copies Percent (1-100, default 100) of a rule's requests to a
// GlobalService: "name" in the route's namespace or "ns/name".
type Mirror struct {
	Service string `json:"service"`
	Percent int32  `json:"percent,omitempty"`
}

// CORS is a cross-origin resource sharing policy.
type CORS struct {
	AllowOrigins     []string `json:"allowOrigins"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	MaxAge           Duration `json:"maxAge,omitempty"`
	AllowCredentials bool     `json:"allowCredentials,omitempty"`
}

// RateLimit allows Requests per Unit (Second, Minute or Hour) on each gateway
// instance (a local rate limit: every proxy replica counts on its own).
type RateLimit struct {
	Requests int32  `json:"requests"`
	Unit     string `json:"unit"`
}

// Rewrite replaces the matched path prefix and/or the host.
type Rewrite struct {
	PathPrefix string `json:"pathPrefix,omitempty"`
	Hostname   string `json:"hostname,omitempty"`
}

// HeaderModifier sets (replacing), adds (appending) and removes headers.
type HeaderModifier struct {
	Set    map[string]string `json:"set,omitempty"`
	Add    map[string]string `json:"add,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// Redirect answers with a redirect; fields left out keep the request's.
type Redirect struct {
	Scheme   string `json:"scheme,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Port     int32  `json:"port,omitempty"`
	// Path replaces the whole path; PathPrefix only the matched prefix.
	Path       string `json:"path,omitempty"`
	PathPrefix string `json:"pathPrefix,omitempty"`
	// StatusCode is 301, 302 (default), 303, 307 or 308.
	StatusCode int32 `json:"statusCode,omitempty"`
}

// DirectResponse answers with a status and an optional body.
type DirectResponse struct {
	Status int32  `json:"status"`
	Body   string `json:"body,omitempty"`
}

// Match selects requests. At most one path field is set; none means pathPrefix "/".
type Match struct {
	PathPrefix string        `json:"pathPrefix,omitempty"`
	PathExact  string        `json:"pathExact,omitempty"`
	PathRegex  string        `json:"pathRegex,omitempty"`
	Headers    []HeaderMatch `json:"headers,omitempty"`
	Methods    []string      `json:"methods,omitempty"`
}

// HeaderMatch matches a header's exact value.
type HeaderMatch struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Backend is a weighted GlobalService: "name" in the route's namespace or "ns/name".
type Backend struct {
	Service string `json:"service"`
	Weight  *int32 `json:"weight,omitempty"`
}

// Retries retries failed requests.
type Retries struct {
	Attempts      int32    `json:"attempts,omitempty"`
	PerTryTimeout Duration `json:"perTryTimeout,omitempty"`
}
