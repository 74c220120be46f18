// Package gloov1 holds the subset of Gloo Edge's gloo.solo.io/v1 and
// gateway.solo.io/v1 API types that gatefed renders. JSON field names follow
// Gloo's CRD schemas (protobuf JSON): durations are strings such as "5s" and
// uint32 wrapper fields are pointers so that zero can be told from unset.
package gloov1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// API groups and versions.
const (
	GlooGroupVersion    = "gloo.solo.io/v1"
	GatewayGroupVersion = "gateway.solo.io/v1"
)

// Kinds.
const (
	KindUpstream       = "Upstream"
	KindVirtualService = "VirtualService"
	KindGateway        = "Gateway"
)

// ResourceRef names an object in a namespace.
type ResourceRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// Upstream is a gloo.solo.io/v1 Upstream: one Envoy cluster.
type Upstream struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              UpstreamSpec `json:"spec"`
}

// UpstreamSpec sets exactly one of Kube or Static.
type UpstreamSpec struct {
	Kube             *KubeUpstream      `json:"kube,omitempty"`
	Static           *StaticUpstream    `json:"static,omitempty"`
	SslConfig        *UpstreamSslConfig `json:"sslConfig,omitempty"`
	HealthChecks     []HealthCheck      `json:"healthChecks,omitempty"`
	OutlierDetection *OutlierDetection  `json:"outlierDetection,omitempty"`
	Failover         *Failover          `json:"failover,omitempty"`
}

// KubeUpstream sends to the endpoints of a Kubernetes Service.
type KubeUpstream struct {
	ServiceName      string `json:"serviceName"`
	ServiceNamespace string `json:"serviceNamespace"`
	ServicePort      uint32 `json:"servicePort"`
}

// StaticUpstream sends to fixed hosts.
type StaticUpstream struct {
	Hosts []StaticHost `json:"hosts"`
	// UseTLS opens TLS to the hosts.
	UseTLS *bool `json:"useTls,omitempty"`
	// AutoSniRewrite, when unset or true, makes Gloo send each host's address
	// as SNI unless the host names its own sniAddr.
	AutoSniRewrite *bool `json:"autoSniRewrite,omitempty"`
}

// StaticHost is one address of a StaticUpstream.
type StaticHost struct {
	Addr    string `json:"addr"`
	Port    uint32 `json:"port"`
	SniAddr string `json:"sniAddr,omitempty"`
}

// UpstreamSslConfig is the TLS Gloo opens to an upstream.
type UpstreamSslConfig struct {
	SecretRef *ResourceRef `json:"secretRef,omitempty"`
	Sni       string       `json:"sni,omitempty"`
}

// HealthCheck is Envoy's active health check (config.core.v3.HealthCheck).
type HealthCheck struct {
	Timeout            string           `json:"timeout"`
	Interval           string           `json:"interval"`
	HealthyThreshold   *uint32          `json:"healthyThreshold,omitempty"`
	UnhealthyThreshold *uint32          `json:"unhealthyThreshold,omitempty"`
	HTTPHealthCheck    *HTTPHealthCheck `json:"httpHealthCheck,omitempty"`
}

// HTTPHealthCheck probes a path over HTTP.
type HTTPHealthCheck struct {
	Path string `json:"path"`
}

// OutlierDetection is Envoy's passive health checking (config.cluster.v3.OutlierDetection).
type OutlierDetection struct {
	Consecutive5xx     *uint32 `json:"consecutive5xx,omitempty"`
	Interval           string  `json:"interval,omitempty"`
	BaseEjectionTime   string  `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent *uint32 `json:"maxEjectionPercent,omitempty"`
}

// Failover adds lower-priority endpoints used when the upstream's own are unhealthy.
type Failover struct {
	// PrioritizedLocalities are the priorities after the upstream's own (priority 0), in order.
	PrioritizedLocalities []PriorityLocality `json:"prioritizedLocalities"`
}

// PriorityLocality is one failover priority.
type PriorityLocality struct {
	LocalityEndpoints []LocalityLbEndpoints `json:"localityEndpoints"`
}

// LocalityLbEndpoints are the endpoints of one locality.
type LocalityLbEndpoints struct {
	Locality    *Locality    `json:"locality,omitempty"`
	LbEndpoints []LbEndpoint `json:"lbEndpoints"`
}

// Locality is a region and zone.
type Locality struct {
	Region string `json:"region,omitempty"`
	Zone   string `json:"zone,omitempty"`
}

// LbEndpoint is one failover endpoint and the TLS Gloo opens to it.
type LbEndpoint struct {
	Address           string             `json:"address"`
	Port              uint32             `json:"port"`
	UpstreamSslConfig *UpstreamSslConfig `json:"upstreamSslConfig,omitempty"`
}

// VirtualService is a gateway.solo.io/v1 VirtualService: routes for a set of domains.
type VirtualService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              VirtualServiceSpec `json:"spec"`
}

// VirtualServiceSpec holds the virtual host and, for HTTPS, the TLS the
// gateway terminates for its domains. Gloo's default Gateways pick
// VirtualServices by SslConfig: gateway-proxy-ssl serves those with one,
// gateway-proxy those without.
type VirtualServiceSpec struct {
	SslConfig   *DownstreamSslConfig `json:"sslConfig,omitempty"`
	VirtualHost VirtualHost          `json:"virtualHost"`
}

// VirtualHost is the domains and their routes, matched in order.
type VirtualHost struct {
	Domains []string `json:"domains"`
	Routes  []Route  `json:"routes"`
}

// Route is one set of matchers and the action taken.
type Route struct {
	Name                 string                `json:"name,omitempty"`
	Matchers             []Matcher             `json:"matchers"`
	RouteAction          *RouteAction          `json:"routeAction,omitempty"`
	RedirectAction       *RedirectAction       `json:"redirectAction,omitempty"`
	DirectResponseAction *DirectResponseAction `json:"directResponseAction,omitempty"`
	Options              *RouteOptions         `json:"options,omitempty"`
}

// Matcher selects requests; exactly one of Prefix, Exact or Regex is set.
type Matcher struct {
	Prefix  string          `json:"prefix,omitempty"`
	Exact   string          `json:"exact,omitempty"`
	Regex   string          `json:"regex,omitempty"`
	Headers []HeaderMatcher `json:"headers,omitempty"`
	Methods []string        `json:"methods,omitempty"`
}

// HeaderMatcher matches a header's exact value.
type HeaderMatcher struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RouteAction sends to one destination or splits across several.
type RouteAction struct {
	Single *Destination      `json:"single,omitempty"`
	Multi  *MultiDestination `json:"multi,omitempty"`
}

// Destination is an upstream.
type Destination struct {
	Upstream ResourceRef `json:"upstream"`
}

// MultiDestination splits traffic by weight.
type MultiDestination struct {
	Destinations []WeightedDestination `json:"destinations"`
}

// WeightedDestination is one destination of a split.
type WeightedDestination struct {
	Destination Destination `json:"destination"`
	Weight      *uint32     `json:"weight"`
}

// DirectResponseAction answers without an upstream.
type DirectResponseAction struct {
	Status uint32 `json:"status"`
	Body   string `json:"body,omitempty"`
}

// Redirect response codes: the names of Gloo's
// RedirectAction.RedirectResponseCode enum. Its numbers are 0 to 4, not HTTP
// statuses, so gatefed writes the names; unset is MOVED_PERMANENTLY.
const (
	MovedPermanently  = "MOVED_PERMANENTLY"  // 301
	Found             = "FOUND"              // 302
	SeeOther          = "SEE_OTHER"          // 303
	TemporaryRedirect = "TEMPORARY_REDIRECT" // 307
	PermanentRedirect = "PERMANENT_REDIRECT" // 308
)

// RedirectAction answers with a redirect. At most one of PathRedirect and
// PrefixRewrite is set.
type RedirectAction struct {
	HostRedirect string `json:"hostRedirect,omitempty"`
	// PathRedirect replaces the whole path.
	PathRedirect string `json:"pathRedirect,omitempty"`
	// PrefixRewrite replaces the matched prefix.
	PrefixRewrite string `json:"prefixRewrite,omitempty"`
	// ResponseCode is one of the redirect response code names.
	ResponseCode  string  `json:"responseCode,omitempty"`
	HTTPSRedirect bool    `json:"httpsRedirect,omitempty"`
	PortRedirect  *uint32 `json:"portRedirect,omitempty"`
}

// RouteOptions are per-route policies. Gloo refuses a route whose options
// set Timeout, Retries, PrefixRewrite or HostRewrite unless it has a
// routeAction (and older Gloo versions refuse Cors too); HeaderManipulation
// applies to any route.
type RouteOptions struct {
	Timeout string       `json:"timeout,omitempty"`
	Retries *RetryPolicy `json:"retries,omitempty"`
	// PrefixRewrite replaces the matched prefix before the request is sent on.
	PrefixRewrite string `json:"prefixRewrite,omitempty"`
	// HostRewrite replaces the Host header before the request is sent on.
	HostRewrite        string              `json:"hostRewrite,omitempty"`
	HeaderManipulation *HeaderManipulation `json:"headerManipulation,omitempty"`
	// Cors is the route's CORS policy; it needs none on the virtual host.
	Cors *CorsPolicy `json:"cors,omitempty"`
	// Ratelimit holds the route's local rate limit.
	Ratelimit *RateLimitRouteExtension `json:"ratelimit,omitempty"`
	// Shadowing mirrors a share of the route's requests to another Upstream.
	Shadowing *RouteShadowing `json:"shadowing,omitempty"`
}

// RouteShadowing is Gloo's shadowing.options.gloo.solo.io.RouteShadowing:
// Percentage (0-100) of requests are copied to Upstream, their answers
// dropped. Unless DisableShadowHostSuffixAppend, Envoy appends "-shadow" to
// the copies' Host header.
type RouteShadowing struct {
	Upstream                      ResourceRef `json:"upstream"`
	Percentage                    float64     `json:"percentage"`
	DisableShadowHostSuffixAppend bool        `json:"disableShadowHostSuffixAppend,omitempty"`
}

// CorsPolicy is Gloo's cors.options.gloo.solo.io.CorsPolicy. An origin is
// allowed when it equals an AllowOrigin entry or fully matches an
// AllowOriginRegex entry (RE2); at least one of the two must be set. Gloo
// joins the method and header lists with "," into Envoy's header values and
// copies MaxAge verbatim into Access-Control-Max-Age, so it is a number of
// seconds ("3600"), not a protobuf duration.
type CorsPolicy struct {
	AllowOrigin      []string `json:"allowOrigin,omitempty"`
	AllowOriginRegex []string `json:"allowOriginRegex,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	MaxAge           string   `json:"maxAge,omitempty"`
	AllowCredentials bool     `json:"allowCredentials,omitempty"`
}

// RateLimitRouteExtension is a route's options.ratelimit; gatefed sets only
// its local (per Envoy process) token bucket.
type RateLimitRouteExtension struct {
	LocalRatelimit *TokenBucket `json:"localRatelimit,omitempty"`
}

// TokenBucket is Gloo's local_ratelimit TokenBucket: the bucket starts with
// and holds at most MaxTokens, and gets TokensPerFill more every
// FillInterval. Unset, TokensPerFill is 1 and FillInterval 1s, so gatefed
// writes both.
type TokenBucket struct {
	MaxTokens     uint32  `json:"maxTokens"`
	TokensPerFill *uint32 `json:"tokensPerFill,omitempty"`
	FillInterval  string  `json:"fillInterval,omitempty"`
}

// HeaderManipulation adds and removes request and response headers.
type HeaderManipulation struct {
	RequestHeadersToAdd     []HeaderValueOption `json:"requestHeadersToAdd,omitempty"`
	RequestHeadersToRemove  []string            `json:"requestHeadersToRemove,omitempty"`
	ResponseHeadersToAdd    []HeaderValueOption `json:"responseHeadersToAdd,omitempty"`
	ResponseHeadersToRemove []string            `json:"responseHeadersToRemove,omitempty"`
}

// HeaderValueOption is a header to add. Append false replaces the header's
// values; unset, like true, appends, so gatefed always writes it.
type HeaderValueOption struct {
	Header HeaderValue `json:"header"`
	Append *bool       `json:"append"`
}

// HeaderValue is a header name and value.
type HeaderValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// RetryPolicy retries failed requests.
type RetryPolicy struct {
	RetryOn       string `json:"retryOn,omitempty"`
	NumRetries    uint32 `json:"numRetries"`
	PerTryTimeout string `json:"perTryTimeout,omitempty"`
}

// Gateway is a gateway.solo.io/v1 Gateway: one listener of a proxy.
type Gateway struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              GatewaySpec `json:"spec"`
}

// GatewaySpec is the listener's address, proxies and TCP hosts.
type GatewaySpec struct {
	BindAddress string      `json:"bindAddress"`
	BindPort    uint32      `json:"bindPort"`
	ProxyNames  []string    `json:"proxyNames"`
	TCPGateway  *TCPGateway `json:"tcpGateway,omitempty"`
}

// TCPGateway proxies TCP by SNI.
type TCPGateway struct {
	TCPHosts []TCPHost `json:"tcpHosts"`
}

// TCPHost terminates TLS for some SNI domains and forwards the bytes.
type TCPHost struct {
	Name        string               `json:"name"`
	SslConfig   *DownstreamSslConfig `json:"sslConfig,omitempty"`
	Destination TCPDestination       `json:"destination"`
}

// DownstreamSslConfig is the TLS a listener terminates: the certificate in
// the kubernetes.io/tls Secret SecretRef names, for the SNI names SniDomains.
type DownstreamSslConfig struct {
	SecretRef  *ResourceRef `json:"secretRef,omitempty"`
	SniDomains []string     `json:"sniDomains,omitempty"`
}

// TCPDestination is where a TCPHost forwards.
type TCPDestination struct {
	Single *Destination `json:"single,omitempty"`
}
