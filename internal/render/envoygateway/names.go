package envoygateway

// Kinds the namer hands out names for.
const (
	kindHTTPRoute      = "HTTPRoute"
	kindTLSRoute       = "TLSRoute"
	kindBackend        = "Backend"
	kindPolicy         = "BackendTrafficPolicy"
	kindReferenceGrant = "ReferenceGrant"
	kindRouteFilter    = "HTTPRouteFilter"
	kindListenerSet    = "ListenerSet"
)
