package testfleet

import "k8s.io/apimachinery/pkg/runtime/schema"

// The API groups of the resources below.
var (
	glooV1       = schema.GroupVersion{Group: "gloo.solo.io", Version: "v1"}
	glooGateway  = schema.GroupVersion{Group: "gateway.solo.io", Version: "v1"}
	gatewayAPI   = schema.GroupVersion{Group: "gateway.networking.k8s.io", Version: "v1"}
	envoyGateway = schema.GroupVersion{Group: "gateway.envoyproxy.io", Version: "v1alpha1"}
)

// Resources tests read and write.
var (
	UpstreamGVR, UpstreamGroupGVR       = glooV1.WithResource("upstreams"), glooV1.WithResource("upstreamgroups")
	VirtualServiceGVR, RouteTableGVR    = glooGateway.WithResource("virtualservices"), glooGateway.WithResource("routetables")
	GlooGatewayGVR                      = glooGateway.WithResource("gateways")
	GatewayClassGVR, GatewayGVR         = gatewayAPI.WithResource("gatewayclasses"), gatewayAPI.WithResource("gateways")
	HTTPRouteGVR, TLSRouteGVR           = gatewayAPI.WithResource("httproutes"), gatewayAPI.WithResource("tlsroutes")
	ReferenceGrantGVR                   = gatewayAPI.WithResource("referencegrants")
	BackendGVR, BackendTrafficPolicyGVR = envoyGateway.WithResource("backends"), envoyGateway.WithResource("backendtrafficpolicies")
)
