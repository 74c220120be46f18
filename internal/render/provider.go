// Package render turns a validated fleet into per-cluster gateway objects.
// Each provider (gloo, envoy-gateway) is a small package behind Provider.
package render

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
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
	// Used holds the tiers of every service a route served here sends to, by service key.
	Used map[string]*ServicePlan
	// Served are the services this cluster accepts failover traffic for: those
	// placed here and available, when the cluster is a failover target. Sorted by key.
	Served []*fleet.GlobalService
}

// Provider renders one cluster's objects.
type Provider interface {
	// Name is the provider's name in Cluster.spec.gateway.provider.
	Name() string
	// Render returns the cluster's objects (any order) and warnings for the user.
	Render(in *ClusterInput) (objs []*unstructured.Unstructured, warnings []string, err error)
}

// ToUnstructured converts a typed object, dropping the null creationTimestamp
// and empty status that typed Go structs marshal.
func ToUnstructured(typed any) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return nil, fmt.Errorf("convert %T: %w", typed, err)
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if md["creationTimestamp"] == nil {
			delete(md, "creationTimestamp")
		}
	}
	if st, ok := m["status"].(map[string]any); ok && len(st) == 0 {
		delete(m, "status")
	} else if m["status"] == nil {
		delete(m, "status")
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// Stamp sets the labels and the source annotation ("Kind/namespace/name", or
// "Kind/name" for a Cluster) every rendered object carries.
func Stamp(obj *unstructured.Unstructured, cluster, sourceKind, sourceNamespace, sourceName string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedByValue
	labels[LabelCluster] = cluster
	obj.SetLabels(labels)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	if sourceNamespace == "" {
		ann[AnnotationSource] = sourceKind + "/" + sourceName // cluster-scoped: a Cluster
	} else {
		ann[AnnotationSource] = sourceKind + "/" + sourceNamespace + "/" + sourceName
	}
	obj.SetAnnotations(ann)
}
