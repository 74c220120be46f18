package gloo

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
)

// sampleFleets are the fleets under testdata/fleets whose Gloo objects the
// schema test walks too.
var sampleFleets = []string{"route-options", "tls"}

// crdDir is where Gloo's CRDs live: $GATEFED_GLOO_CRD_DIR, else the copy
// embedded here and installed by local fleets (crds, derived by hack/crds).
func crdDir(t *testing.T) string {
	t.Helper()
	crds := os.Getenv(localfleet.CRDDirEnv(Name))
	if crds == "" {
		crds = "crds"
	}
	if _, err := os.Stat(crds); err != nil {
		t.Fatalf("Gloo CRDs: %v", err)
	}
	return crds
}

// repoRoot is the directory of go.mod above the package directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package directory")
		}
		dir = parent
	}
	return dir
}

// loadSchemas reads every CRD's served schema, by "apiVersion Kind".
func loadSchemas(t *testing.T) map[string]*apiextensionsv1.JSONSchemaProps {
	t.Helper()
	dir := crdDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in %s (%v)", dir, err)
	}
	schemas := map[string]*apiextensionsv1.JSONSchemaProps{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Fatalf("%s: version %s has no schema", file, v.Name)
			}
			schemas[crd.Spec.Group+"/"+v.Name+" "+crd.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema
		}
	}
	return schemas
}

// TestRenderedFieldsExistInCRDs walks every field of every rendered object
// and checks it against Gloo's CRD schema: the field exists and its value
// has the schema's type and range.
func TestRenderedFieldsExistInCRDs(t *testing.T) {
	schemas := loadSchemas(t)

	f := optionsFleet()
	f.Service("shop/catalog").Spec.OutlierDetection = &fleet.OutlierDetection{
		Consecutive5xx: 5, Interval: "10s", BaseEjectionTime: "30s", MaxEjectionPercent: 100,
	}
	fleets := map[string]*fleet.Fleet{"options": f}
	for _, name := range sampleFleets {
		sample, err := fleet.Load([]string{filepath.Join(repoRoot(t), "testdata", "fleets", name)}, nil)
		if err != nil {
			t.Fatalf("testdata/fleets/%s: %v", name, err)
		}
		fleets[name] = sample
	}
	visited := map[string]map[string]bool{} // kind -> schema paths seen
	redirects := 0
	for name, f := range fleets {
		// Only the Gloo clusters: the other providers are not linked in here.
		for _, c := range f.Clusters {
			if c.Spec.Gateway.Provider != "gloo" {
				continue
			}
			objs, _, err := New().Render(render.Input(f, c, nil))
			if err != nil {
				t.Fatalf("%s %s: %v", name, c.Name(), err)
			}
			for _, obj := range objs {
				key := obj.GetAPIVersion() + " " + obj.GetKind()
				schema, ok := schemas[key]
				if !ok {
					t.Errorf("%s %s: no CRD for %s", name, c.Name(), key)
					continue
				}
				if visited[obj.GetKind()] == nil {
					visited[obj.GetKind()] = map[string]bool{}
				}
				for _, problem := range checkObject(obj, schema, visited[obj.GetKind()]) {
					t.Errorf("%s %s: %s %s: %s", name, c.Name(), obj.GetKind(), obj.GetName(), problem)
				}
				if strings.HasSuffix(obj.GetName(), "-https-redirect") {
					redirects++
				}
			}
		}
	}
	if redirects == 0 {
		t.Error("no sample fleet rendered an HTTPS redirect VirtualService")
	}

	// Every field gatefed can render was walked at least once.
	for kind, want := range map[string][]string{
		"Upstream": {
			".spec.kube.servicePort", ".spec.static.hosts[].sniAddr", ".spec.static.useTls", ".spec.static.autoSniRewrite",
			".spec.sslConfig.secretRef.namespace", ".spec.sslConfig.sni",
			".spec.healthChecks[].httpHealthCheck.path", ".spec.healthChecks[].unhealthyThreshold",
			".spec.outlierDetection.baseEjectionTime", ".spec.outlierDetection.maxEjectionPercent",
			".spec.failover.prioritizedLocalities[].localityEndpoints[].locality.zone",
			".spec.failover.prioritizedLocalities[].localityEndpoints[].lbEndpoints[].upstreamSslConfig.sni",
		},
		"VirtualService": {
			".spec.sslConfig.secretRef.name", ".spec.sslConfig.secretRef.namespace", ".spec.sslConfig.sniDomains[]",
			".spec.virtualHost.domains[]", ".spec.virtualHost.routes[].name",
			".spec.virtualHost.routes[].matchers[].prefix", ".spec.virtualHost.routes[].matchers[].exact",
			".spec.virtualHost.routes[].matchers[].regex", ".spec.virtualHost.routes[].matchers[].headers[].value",
			".spec.virtualHost.routes[].matchers[].methods[]",
			".spec.virtualHost.routes[].routeAction.single.upstream.name",
			".spec.virtualHost.routes[].routeAction.multi.destinations[].weight",
			".spec.virtualHost.routes[].routeAction.multi.destinations[].destination.upstream.namespace",
			".spec.virtualHost.routes[].directResponseAction.status", ".spec.virtualHost.routes[].directResponseAction.body",
			".spec.virtualHost.routes[].options.timeout", ".spec.virtualHost.routes[].options.retries.perTryTimeout",
			".spec.virtualHost.routes[].options.retries.retryOn", ".spec.virtualHost.routes[].options.retries.numRetries",
			".spec.virtualHost.routes[].options.prefixRewrite", ".spec.virtualHost.routes[].options.hostRewrite",
			".spec.virtualHost.routes[].options.headerManipulation.requestHeadersToAdd[].header.key",
			".spec.virtualHost.routes[].options.headerManipulation.requestHeadersToAdd[].header.value",
			".spec.virtualHost.routes[].options.headerManipulation.requestHeadersToAdd[].append",
			".spec.virtualHost.routes[].options.headerManipulation.requestHeadersToRemove[]",
			".spec.virtualHost.routes[].options.headerManipulation.responseHeadersToAdd[].header.key",
			".spec.virtualHost.routes[].options.headerManipulation.responseHeadersToAdd[].header.value",
			".spec.virtualHost.routes[].options.headerManipulation.responseHeadersToAdd[].append",
			".spec.virtualHost.routes[].options.headerManipulation.responseHeadersToRemove[]",
			".spec.virtualHost.routes[].options.cors.allowOrigin[]", ".spec.virtualHost.routes[].options.cors.allowOriginRegex[]",
			".spec.virtualHost.routes[].options.cors.allowMethods[]", ".spec.virtualHost.routes[].options.cors.allowHeaders[]",
			".spec.virtualHost.routes[].options.cors.exposeHeaders[]", ".spec.virtualHost.routes[].options.cors.maxAge",
			".spec.virtualHost.routes[].options.cors.allowCredentials",
			".spec.virtualHost.routes[].options.ratelimit.localRatelimit.maxTokens",
			".spec.virtualHost.routes[].options.ratelimit.localRatelimit.tokensPerFill",
			".spec.virtualHost.routes[].options.ratelimit.localRatelimit.fillInterval",
			".spec.virtualHost.routes[].redirectAction.hostRedirect", ".spec.virtualHost.routes[].redirectAction.pathRedirect",
			".spec.virtualHost.routes[].redirectAction.prefixRewrite", ".spec.virtualHost.routes[].redirectAction.responseCode",
			".spec.virtualHost.routes[].redirectAction.httpsRedirect", ".spec.virtualHost.routes[].redirectAction.portRedirect",
		},
		"Gateway": {
			".spec.bindAddress", ".spec.bindPort", ".spec.proxyNames[]",
			".spec.tcpGateway.tcpHosts[].name", ".spec.tcpGateway.tcpHosts[].sslConfig.sniDomains[]",
			".spec.tcpGateway.tcpHosts[].sslConfig.secretRef.name",
			".spec.tcpGateway.tcpHosts[].destination.single.upstream.name",
		},
	} {
		for _, p := range want {
			if !visited[kind][p] {
				t.Errorf("%s: the fleet never rendered %s, so the schema check did not cover it", kind, p)
			}
		}
	}
}

// TestSchemaWalkerCatchesMistakes makes sure the walker rejects what the API server would.
func TestSchemaWalkerCatchesMistakes(t *testing.T) {
	schemas := loadSchemas(t)
	schema := schemas["gloo.solo.io/v1 Upstream"]
	for _, tc := range []struct {
		name, want string
		spec       map[string]any
	}{
		{"misspelt field", ".spec.kube.servicePrt: not in the schema", map[string]any{"kube": map[string]any{"servicePrt": int64(80)}}},
		{"duration as number", ".spec.outlierDetection.interval: int64 value, schema type string", map[string]any{"outlierDetection": map[string]any{"interval": int64(5)}}},
		{"uint32 out of range", ".spec.kube.servicePort: -1 below minimum 0", map[string]any{"kube": map[string]any{"servicePort": int64(-1)}}},
		{"object as string", ".spec.failover: string value, schema type object", map[string]any{"failover": "yes"}},
	} {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
			"metadata": map[string]any{"name": "x"}, "spec": tc.spec,
		}}
		problems := checkObject(obj, schema, map[string]bool{})
		if len(problems) != 1 || problems[0] != tc.want {
			t.Errorf("%s: problems %q, want [%q]", tc.name, problems, tc.want)
		}
	}
}

// checkObject walks an object below its root's apiVersion, kind and metadata.
func checkObject(obj *unstructured.Unstructured, schema *apiextensionsv1.JSONSchemaProps, visited map[string]bool) []string {
	var problems []string
	keys := make([]string, 0, len(obj.Object))
	for k := range obj.Object {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "apiVersion", "kind", "metadata":
			continue
		}
		prop, ok := schema.Properties[k]
		if !ok {
			problems = append(problems, "."+k+": not in the schema")
			continue
		}
		problems = append(problems, checkValue(obj.Object[k], &prop, "."+k, visited)...)
	}
	return problems
}

func checkValue(v any, s *apiextensionsv1.JSONSchemaProps, path string, visited map[string]bool) []string {
	visited[path] = true
	if v == nil {
		if s.Nullable {
			return nil
		}
		return []string{path + ": null, schema is not nullable"}
	}
	switch val := v.(type) {
	case map[string]any:
		if s.Type != "object" {
			return []string{fmt.Sprintf("%s: object value, schema type %s", path, s.Type)}
		}
		var problems []string
		keys := make([]string, 0, len(val))
		for k := range val {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, ok := s.Properties[k]
			switch {
			case ok:
				problems = append(problems, checkValue(val[k], &sub, path+"."+k, visited)...)
			case s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil:
				problems = append(problems, checkValue(val[k], s.AdditionalProperties.Schema, path+"."+k, visited)...)
			case s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields:
			default:
				problems = append(problems, path+"."+k+": not in the schema")
			}
		}
		return problems
	case []any:
		if s.Type != "array" || s.Items == nil || s.Items.Schema == nil {
			return []string{fmt.Sprintf("%s: array value, schema type %s", path, s.Type)}
		}
		var problems []string
		for _, item := range val {
			problems = append(problems, checkValue(item, s.Items.Schema, path+"[]", visited)...)
		}
		return problems
	case string:
		if s.Type == "string" || s.XIntOrString {
			return nil
		}
		return []string{fmt.Sprintf("%s: string value, schema type %s", path, s.Type)}
	case bool:
		if s.Type == "boolean" {
			return nil
		}
		return []string{fmt.Sprintf("%s: bool value, schema type %s", path, s.Type)}
	case int64:
		if s.Type != "integer" && s.Type != "number" && !s.XIntOrString {
			return []string{fmt.Sprintf("%s: int64 value, schema type %s", path, s.Type)}
		}
		if s.Minimum != nil && float64(val) < *s.Minimum {
			return []string{fmt.Sprintf("%s: %d below minimum %v", path, val, *s.Minimum)}
		}
		if s.Maximum != nil && float64(val) > *s.Maximum {
			return []string{fmt.Sprintf("%s: %d above maximum %v", path, val, *s.Maximum)}
		}
		return nil
	case float64:
		if s.Type != "number" {
			return []string{fmt.Sprintf("%s: float64 value, schema type %s", path, s.Type)}
		}
		return nil
	default:
		return []string{fmt.Sprintf("%s: unexpected %T value", path, v)}
	}
}
