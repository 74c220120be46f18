package gitops

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

// The newest releases whose modules this Go toolchain can download; their
// modules ship the CRDs that Argo CD and Flux install.
const (
	argoModule     = "github.com/argoproj/argo-cd/v3"
	argoVersion    = "v3.5.7"
	argoCRDFile    = "manifests/crds/applicationset-crd.yaml"
	fluxModule     = "github.com/fluxcd/kustomize-controller"
	fluxVersion    = "v1.9.6"
	fluxCRDFile    = "config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml"
	goModDownload  = "go mod download -json"
	gitopsCRDNames = "applicationsets.argoproj.io, kustomizations.kustomize.toolkit.fluxcd.io"
)

// The API server's CEL limits (k8s.io/apiserver/pkg/apis/cel).
const (
	celPerCallLimit  = 1000000
	celRuntimeBudget = 10000000
)

var (
	crdMu    sync.Mutex
	crdCache = map[string]*apiextensionsv1.CustomResourceDefinition{}
)

// moduleCRD loads a CRD from a module in the module cache, downloading the
// module (only into the cache: no requirement is added to go.mod).
func moduleCRD(t testing.TB, module, version, file string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crdMu.Lock()
	defer crdMu.Unlock()
	key := module + "@" + version + "/" + file
	if crd, ok := crdCache[key]; ok {
		return crd
	}
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = t.TempDir() // outside the gatefed module: go.mod and go.sum stay as they are
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || info.Dir == "" {
		t.Fatalf("%s %s@%s: %v %s %s", goModDownload, module, version, err, info.Error, out)
	}
	data, err := os.ReadFile(filepath.Join(info.Dir, file))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	crdCache[key] = crd
	return crd
}

func argoCRD(t testing.TB) *apiextensionsv1.CustomResourceDefinition {
	return moduleCRD(t, argoModule, argoVersion, argoCRDFile)
}

func fluxCRD(t testing.TB) *apiextensionsv1.CustomResourceDefinition {
	return moduleCRD(t, fluxModule, fluxVersion, fluxCRDFile)
}

// validateAgainstCRD checks obj against a CRD's schema with the code the API
// server uses for custom resources: unknown fields (what pruning drops and
// fieldValidation=Strict rejects) and kube-openapi's validator for types,
// required fields, enums and patterns. The CRDs' CEL rules are checked by
// the API server test.
func validateAgainstCRD(t testing.TB, crd *apiextensionsv1.CustomResourceDefinition, obj *unstructured.Unstructured) []string {
	t.Helper()
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil {
		t.Fatal(err)
	}
	if gv.Group != crd.Spec.Group || obj.GetKind() != crd.Spec.Names.Kind {
		t.Fatalf("%s %s is not a %s.%s", obj.GetAPIVersion(), obj.GetKind(), crd.Spec.Names.Kind, crd.Spec.Group)
	}
	var v1schema *apiextensionsv1.JSONSchemaProps
	for _, v := range crd.Spec.Versions {
		if v.Name == gv.Version {
			if !v.Served {
				t.Fatalf("%s: version %s is not served", crd.Name, v.Name)
			}
			v1schema = v.Schema.OpenAPIV3Schema
		}
	}
	if v1schema == nil {
		t.Fatalf("%s has no version %s", crd.Name, gv.Version)
	}
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1schema, internal, nil); err != nil {
		t.Fatal(err)
	}
	structural, err := structuralschema.NewStructural(internal)
	if err != nil {
		t.Fatal(err)
	}

	var problems []string
	copied := obj.DeepCopy().Object
	for _, p := range pruning.PruneWithOptions(copied, structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		problems = append(problems, "unknown field "+p)
	}

	// The same JSON Schema as kube-openapi's validator reads it.
	raw, err := json.Marshal(v1schema)
	if err != nil {
		t.Fatal(err)
	}
	var openapi spec.Schema
	if err := json.Unmarshal(raw, &openapi); err != nil {
		t.Fatal(err)
	}
	res := validate.NewSchemaValidator(&openapi, nil, "", strfmt.Default).Validate(obj.Object)
	for _, e := range res.Errors {
		problems = append(problems, e.Error())
	}

	return problems
}

// Every object gatefed writes passes the real CRD schema; broken variants do not.
func TestObjectsMatchCRDSchemas(t *testing.T) {
	f, clusters := testFleet(t)
	argo := &Options{Tool: ArgoCD, Dir: "manifests", Repo: "https://git.example.com/platform/gateways.git", LocalCluster: "hub",
		Server: fakeServers}
	flux := &Options{Tool: Flux, Dir: "./deploy/manifests", LocalCluster: "hub", Interval: "5m"}
	argoWaves := &Options{Tool: ArgoCD, Dir: "manifests", Repo: argo.Repo, Server: fakeServers, Waves: testWaves}
	fluxWaves := &Options{Tool: Flux, Dir: "manifests", Waves: testWaves}
	for _, o := range []*Options{argo, flux, argoWaves, fluxWaves} {
		if err := o.Complete(f, clusters); err != nil {
			t.Fatal(err)
		}
		objs, err := Objects(clusters, o)
		if err != nil {
			t.Fatal(err)
		}
		crd := argoCRD(t)
		if o.Tool == Flux {
			crd = fluxCRD(t)
		}
		for _, obj := range objs {
			if problems := validateAgainstCRD(t, crd, obj); len(problems) > 0 {
				t.Errorf("%s %s does not match %s %s:\n  %s", obj.GetKind(), obj.GetName(), crd.Name, o.Tool, strings.Join(problems, "\n  "))
			}
		}
	}

	// The validator is not blind: these break the schemas in three ways.
	argo.Complete(f, clusters)
	objs, _ := Objects(clusters, argo)
	bad := objs[0].DeepCopy()
	unstructured.SetNestedField(bad.Object, "x", "spec", "template", "spec", "sourc")
	unstructured.RemoveNestedField(bad.Object, "spec", "template", "spec", "project")
	if p := validateAgainstCRD(t, argoCRD(t), bad); !containsAll(p, "unknown field spec.template.spec.sourc", "spec.template.spec.project in body is required") {
		t.Errorf("a broken ApplicationSet passed: %q", p)
	}
	argoWaves.Complete(f, clusters)
	objs, _ = Objects(clusters, argoWaves)
	bad = objs[0].DeepCopy()
	unstructured.SetNestedField(bad.Object, "x", "spec", "strategy", "rollingSync", "stepz")
	if p := validateAgainstCRD(t, argoCRD(t), bad); !containsAll(p, "unknown field spec.strategy.rollingSync.stepz") {
		t.Errorf("a broken rolling sync passed: %q", p)
	}
	fluxWaves.Complete(f, clusters)
	objs, _ = Objects(clusters, fluxWaves)
	bad = objs[1].DeepCopy()
	unstructured.SetNestedSlice(bad.Object, []any{map[string]any{"kind": "Gateway", "currnet": "true"}}, "spec", "healthCheckExprs")
	if p := validateAgainstCRD(t, fluxCRD(t), bad); !containsAll(p, "unknown field spec.healthCheckExprs[0].currnet", "spec.healthCheckExprs[0].current in body is required") {
		t.Errorf("a broken health check passed: %q", p)
	}
	flux.Complete(f, clusters)
	objs, _ = Objects(clusters, flux)
	bad = objs[0].DeepCopy()
	unstructured.SetNestedField(bad.Object, "Git", "spec", "sourceRef", "kind")
	unstructured.SetNestedField(bad.Object, "often", "spec", "interval")
	if p := validateAgainstCRD(t, fluxCRD(t), bad); !containsAll(p, "spec.sourceRef.kind in body should be one of", "spec.interval") {
		t.Errorf("a broken Kustomization passed: %q", p)
	}
}

func containsAll(problems []string, wants ...string) bool {
	all := strings.Join(problems, "\n")
	for _, w := range wants {
		if !strings.Contains(all, w) {
			return false
		}
	}
	return true
}
