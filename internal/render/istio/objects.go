package istio

import (
	"fmt"

	networking "istio.io/api/networking/v1alpha3"
	istionet "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// APIVersion of every rendered Istio object.
const APIVersion = "networking.istio.io/v1"

// Kinds rendered.
const (
	KindGateway         = "Gateway"
	KindVirtualService  = "VirtualService"
	KindDestinationRule = "DestinationRule"
	KindServiceEntry    = "ServiceEntry"
)

// specMarshaler is an Istio spec: its JSON is protobuf JSON (camelCase
// names, durations as strings), which only its own MarshalJSON writes.
type specMarshaler interface{ MarshalJSON() ([]byte, error) }

// object converts a typed Istio object into an unstructured one.
func object(kind string, meta metav1.ObjectMeta, spec specMarshaler) (*unstructured.Unstructured, error) {
	raw, err := spec.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", kind, meta.Namespace, meta.Name, err)
	}
	var specMap map[string]any
	if err := utiljson.Unmarshal(raw, &specMap); err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", kind, meta.Namespace, meta.Name, err)
	}
	md := map[string]any{"name": meta.Name, "namespace": meta.Namespace}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": APIVersion,
		"kind":       kind,
		"metadata":   md,
		"spec":       specMap,
	}}, nil
}

func meta(namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name}
}

func gatewayObject(g *istionet.Gateway) (*unstructured.Unstructured, error) {
	return object(KindGateway, g.ObjectMeta, &g.Spec)
}

func virtualServiceObject(v *istionet.VirtualService) (*unstructured.Unstructured, error) {
	return object(KindVirtualService, v.ObjectMeta, &v.Spec)
}

func destinationRuleObject(d *istionet.DestinationRule) (*unstructured.Unstructured, error) {
	return object(KindDestinationRule, d.ObjectMeta, &d.Spec)
}

// serviceEntryObject also writes location, which protobuf JSON leaves out
// because MESH_EXTERNAL is the enum's zero value: a reviewer should see it.
func serviceEntryObject(s *istionet.ServiceEntry) (*unstructured.Unstructured, error) {
	obj, err := object(KindServiceEntry, s.ObjectMeta, &s.Spec)
	if err != nil {
		return nil, err
	}
	spec := obj.Object["spec"].(map[string]any)
	spec["location"] = networking.ServiceEntry_Location_name[int32(s.Spec.Location)]
	return obj, nil
}
