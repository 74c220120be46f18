package envoygateway

import (
	"encoding/json"
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

const kindExtensionPolicy = "EnvoyExtensionPolicy"

// AnnotationExtensions lists the GlobalExtensions an EnvoyExtensionPolicy holds.
const AnnotationExtensions = "gatefed.dev/extensions"

// routeExtensions returns the routes served here that some GlobalExtension
// placed on this cluster lists, each with those extensions sorted by key.
func (r *renderer) routeExtensions() ([]*fleet.GlobalRoute, map[string][]*fleet.GlobalExtension) {
	if r.In.Fleet == nil {
		return nil, nil
	}
	var routes []*fleet.GlobalRoute
	exts := map[string][]*fleet.GlobalExtension{}
	for _, route := range r.In.Routes {
		if es := r.In.Fleet.ExtensionsFor(r.In.Cluster, route); len(es) > 0 {
			routes = append(routes, route)
			exts[route.Key()] = es
		}
	}
	return routes, exts
}

func (r *renderer) extensionNameRequests() []render.NameRequest {
	routes, _ := r.routeExtensions()
	reqs := make([]render.NameRequest, 0, len(routes))
	for _, route := range routes {
		reqs = append(reqs, render.NameOf(kindExtensionPolicy, r.Gateway.Namespace, []string{route.Metadata.Namespace, route.Metadata.Name}))
	}
	return reqs
}

// extensionPolicies renders, for each served route that GlobalExtensions
// placed here list, one EnvoyExtensionPolicy attached to the route's
// HTTPRoute and holding every such extension's Wasm module (an OCI image or
// an HTTP download, pinned by sha256) in key order. Envoy Gateway lets one
// EnvoyExtensionPolicy attach to an HTTPRoute: a second is Conflicted.
func (r *renderer) extensionPolicies() ([]*unstructured.Unstructured, error) {
	routes, exts := r.routeExtensions()
	var out []*unstructured.Unstructured
	for _, route := range routes {
		eep := &egv1a1.EnvoyExtensionPolicy{
			TypeMeta: metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindEnvoyExtensionPolicy},
			ObjectMeta: metav1.ObjectMeta{
				Name:      r.names.Name(kindExtensionPolicy, r.Gateway.Namespace, route.Metadata.Namespace, route.Metadata.Name),
				Namespace: r.Gateway.Namespace,
			},
		}
		eep.Spec.TargetRefs = []gwapiv1.LocalPolicyTargetReferenceWithSectionName{{
			LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{
				Group: gatewayGroup,
				Kind:  kindHTTPRoute,
				Name:  gwapiv1.ObjectName(r.httpRouteName(route)),
			},
		}}
		var keys []string
		for _, e := range exts[route.Key()] {
			m, err := wasmModule(e)
			if err != nil {
				return nil, err
			}
			eep.Spec.Wasm = append(eep.Spec.Wasm, m)
			keys = append(keys, e.Key())
		}
		obj, err := r.object(eep, fleet.KindGlobalRoute, route.Metadata.Namespace, route.Metadata.Name)
		if err != nil {
			return nil, err
		}
		ann := obj.GetAnnotations()
		ann[AnnotationExtensions] = strings.Join(keys, ",")
		obj.SetAnnotations(ann)
		out = append(out, obj)
	}
	return out, nil
}

// wasmModule is a GlobalExtension's module as Envoy Gateway takes it.
func wasmModule(e *fleet.GlobalExtension) (egv1a1.Wasm, error) {
	w := e.Spec.Wasm
	sha := w.SHA256
	code := egv1a1.WasmCodeSource{Type: egv1a1.HTTPWasmCodeSourceType, HTTP: &egv1a1.HTTPWasmCodeSource{URL: w.URL, SHA256: &sha}}
	if w.IsOCI() {
		code = egv1a1.WasmCodeSource{Type: egv1a1.ImageWasmCodeSourceType, Image: &egv1a1.ImageWasmCodeSource{URL: w.URL, SHA256: &sha}}
	}
	m := egv1a1.Wasm{
		Name:     ptrTo(e.Key()),
		Code:     code,
		FailOpen: ptrTo(w.FailOpen),
	}
	if w.Config != nil {
		raw, err := json.Marshal(w.Config)
		if err != nil {
			return m, fmt.Errorf("GlobalExtension %s: spec.wasm.config: %w", e.Key(), err)
		}
		m.Config = &apiextensionsv1.JSON{Raw: raw}
	}
	return m, nil
}
