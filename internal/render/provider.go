// Package render turns a validated fleet into per-cluster gateway objects.
// Each provider is a small package behind Provider, listed in
// internal/providers.
package render

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
	"github.com/gatefed/gatefed/internal/provider"
)

// Labels and annotations on every rendered object.
const (
	LabelManagedBy    = "app.kubernetes.io/managed-by"
	ManagedByValue    = "gatefed"
	LabelCluster      = "gatefed.dev/cluster"
	AnnotationSource  = "gatefed.dev/source"
	AnnotationSkipped = "gatefed.dev/skipped-clusters"
	AnnotationTiers   = "gatefed.dev/tiers"
)

// ServicePlan is a GlobalService with its tiers as seen from one cluster.
type ServicePlan struct {
	Service *fleet.GlobalService
	Tiers   []plan.Tier
	Skips   []plan.Skip
}

// ClusterInput is everything a provider needs to render one cluster.
type ClusterInput struct {
	Fleet   *fleet.Fleet
	Cluster *fleet.Cluster
	// Routes served by this cluster's gateway, sorted by namespace/name.
	Routes []*fleet.GlobalRoute
	// Used holds the tiers of every service a route served here sends to
	// (backends and mirrors), by service key.
	Used map[string]*ServicePlan
	// Served are the services this cluster accepts failover traffic for: those
	// placed here and available, when the cluster is a failover target. Sorted by key.
	Served []*fleet.GlobalService
}

// Provider renders one cluster's objects.
type Provider interface {
	// Descriptor is what the rest of gatefed knows about the provider; its
	// Name is the provider's name in Cluster.spec.gateway.provider.
	Descriptor() *provider.Descriptor
	// Render returns the cluster's objects (any order) and warnings for the user.
	Render(in *ClusterInput) (objs []*unstructured.Unstructured, warnings []string, err error)
}

// conversionCheck, when set by a test, sees every conversion.
var conversionCheck func(typed any, converted map[string]any)

// ToUnstructured converts a typed object, dropping null fields (such as the
// null creationTimestamp) and the empty status that typed Go structs marshal.
func ToUnstructured(typed any) (*unstructured.Unstructured, error) {
	m, err := toMap(typed)
	if err != nil {
		return nil, err
	}
	if conversionCheck != nil {
		conversionCheck(typed, m)
	}
	if st, ok := m["status"].(map[string]any); ok && len(st) == 0 {
		delete(m, "status")
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// Stamp sets the labels and the source annotation ("Kind/namespace/name", or
// "Kind/name" for a Cluster) every rendered object carries.
func Stamp(obj *unstructured.Unstructured, cluster, sourceKind, sourceNamespace, sourceName string) {
	md := childMap(obj.Object, "metadata")
	labels := childMap(md, "labels")
	labels[LabelManagedBy] = ManagedByValue
	labels[LabelCluster] = cluster
	ann := childMap(md, "annotations")
	if sourceNamespace == "" {
		ann[AnnotationSource] = sourceKind + "/" + sourceName // cluster-scoped: a Cluster
	} else {
		ann[AnnotationSource] = sourceKind + "/" + sourceNamespace + "/" + sourceName
	}
}

// childMap returns m[key] as a map, creating it when missing.
func childMap(m map[string]any, key string) map[string]any {
	if c, ok := m[key].(map[string]any); ok {
		return c
	}
	c := map[string]any{}
	m[key] = c
	return c
}
