package testfleet

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// strictApply server-side applies a YAML object as gatefed does: field
// manager "gatefed", conflicts forced, unknown fields rejected.
func strictApply(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, namespace, manifest string) error {
	data, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		return err
	}
	var meta struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return err
	}
	force := true
	_, err = dyn.Resource(gvr).Namespace(namespace).Patch(ctx, meta.Metadata.Name, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: "gatefed", Force: &force, FieldValidation: metav1.FieldValidationStrict})
	return err
}

var familyObjects = []struct {
	gvr      schema.GroupVersionResource
	manifest string
}{
	{UpstreamGVR, `
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: shop-checkout-8080}
spec:
  kube: {serviceName: checkout, serviceNamespace: shop, servicePort: 8080}
  healthChecks:
  - timeout: 1s
    interval: 5s
    healthyThreshold: 2
    unhealthyThreshold: 3
    httpHealthCheck: {path: /healthz}
`},
	{VirtualServiceGVR, `
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  virtualHost:
    domains: [shop.example.com]
    routes:
    - matchers: [{prefix: /}]
      routeAction:
        single:
          upstream: {name: shop-checkout-8080, namespace: gloo-system}
`},
	{HTTPRouteGVR, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  parentRefs: [{name: edge, namespace: envoy-gateway-system}]
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: checkout, port: 8080}]
`},
	{BackendGVR, `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: checkout-failover-west}
spec:
  endpoints:
  - ip: {address: 127.0.0.1, port: 15443}
`},
}

func TestStrictServerSideApplyOfEveryCRDFamily(t *testing.T) {
	ctx := context.Background()
	ns := shared.Namespace(t, "strict")
	for _, c := range shared.Clusters {
		dyn, err := c.Dynamic()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range familyObjects {
			if err := strictApply(ctx, dyn, o.gvr, ns, o.manifest); err != nil {
				t.Fatalf("cluster %s: apply %s: %v", c.Name, o.gvr.Resource, err)
			}
		}
		for _, o := range familyObjects {
			list, err := dyn.Resource(o.gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Items) != 1 {
				t.Fatalf("cluster %s: %d %s", c.Name, len(list.Items), o.gvr.Resource)
			}
			managers := list.Items[0].GetManagedFields()
			if len(managers) == 0 || managers[0].Manager != "gatefed" || managers[0].Operation != metav1.ManagedFieldsOperationApply {
				t.Errorf("cluster %s: %s managed fields %+v", c.Name, o.gvr.Resource, managers)
			}
		}
	}
}

func TestStrictApplyRejectsMisspeltFieldsWithTheServersMessage(t *testing.T) {
	ctx := context.Background()
	ns := shared.Namespace(t, "misspelt")
	cases := []struct {
		gvr      schema.GroupVersionResource
		manifest string
		want     string
	}{
		{VirtualServiceGVR, `
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: typo}
spec:
  virtualHost:
    domainz: [shop.example.com]
`, `.spec.virtualHost.domainz: field not declared in schema`},
		{UpstreamGVR, `
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: typo}
spec:
  kube: {serviceName: checkout, serviceNamespace: shop, servicePort: 8080, servicePortz: 1}
`, `.spec.kube.servicePortz: field not declared in schema`},
		{HTTPRouteGVR, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: typo}
spec:
  hostnamez: [shop.example.com]
`, `.spec.hostnamez: field not declared in schema`},
		{BackendGVR, `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: typo}
spec:
  endpoints:
  - ip: {adress: 127.0.0.1, port: 15443}
`, `.spec.endpoints[0].ip.adress: field not declared in schema`},
	}
	for _, c := range shared.Clusters {
		dyn, _ := c.Dynamic()
		for _, tc := range cases {
			err := strictApply(ctx, dyn, tc.gvr, ns, tc.manifest)
			if err == nil {
				t.Fatalf("cluster %s: misspelt %s accepted", c.Name, tc.gvr.Resource)
			}
			// kube-apiserver reports an undeclared field in an apply patch as
			// HTTP 500 with no reason; only the message tells it from a server
			// fault. Pinned here so a change in the server is noticed.
			var st apierrors.APIStatus
			if !errors.As(err, &st) || st.Status().Code != 500 {
				t.Errorf("cluster %s: %s: %T %v, want a status error with code 500", c.Name, tc.gvr.Resource, err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("cluster %s: %s error:\n%v\nwant it to contain %q", c.Name, tc.gvr.Resource, err, tc.want)
			}
			if c == shared.Clusters[0] {
				t.Logf("%s: %v", tc.gvr.Resource, err)
			}
			if _, err := dyn.Resource(tc.gvr).Namespace(ns).Get(ctx, "typo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("cluster %s: rejected %s was stored: %v", c.Name, tc.gvr.Resource, err)
			}
		}
	}
}
