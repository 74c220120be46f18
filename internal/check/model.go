package check

import "github.com/gatefed/gatefed/internal/provider"

// SizingModel estimates a gateway proxy's memory from what it is configured
// with, and a control plane's from the configuration it holds. The defaults
// and their sources are in docs/checks.md; every field can be overridden
// (config keys sizing.<json name>). Zero fields take the defaults.
type SizingModel struct {
	// BytesPerCluster is an Envoy cluster with its stats (envoyproxy/envoy#4196: ~72 kB per static cluster).
	BytesPerCluster int64 `json:"bytesPerCluster"`
	// BytesPerHost is each host of a cluster beyond its first (envoyproxy/envoy#15231: 250 B per extra host).
	BytesPerHost int64 `json:"bytesPerHost"`
	// BytesPerHTTPListener is an HTTP listener (envoyproxy/envoy#4196: ~63 kB).
	BytesPerHTTPListener int64 `json:"bytesPerHTTPListener"`
	// BytesPerTCPListener is a TCP listener (envoyproxy/envoy#4196: ~18 kB).
	BytesPerTCPListener int64 `json:"bytesPerTCPListener"`
	// ProxyBaseBytes is a proxy with an almost empty configuration (envoyproxy/envoy#7556: 26,888 kB resident).
	ProxyBaseBytes int64 `json:"proxyBaseBytes"`
	// ControlPlaneBaseBytes is an idle control plane (the Envoy Gateway Helm chart's memory request, 256 MiB).
	ControlPlaneBaseBytes int64 `json:"controlPlaneBaseBytes"`
	// ControlPlaneBytesPerConfigByte is the control plane's memory per byte of
	// configuration it holds (an assumption; see docs/checks.md).
	ControlPlaneBytesPerConfigByte float64 `json:"controlPlaneBytesPerConfigByte"`
	// MemoryLimitRatio is the share of the proxy's memory limit above which sizing warns.
	MemoryLimitRatio float64 `json:"memoryLimitRatio"`
	// MinReplicas is the proxy replica count below which sizing warns.
	MinReplicas int32 `json:"minReplicas"`
}

// DefaultSizingModel is the model with its cited defaults.
var DefaultSizingModel = SizingModel{
	BytesPerCluster:                72_000,
	BytesPerHost:                   250,
	BytesPerHTTPListener:           63_000,
	BytesPerTCPListener:            18_000,
	ProxyBaseBytes:                 26_888_000,
	ControlPlaneBaseBytes:          256 << 20,
	ControlPlaneBytesPerConfigByte: 10,
	MemoryLimitRatio:               0.8,
	MinReplicas:                    2,
}

// withDefaults fills zero fields from DefaultSizingModel.
func (m SizingModel) withDefaults() SizingModel {
	d := DefaultSizingModel
	positiveOr(&m.BytesPerCluster, d.BytesPerCluster)
	positiveOr(&m.BytesPerHost, d.BytesPerHost)
	positiveOr(&m.BytesPerHTTPListener, d.BytesPerHTTPListener)
	positiveOr(&m.BytesPerTCPListener, d.BytesPerTCPListener)
	positiveOr(&m.ProxyBaseBytes, d.ProxyBaseBytes)
	positiveOr(&m.ControlPlaneBaseBytes, d.ControlPlaneBaseBytes)
	positiveOr(&m.ControlPlaneBytesPerConfigByte, d.ControlPlaneBytesPerConfigByte)
	if m.MemoryLimitRatio > 1 {
		m.MemoryLimitRatio = d.MemoryLimitRatio
	}
	positiveOr(&m.MemoryLimitRatio, d.MemoryLimitRatio)
	positiveOr(&m.MinReplicas, d.MinReplicas)
	return m
}

// positiveOr sets *v to def unless it is positive.
func positiveOr[T int32 | int64 | float64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// ProxyLoad is what one gateway proxy is configured with; each provider
// counts it (provider.Sizing.Count).
type ProxyLoad = provider.Load

// ProxyBytes estimates a proxy's memory:
//
//	base + clusters×bytesPerCluster + extraHosts×bytesPerHost
//	     + httpListeners×bytesPerHTTPListener + tcpListeners×bytesPerTCPListener
func (m SizingModel) ProxyBytes(l ProxyLoad) int64 {
	m = m.withDefaults()
	return m.ProxyBaseBytes +
		int64(l.EnvoyClusters)*m.BytesPerCluster +
		int64(l.ExtraHosts())*m.BytesPerHost +
		int64(l.HTTPListeners)*m.BytesPerHTTPListener +
		int64(l.TCPListeners)*m.BytesPerTCPListener
}

// ControlPlaneBytes estimates a control plane's memory from the bytes of
// configuration it holds: base + configBytes×bytesPerConfigByte.
func (m SizingModel) ControlPlaneBytes(configBytes int64) int64 {
	m = m.withDefaults()
	return m.ControlPlaneBaseBytes + int64(float64(configBytes)*m.ControlPlaneBytesPerConfigByte)
}

// OverLimit reports whether an estimate is above the model's share of a memory limit (0: no limit).
func (m SizingModel) OverLimit(estimate, limit int64) bool {
	m = m.withDefaults()
	return limit > 0 && float64(estimate) > m.MemoryLimitRatio*float64(limit)
}
