package envoygateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
)

// crdSchemas maps "group/version, Kind" to the openAPIV3Schema of every
// served version in the Gateway API standard channel and the Envoy Gateway
// CRDs of the module versions in go.mod.
var crdSchemas = sync.OnceValues(func() (map[string]*apiextensionsv1.JSONSchemaProps, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api", "github.com/envoyproxy/gateway").Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	dirs := strings.Fields(string(out))
	if len(dirs) != 2 {
		return nil, fmt.Errorf("go list gave %q", out)
	}
	gwFiles, _ := filepath.Glob(filepath.Join(dirs[0], "config", "crd", "standard", "gateway.networking.k8s.io_*.yaml"))
	egFiles, _ := filepath.Glob(filepath.Join(dirs[1], "charts", "gateway-crds-helm", "templates", "generated", "*.yaml"))
	if len(gwFiles) == 0 || len(egFiles) == 0 {
		return nil, fmt.Errorf("no CRDs under %v", dirs)
	}
	schemas := map[string]*apiextensionsv1.JSONSchemaProps{}
	for _, file := range append(gwFiles, egFiles...) {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		// The Envoy Gateway chart wraps each CRD in a Helm conditional.
		var lines []string
		for _, l := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "{{") {
				lines = append(lines, l)
			}
		}
		for _, doc := range strings.Split(strings.Join(lines, "\n"), "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := yaml.Unmarshal([]byte(doc), &crd); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if crd.Kind != "CustomResourceDefinition" {
				continue
			}
			for _, v := range crd.Spec.Versions {
				if v.Served && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
					schemas[crd.Spec.Group+"/"+v.Name+", "+crd.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema
				}
			}
		}
	}
	return schemas, nil
})

func schemaFor(t *testing.T, obj *unstructured.Unstructured) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	schemas, err := crdSchemas()
	if err != nil {
		t.Fatal(err)
	}
	s := schemas[obj.GetAPIVersion()+", "+obj.GetKind()]
	if s == nil {
		t.Fatalf("%s %s: no served CRD version for %s", obj.GetKind(), obj.GetName(), obj.GetAPIVersion())
	}
	return s
}

// unknownFields walks every field path of v and returns those the schema
// does not define, and those whose JSON type differs from the schema's.
func unknownFields(path string, v any, s *apiextensionsv1.JSONSchemaProps) []string {
	if s == nil {
		return []string{path + ": no schema"}
	}
	if s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields {
		return nil
	}
	var bad []string
	switch t := v.(type) {
	case map[string]any:
		if s.Type != "object" {
			return []string{fmt.Sprintf("%s: object where the schema has %s", path, s.Type)}
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child := path + "." + k
			if p, ok := s.Properties[k]; ok {
				bad = append(bad, unknownFields(child, t[k], &p)...)
				continue
			}
			if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
				bad = append(bad, unknownFields(child, t[k], s.AdditionalProperties.Schema)...)
				continue
			}
			bad = append(bad, child+": unknown field")
		}
	case []any:
		if s.Type != "array" || s.Items == nil || s.Items.Schema == nil {
			return []string{fmt.Sprintf("%s: list where the schema has %s", path, s.Type)}
		}
		for i, e := range t {
			bad = append(bad, unknownFields(fmt.Sprintf("%s[%d]", path, i), e, s.Items.Schema)...)
		}
	case string:
		if s.Type != "string" && !s.XIntOrString {
			bad = append(bad, fmt.Sprintf("%s: string where the schema has %s", path, s.Type))
		}
	case bool:
		if s.Type != "boolean" {
			bad = append(bad, fmt.Sprintf("%s: boolean where the schema has %s", path, s.Type))
		}
	case int64, int32, int, float64:
		if s.Type != "integer" && s.Type != "number" && !s.XIntOrString {
			bad = append(bad, fmt.Sprintf("%s: number where the schema has %s", path, s.Type))
		}
	default:
		bad = append(bad, fmt.Sprintf("%s: unexpected %T", path, v))
	}
	return bad
}

// schemaErrors validates obj against the OpenAPI schema: types, enums,
// patterns, required fields, bounds.
func schemaErrors(t *testing.T, obj *unstructured.Unstructured, s *apiextensionsv1.JSONSchemaProps) []string {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var sch spec.Schema
	if err := json.Unmarshal(data, &sch); err != nil {
		t.Fatal(err)
	}
	res := validate.NewSchemaValidator(&sch, nil, "", strfmt.Default).Validate(normalize(t, obj.Object))
	var out []string
	for _, e := range res.Errors {
		out = append(out, e.Error())
	}
	return out
}

// sampleFleets exercise every object and field the provider renders.
func sampleFleets() map[string]*fleet.Fleet {
	everything := func() *fleet.Fleet {
		checkout := fleettest.NewService("shop", "checkout", 8080)
		checkout.Spec.Failover = &fleet.FailoverPolicy{Policy: fleet.PolicyOrdered, Order: []string{"v6", "far"}}
		checkout.Spec.HealthCheck = &fleet.HealthCheck{Path: "/healthz", Interval: "2s", Timeout: "250ms", HealthyThreshold: 2, UnhealthyThreshold: 3}
		checkout.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 5, Interval: "10s", BaseEjectionTime: "30s", MaxEjectionPercent: 100}
		v2 := fleettest.NewService("shop", "checkout-v2", 8081, "ip", "v6")
		v2.Spec.ServiceName = "checkout-next"
		v2.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 2}
		local := fleettest.NewService(gwNs, "status", 80, "ip")
		remoteOnly := fleettest.NewService("pay", "payments", 9000, "v6", "far")
		remoteOnly.Spec.OutlierDetection = &fleet.OutlierDetection{Consecutive5xx: 1}
		v6 := fleettest.NewCluster("v6", "envoy-gateway", "r1", "z2", "2001:db8::1", 0)
		v6.Spec.Failover.Port = 16443
		return fleettest.NewFleet(
			[]*fleet.Cluster{fleettest.NewCluster("ip", "envoy-gateway", "r1", "z1", "192.0.2.10", 0), v6, fleettest.NewCluster("far", "envoy-gateway", "r2", "z3", "192.0.2.30", 0), fleettest.NewCluster("edge", "envoy-gateway", "r1", "z1", "", 0)},
			[]*fleet.GlobalService{checkout, v2, local, remoteOnly},
			fleettest.NewRoute("shop", "storefront", []string{"shop.example.com", "*.shop.example.com"},
				fleet.Rule{Name: "pay", Match: &fleet.Match{PathExact: "/pay", Methods: []string{"POST", "PUT"}, Headers: []fleet.HeaderMatch{{Name: "x-user", Value: "a b"}}},
					Backends: []fleet.Backend{{Service: "pay/payments"}}, Timeout: "1h2m3s", Retries: &fleet.Retries{Attempts: 4, PerTryTimeout: "1500ms"}},
				fleet.Rule{Match: &fleet.Match{PathRegex: "^/v[0-9]+/cart$"}, Backends: []fleet.Backend{{Service: "checkout", Weight: fleettest.Weight(3)}, {Service: "checkout-v2", Weight: fleettest.Weight(1)}},
					Retries: &fleet.Retries{Attempts: 1}},
				fleet.Rule{Match: &fleet.Match{PathPrefix: "/status"}, Backends: []fleet.Backend{{Service: gwNs + "/status"}},
					Rewrite:         &fleet.Rewrite{PathPrefix: "/", Hostname: "status.internal"},
					RequestHeaders:  &fleet.HeaderModifier{Set: map[string]string{"x-env": "prod"}, Add: map[string]string{"x-via": "gatefed"}, Remove: []string{"x-debug"}},
					ResponseHeaders: &fleet.HeaderModifier{Set: map[string]string{"cache-control": "no-store"}, Remove: []string{"server"}},
					CORS: &fleet.CORS{AllowOrigins: []string{"https://a.example.com", "https://*.example.com"}, AllowMethods: []string{"GET", "*"},
						AllowHeaders: []string{"content-type"}, ExposeHeaders: []string{"x-id"}, MaxAge: "10m", AllowCredentials: true},
					RateLimit: &fleet.RateLimit{Requests: 50, Unit: "Minute"}, Mirror: &fleet.Mirror{Service: "checkout-v2", Percent: 25}},
				fleet.Rule{Match: &fleet.Match{PathPrefix: "/old"}, Redirect: &fleet.Redirect{Scheme: "https", Hostname: "new.example.com", Port: 8443, PathPrefix: "/new", StatusCode: 308}},
				fleet.Rule{Match: &fleet.Match{PathExact: "/moved"}, Redirect: &fleet.Redirect{Path: "/here"}},
				fleet.Rule{Name: "down", Match: &fleet.Match{PathPrefix: "/down"}, DirectResponse: &fleet.DirectResponse{Status: 503, Body: "maintenance"}},
			),
		)
	}
	withTLS := everything()
	withTLS.Routes[0].Spec.TLS = &fleet.RouteTLS{SecretName: "shop-tls", HTTPSRedirect: true}
	// Two GlobalExtensions on the route: an OCI image with a config, and an
	// https module that fails open.
	withWasm := everything()
	withWasm.Extensions = []*fleet.GlobalExtension{
		{Metadata: fleet.ObjectMeta{Name: "geo", Namespace: "shop"}, Spec: fleet.GlobalExtensionSpec{
			Wasm: fleet.WasmModule{URL: "oci://registry.example.com/filters/geo:1.2", SHA256: strings.Repeat("5f", 32),
				Config: map[string]any{"header": "x-geo", "countries": []any{"us", "ca"}, "ttl": int64(300), "strict": true}},
			Routes: []string{"storefront"}}},
		{Metadata: fleet.ObjectMeta{Name: "auth", Namespace: "shop"}, Spec: fleet.GlobalExtensionSpec{
			Wasm:   fleet.WasmModule{URL: "https://modules.example.com/auth.wasm", SHA256: strings.Repeat("93", 32), FailOpen: true},
			Routes: []string{"storefront"}}},
	}
	strictByName := byNameFleet()
	strictByName.Cluster("a").Spec.Gateway.StrictTiers = true
	return map[string]*fleet.Fleet{"ordered": orderedFleet(), "everything": everything(), "by-name": byNameFleet(), "tls": withTLS, "wasm": withWasm,
		"strict": strictFleet(), "strict-by-name": strictByName}
}

// byNameFleet has failover targets with DNS-name addresses only, so every
// rule reaches its tiers by name; "edge" runs nothing itself.
func byNameFleet() *fleet.Fleet {
	checkout := fleettest.NewService("shop", "checkout", 8080, "a", "b", "c")
	checkout.Spec.Failover = &fleet.FailoverPolicy{Policy: fleet.PolicyOrdered, Order: []string{"b", "c"}}
	checkout.Spec.HealthCheck = &fleet.HealthCheck{Path: "/healthz", Interval: "5s", Timeout: "1s"}
	status := fleettest.NewService("shop", "status", 80, "a", "edge")
	return fleettest.NewFleet(
		[]*fleet.Cluster{
			fleettest.NewCluster("a", "envoy-gateway", "r1", "z1", "a.lb.example.net", 0), fleettest.NewCluster("b", "envoy-gateway", "r1", "z2", "b.lb.example.net", 0),
			fleettest.NewCluster("c", "envoy-gateway", "r2", "z3", "c.lb.example.net", 0), fleettest.NewCluster("edge", "envoy-gateway", "r1", "z1", "", 0),
		},
		[]*fleet.GlobalService{checkout, status},
		fleettest.NewRoute("shop", "storefront", []string{"shop.example.com"},
			fleet.Rule{Name: "cart", Backends: []fleet.Backend{{Service: "checkout"}}},
			fleet.Rule{Name: "status", Match: &fleet.Match{PathPrefix: "/status"}, Backends: []fleet.Backend{{Service: "status"}}},
		),
	)
}

func TestRenderedObjectsMatchCRDSchemas(t *testing.T) {
	kinds := map[string]bool{}
	for name, f := range sampleFleets() {
		for _, c := range f.Clusters {
			objs, _ := renderCluster(t, f, c.Name())
			for _, obj := range objs {
				kinds[obj.GetKind()] = true
				id := fmt.Sprintf("%s cluster %s: %s %s/%s", name, c.Name(), obj.GetKind(), obj.GetNamespace(), obj.GetName())
				s := schemaFor(t, obj)
				root := normalize(t, obj.Object).(map[string]any)
				for k, v := range root {
					switch k {
					case "apiVersion", "kind", "metadata":
						// The API server validates these itself.
					default:
						p, ok := s.Properties[k]
						if !ok {
							t.Errorf("%s: unknown top-level field %s", id, k)
							continue
						}
						for _, bad := range unknownFields(k, v, &p) {
							t.Errorf("%s: %s", id, bad)
						}
					}
				}
				for _, e := range schemaErrors(t, obj, s) {
					t.Errorf("%s: %s", id, e)
				}
			}
		}
	}
	for _, k := range []string{"HTTPRoute", "Backend", "BackendTrafficPolicy", "ReferenceGrant", "Gateway", "ClientTrafficPolicy", "TLSRoute", "HTTPRouteFilter", "ListenerSet", "EnvoyExtensionPolicy", "EnvoyPatchPolicy"} {
		if !kinds[k] {
			t.Errorf("sample fleets render no %s; the schema check misses it", k)
		}
	}
}

// The walker itself must catch a misspelt field and a wrong type.
func TestUnknownFieldsCatchesMistakes(t *testing.T) {
	objs, _ := renderCluster(t, orderedFleet(), "a")
	be := find(t, objs, "Backend", gwNs, "gatefed-shop-checkout-b")
	s := schemaFor(t, be)
	spec := normalize(t, be.Object["spec"]).(map[string]any)
	specSchema := s.Properties["spec"]
	if bad := unknownFields("spec", spec, &specSchema); len(bad) != 0 {
		t.Fatalf("clean Backend reported %q", bad)
	}
	spec["fallBack"] = true
	spec["tls"].(map[string]any)["sni"] = 7
	bad := unknownFields("spec", spec, &specSchema)
	want := []string{"spec.fallBack: unknown field", "spec.tls.sni: number where the schema has string"}
	if strings.Join(bad, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", bad, want)
	}

	hr := find(t, objs, "HTTPRoute", gwNs, "gatefed-shop-storefront")
	broken := hr.DeepCopy()
	broken.Object["spec"].(map[string]any)["rules"].([]any)[0].(map[string]any)["matches"].([]any)[0].(map[string]any)["path"].(map[string]any)["type"] = "Prefix"
	errs := schemaErrors(t, broken, schemaFor(t, broken))
	if len(errs) == 0 || !bytes.Contains([]byte(strings.Join(errs, "\n")), []byte("Prefix")) {
		t.Errorf("schema validation missed a bad enum value: %q", errs)
	}
}
