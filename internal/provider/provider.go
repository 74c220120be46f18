// Package provider describes a gateway provider: its name and defaults, the
// CRDs and kinds it needs (and their manifests), how its objects are applied
// and accepted (the statuses its controller writes, and how to read them),
// how to install it, what it cannot run, where its failover port and proxy
// are and how check reads its failover paths' health signals.
// Each provider package fills one Descriptor; everything else asks it
// instead of naming a provider. The package imports nothing of gatefed's,
// so the fleet model and every command can read it.
package provider

import (
	"io/fs"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Descriptor is everything gatefed knows about one gateway provider outside
// its renderer.
type Descriptor struct {
	// Name is the provider's name in Cluster spec.gateway.provider.
	Name string
	// Title is the gateway's name in messages ("Envoy Gateway").
	Title string
	// Defaults are what the fleet loader fills into spec.gateway.
	Defaults Defaults
	// Options are the spec.gateway fields it takes besides its defaults.
	Options Options
	// CRDs are the CustomResourceDefinitions a cluster must serve: cluster
	// register warns and check gateway-install fails on a missing one.
	CRDs []Kind
	// Kinds are the kinds gatefed writes for the provider, with their apply
	// rank; the service account register mints may write exactly these.
	Kinds []Kind
	// StatusKinds are the kinds whose controller writes an accepted or
	// rejected verdict on the object: apply --wait waits for them.
	StatusKinds []schema.GroupKind
	// StatusConditions are, for status kinds whose verdict needs more than
	// the default (Accepted, and ResolvedRefs on a route's parents), the
	// conditions its controller must report True (on every parent or
	// ancestor) before apply --wait counts the object accepted.
	StatusConditions map[schema.GroupKind][]string
	// ReadStatus, when set, reads the verdict its controller writes on an
	// object of StatusKinds in a shape of its own; false when the object
	// holds none, and the Gateway API's conditions, parents and ancestors
	// are read instead.
	ReadStatus func(obj *unstructured.Unstructured) (Status, bool)
	// PendingHints say, for a status kind, what to do when its controller
	// has given an object no verdict: a known way the controller loses one.
	PendingHints map[schema.GroupKind]func(namespace, name string) string
	// Install says how to install the gateway and what shows it is running.
	Install Install
	// Limits are the route options and extensions it cannot run.
	Limits Limits
	// Failover is where failover traffic arrives on its clusters.
	Failover Failover
	// Sizing is what check sizing reads.
	Sizing Sizing
}

// Defaults are a provider's spec.gateway defaults.
type Defaults struct {
	// Namespace and GatewayName locate the gateway.
	Namespace, GatewayName string
	// ClassName is the default spec.gateway.className; a provider without
	// one refuses the field.
	ClassName string
	// Selector is the default spec.gateway.selector (the gateway's pods); a
	// provider without one refuses the field.
	Selector map[string]string
}

// Options are the spec.gateway fields a provider takes besides those of
// Defaults; a provider without one refuses the field.
type Options struct {
	// StrictTiers, when set, is how spec.gateway.strictTiers gives every
	// failover tier its own priority.
	StrictTiers *StrictTiers
	// IPFamilies: spec.gateway.ipFamilies (the proxy Service's IP
	// families) changes what is rendered.
	IPFamilies bool
	// Version, when set, says what is wrong with a spec.gateway.version
	// ("" when nothing is).
	Version func(version string) string
	// VersionDeployment is the Deployment in the gateway namespace whose
	// image tag cluster register records as spec.gateway.version.
	VersionDeployment string
}

// Edition is the edition of the gateway failover needs, told by the image
// of one of its Deployments.
type Edition struct {
	// Deployment is in the gateway namespace.
	Deployment string
	// Accepts reports whether an image is of the edition.
	Accepts func(image string) bool
	// What names the edition, Hint says how to get it.
	What, Hint string
}

// ImageTag is the tag of a container image ("1.19.6" of
// "quay.io/solo-io/gloo-ee:1.19.6"), "" when it has none.
func ImageTag(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	return ""
}

// ImageName is the last path element of a container image without its tag
// or digest ("gloo-ee" of "quay.io/solo-io/gloo-ee:1.19.6").
func ImageName(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image[strings.LastIndex(image, "/")+1:]
}

// StrictTiers is how a provider orders more than two tiers on request.
type StrictTiers struct {
	// Object names what is rendered for it ("an EnvoyPatchPolicy").
	Object string
	// Setting is the installed gateway's setting it needs.
	Setting ConfigSetting
}

// ConfigSetting is a setting of the installed gateway in its
// configuration ConfigMap, which check gateway-install reads.
type ConfigSetting struct {
	Namespace, ConfigMap, Key string
	// What names the setting ("extensionApis.enableEnvoyPatchPolicy").
	What string
	// Enabled reads the key's text.
	Enabled func(config string) (bool, error)
	// Hint says how to turn it on.
	Hint string
}

// Kind is one API kind of a provider.
type Kind struct {
	Group, Kind string
	// Version is the version gatefed looks for the kind in first.
	Version string
	// Resource is the kind's plural resource name.
	Resource string
	// Rank is the apply phase: lower ranks are applied first.
	Rank int
	// InServiceNamespaces marks a kind written in the services' namespaces
	// rather than in the gateway namespace.
	InServiceNamespaces bool
}

// CRDName is the kind's CustomResourceDefinition name, resource.group.
func (k Kind) CRDName() string { return k.Resource + "." + k.Group }

// GroupVersionResource is the kind's resource at Version.
func (k Kind) GroupVersionResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}
}

// GroupKind is the kind's group and kind.
func (k Kind) GroupKind() schema.GroupKind { return schema.GroupKind{Group: k.Group, Kind: k.Kind} }

// Install is how to install the gateway and what check gateway-install reads
// to see it running.
type Install struct {
	// Hint is the install command a missing CRD points to.
	Hint string
	// CRDManifests are the provider's CustomResourceDefinitions, one
	// *.yaml file each at the root, embedded in its package: a local fleet
	// (gatefed demo, tests) installs them by default. Nil when the
	// provider embeds none.
	CRDManifests fs.FS
	// CRDModule, for a provider whose CRDs are not embedded, is the Go
	// module files holding them: a local fleet asked for the provider's
	// CRDs fetches them through the module proxy.
	CRDModule *ModuleFiles
	// Deployments must exist and be Available in the gateway namespace.
	Deployments []Deployment
	// Verdicts are objects whose controller must report a condition True.
	Verdicts []Verdict
	// StandIn, when set, is what a running install holds on a cluster with
	// this gateway and failover port: gatefed demo writes it into clusters
	// that run no gateway controller.
	StandIn func(gw Gateway, failoverPort int32) StandIn
}

// ModuleFiles are files of one Go module version.
type ModuleFiles struct {
	// Module and Version name it ("istio.io/istio", "v1.27.0").
	Module, Version string
	// Files are slash-separated paths inside the module.
	Files []string
}

// StandIn is what a running install of a gateway holds: its Deployments,
// the objects it creates and the conditions its controller sets.
type StandIn struct {
	// Deployments are written Available in the gateway namespace.
	Deployments []StandInDeployment
	// Objects are applied as they are, in order.
	Objects []StandInObject
	// Conditions are set True through the objects' status, after Objects.
	Conditions []StandInConditions
	// Accepts are how its controller marks the objects it accepts, in
	// order: gatefed demo reconcile writes them on the objects gatefed
	// applied (a route reads the refusals of the kinds before it).
	Accepts []Acceptance
	// Controller is the controllerName it writes in route parents' and
	// policy ancestors' status.
	Controller string
}

// Acceptance is the status a controller writes on an object of Kind.
type Acceptance struct {
	Kind Kind
	// Status, when set, builds the status body the controller writes on
	// obj in a shape of its own, accepting it or, when refusal is not "",
	// refusing it for that reason; Style is not read then.
	Status func(gw Gateway, obj *unstructured.Unstructured, refusal string) map[string]any
	// Style is where a Gateway API controller writes its verdict.
	Style StatusStyle
	// Conditions are the condition types set True, for StyleConditions.
	Conditions []string
	// Refuses, when set, says why the controller refuses an object ("" when
	// it accepts it): a refused object has Accepted False (reason Invalid)
	// with that message instead, and a route referring to it does not resolve.
	Refuses func(obj *unstructured.Unstructured) string
}

// StatusStyle is where a Gateway API controller writes its verdict.
type StatusStyle int

// Status styles.
const (
	// StyleConditions: status.conditions, Acceptance.Conditions True.
	StyleConditions StatusStyle = iota
	// StyleRouteParents: status.parents[], one per Gateway of
	// spec.parentRefs, Accepted and ResolvedRefs.
	StyleRouteParents
	// StylePolicyAncestors: status.ancestors[], the cluster's Gateway, Accepted.
	StylePolicyAncestors
)

// StandInDeployment is a Deployment of a running install.
type StandInDeployment struct {
	Name     string
	Replicas int32
	// Container names its one container; Image is that container's image
	// ("" for a placeholder).
	Container, Image string
	// Labels are the Deployment's labels besides app=<name>.
	Labels map[string]string
}

// StandInObject is an object a running install creates.
type StandInObject struct {
	Kind   Kind
	Object *unstructured.Unstructured
}

// StandInConditions are conditions a running controller sets True on one
// object (namespace "" for a cluster-scoped one).
type StandInConditions struct {
	Kind            Kind
	Namespace, Name string
	Types           []string
}

// Deployment is a Deployment of the gateway's install.
type Deployment struct {
	// Name is the Deployment's name; empty means spec.gateway.name.
	Name string
	// What names it in messages ("Gloo's control plane").
	What string
}

// Verdict is a condition an installed gateway's object must have True.
type Verdict struct {
	Kind Kind
	// Of says which object: ObjectClass (spec.gateway.className, cluster
	// scoped) or ObjectGateway (spec.gateway.name in the gateway namespace).
	Of        Object
	Condition string
	// Hint says what to do when the condition is not True.
	Hint string
}

// Object names an object of a Cluster's spec.gateway.
type Object int

// Objects a Verdict reads.
const (
	ObjectGateway Object = iota
	ObjectClass
)

// Limits are what a provider cannot run. Each reason, when set, is how the
// fleet validator explains the refusal, after "<Title> (cluster "name")".
type Limits struct {
	// HTTPRedirect: a redirect to scheme http.
	HTTPRedirect string
	// RateLimit: a rule's local rate limit.
	RateLimit string
	// PercentInDirectResponse: a % in a direct response body.
	PercentInDirectResponse string
	// PrefixReplacePerMethod, given the rule's number of methods, refuses
	// replacing a path prefix in a rule with more than one method.
	PrefixReplacePerMethod func(methods int) string
	// RouteWasm is true when the provider runs a GlobalExtension's
	// WebAssembly filter on one route.
	RouteWasm bool
	// NoRouteWasm says why it cannot, after "cannot run it: ".
	NoRouteWasm string
	// Route is the most one route object holds; nil is no limit. Render
	// refuses a route past it; the fleet validator refuses it first.
	Route *RouteLimits
}

// RouteLimits are the most one route object of a provider holds; 0 is no limit.
type RouteLimits struct {
	// Object names the route object in messages ("an Envoy Gateway HTTPRoute").
	Object string
	// Hosts, Rules: hostnames and rules of one route.
	Hosts, Rules int
	// MatchesPerRule and Matches: one match per method of a rule (one for a
	// rule without methods), per rule and in all.
	MatchesPerRule, Matches int
	// BackendRefsPerRule: one per backend and failover tier of a rule.
	BackendRefsPerRule int
}

// Failover is where a provider's clusters receive failover traffic and what
// their sending side needs.
type Failover struct {
	// Discovery is how cluster register finds the failover address.
	Discovery Discovery
	// ServiceNamespaces are namespaces searched besides the gateway's (the
	// controller's, where it creates a Gateway's Service).
	ServiceNamespaces []string
	// Owner labels the controller puts on a Gateway's Service: its
	// namespace and name. Empty when the provider creates none.
	OwnerNamespaceLabel, OwnerNameLabel string
	// OwnedPortName is the port name of the failover port on a Service the
	// controller created for a Gateway ("tls-15443").
	OwnedPortName string
	// OwnedGateway is the Gateway gatefed renders on failover targets: its
	// Service is the best candidate.
	OwnedGateway string
	// InstalledService is the Service (and Deployment) of the gateway's
	// default install, preferred when several select the gateway's pods.
	InstalledService string
	// InstalledPortName is the name the default install gives the failover
	// port 15443 ("tls"), taken as the failover port besides "failover".
	InstalledPortName string
	// PortCheck is what check failover-readiness reads on a target.
	PortCheck PortCheck
	// ExposePort says where the gateway's install exposes the failover
	// port on the gateway Service (named gatewayName, for
	// PortOnGatewayService), for a check that does not find it.
	ExposePort func(gatewayName string) string
	// Listener, when set, is the object gatefed renders on a failover
	// target to take failover traffic that no controller writes a verdict
	// on: check failover-readiness reads it in the cluster.
	Listener *Listener
	// AddressesOfOneKind refuses failover targets with IP addresses and DNS
	// names behind one route (one Envoy cluster cannot hold both).
	AddressesOfOneKind bool
	// LocalTierThroughFailover: every tier of a service, the local one too,
	// is reached through a failover port, so a cluster that routes to a
	// service failing over needs its own spec.failover.
	LocalTierThroughFailover bool
	// SharedFallback: every tier after the first shares one fallback
	// priority (unless spec.gateway.strictTiers), splitting its traffic by
	// the tiers' weights instead of taking it in order.
	SharedFallback bool
	// DNSInControlPlane: the control plane resolves a DNS-name failover
	// address when it translates (Gloo's static Upstream hosts), not the
	// proxy when it connects; check warns when one does not resolve.
	DNSInControlPlane bool
	// Edition, when set, is the edition of the gateway that fails over:
	// check gateway-install fails a cluster whose routes fail over on
	// another.
	Edition *Edition
	// HealthSignals, when set, reads the failover paths of a cluster's
	// rendered objects: it names each path without an active health check
	// or outlier detection ("Upstream ns/name (source)") and counts the
	// paths. Nil: check reads each GlobalService with more than one tier.
	HealthSignals func(objs []*unstructured.Unstructured) HealthSignals
	// SignalUse says which of a GlobalService's healthCheck and
	// outlierDetection the gateway fails over by, for the validator's
	// message on a service with neither ("either").
	SignalUse string
	// SourceChecksName: as a failover source, the gateway checks that the
	// target's serving certificate carries the SNI it sent, besides the CA.
	SourceChecksName bool
	// LoopbackRefused, when set, says why the gateway, as a failover
	// source, refuses a target at a loopback address (after its Title):
	// render warns about each such target. Empty: loopback targets work.
	LoopbackRefused string
}

// Discovery is how the failover address is discovered.
type Discovery int

// Discovery ways.
const (
	// DiscoverByPortName: the gateway namespace's Service with a port named
	// "failover" (or a Gateway-owned Service's OwnedPortName).
	DiscoverByPortName Discovery = iota
	// DiscoverBySelector: the Service selecting the gateway's pods
	// (spec.gateway.selector), its port named "failover" or 15443.
	DiscoverBySelector
)

// PortCheck is how check failover-readiness checks a target's failover port.
type PortCheck int

// Port checks.
const (
	// PortRendered: the rendered Gateway makes the port; nothing to read.
	PortRendered PortCheck = iota
	// PortOnGatewayService: the Service spec.gateway.name must expose a
	// port named "failover" with the registered port.
	PortOnGatewayService
	// PortOnSelectedService: a Service selecting the gateway's pods must
	// expose the port.
	PortOnSelectedService
)

// Listener is a rendered object that takes failover traffic on its
// listening units (an Istio Gateway's servers).
type Listener struct {
	// Kind and Name locate it in the gateway namespace.
	Kind Kind
	Name string
	// Unit and Units name one and several listening units ("server").
	Unit, Units string
	// OnPort counts the units of obj that listen on port.
	OnPort func(obj *unstructured.Unstructured, port int32) int
}

// HealthSignals are what a provider's Failover.HealthSignals found.
type HealthSignals struct {
	// Paths counts the failover paths read.
	Paths int
	// Missing names the paths without a health signal, in order.
	Missing []string
}

// Sizing is what check sizing reads of a provider.
type Sizing struct {
	// Kinds are read live, besides the render, as proxy configuration.
	Kinds []Kind
	// Proxy is how the proxy Deployment is found.
	Proxy ProxyLookup
	// ProxyContainer is the proxy's container in that Deployment; without
	// it, the first container is taken.
	ProxyContainer string
	// ProxyHint says where the proxy Deployment is, for a check that does
	// not find it.
	ProxyHint string
	// Count counts what the proxy is configured with in objs: the render
	// plus the live objects of Kinds it does not hold. A provider without
	// it runs no proxy gatefed can size, and check sizing skips it.
	Count func(objs []*unstructured.Unstructured, gw Gateway, endpoints EndpointsFunc) Load
}

// Gateway is a Cluster's spec.gateway, as the loader filled it.
type Gateway struct {
	Namespace, Name, ClassName string
	Selector                   map[string]string
}

// EndpointsFunc returns the ready endpoints of a Service port, at least 1.
type EndpointsFunc func(namespace, name string, port int64) int

// Load is what a proxy is configured with.
type Load struct {
	// EnvoyClusters: one per Gloo Upstream; one per Envoy Gateway route rule;
	// one per Istio destination host and port.
	EnvoyClusters int `json:"envoyClusters"`
	// Endpoints are the hosts of every cluster together.
	Endpoints int `json:"endpoints"`
	// Routes: Gloo VirtualService routes; HTTPRoute rule matches; Istio http matches and tcp rules.
	Routes        int `json:"routes"`
	HTTPListeners int `json:"httpListeners"`
	TCPListeners  int `json:"tcpListeners"`
}

// ProxyLookup is how the gateway proxy's Deployment is found.
type ProxyLookup int

// Proxy lookups.
const (
	// ProxyByName: the Deployment spec.gateway.name in the gateway namespace.
	ProxyByName ProxyLookup = iota
	// ProxyByOwnerLabels: the Deployment carrying Failover's owner labels
	// for the gateway, in any namespace.
	ProxyByOwnerLabels
	// ProxyBySelector: the Deployment whose pods spec.gateway.selector picks.
	ProxyBySelector
)

// ExtraHosts are the hosts beyond one per cluster (a cluster's figure includes its first host).
func (l Load) ExtraHosts() int {
	if l.Endpoints <= l.EnvoyClusters {
		return 0
	}
	return l.Endpoints - l.EnvoyClusters
}

// Subdir is dir of an embedded file system, for Install.CRDManifests. It
// panics on a dir fs.Sub refuses: an embed pattern is fixed at build time.
func Subdir(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
