package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/fleettest"
)

// testFleet is three clusters: hub (gloo), us-east (envoy-gateway), eu-west (gloo).
func testFleet(t testing.TB) (*fleet.Fleet, []*fleet.Cluster) {
	t.Helper()
	f := fleettest.Load(t, fleettest.YAML(
		fleettest.Cluster("hub", "gloo"),
		fleettest.Cluster("us-east", "envoy-gateway"),
		fleettest.Cluster("eu-west", "gloo"),
	))
	return f, f.Clusters
}

// fakeServers knows us-east's API server only.
func fakeServers(c *fleet.Cluster) (string, bool) {
	if c.Name() == "us-east" {
		return "https://us-east.k8s.example.com:6443", true
	}
	return "", false
}

func str(t *testing.T, obj *unstructured.Unstructured, path ...string) string {
	t.Helper()
	v, _, err := unstructured.NestedString(obj.Object, path...)
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(path, "."), err)
	}
	return v
}

func TestApplicationSet(t *testing.T) {
	f, clusters := testFleet(t)
	o := &Options{Tool: ArgoCD, Dir: "./out/", Repo: "https://git.example.com/gw.git", LocalCluster: "hub", Server: fakeServers}
	if err := o.Complete(f, clusters); err != nil {
		t.Fatal(err)
	}
	objs, err := Objects(clusters, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("want one ApplicationSet, got %d objects", len(objs))
	}
	as := objs[0]
	if as.GetKind() != "ApplicationSet" || as.GetNamespace() != "argocd" || as.GetName() != "gatefed" {
		t.Errorf("object is %s %s/%s", as.GetKind(), as.GetNamespace(), as.GetName())
	}
	gens, _, _ := unstructured.NestedSlice(as.Object, "spec", "generators")
	elements := gens[0].(map[string]any)["list"].(map[string]any)["elements"].([]any)
	var got []string
	for _, e := range elements {
		m := e.(map[string]any)
		got = append(got, m["cluster"].(string)+" server="+m["server"].(string)+" name="+m["name"].(string)+" path="+m["path"].(string))
	}
	want := []string{
		"eu-west server= name=eu-west path=out/eu-west",
		"hub server=https://kubernetes.default.svc name= path=out/hub",
		"us-east server=https://us-east.k8s.example.com:6443 name= path=out/us-east",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("elements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if v := str(t, as, "spec", "template", "spec", "source", "repoURL"); v != o.Repo {
		t.Errorf("repoURL = %q", v)
	}
	if v := str(t, as, "spec", "template", "spec", "source", "targetRevision"); v != "HEAD" {
		t.Errorf("targetRevision = %q", v)
	}
	if v := str(t, as, "spec", "template", "spec", "source", "path"); v != "{{.path}}" {
		t.Errorf("path = %q", v)
	}
}

func TestFluxKustomizations(t *testing.T) {
	f, clusters := testFleet(t)
	o := &Options{Tool: Flux, Dir: "manifests", PathPrefix: "clusters/prod/manifests/", Source: "platform", LocalCluster: "hub"}
	if err := o.Complete(f, clusters); err != nil {
		t.Fatal(err)
	}
	objs, err := Objects(clusters, o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range objs {
		secret := str(t, k, "spec", "kubeConfig", "secretRef", "name")
		got = append(got, k.GetNamespace()+"/"+k.GetName()+" path="+str(t, k, "spec", "path")+" source="+str(t, k, "spec", "sourceRef", "name")+
			" interval="+str(t, k, "spec", "interval")+" kubeconfig="+secret)
		if prune, _, _ := unstructured.NestedBool(k.Object, "spec", "prune"); !prune {
			t.Errorf("%s: prune is not true", k.GetName())
		}
	}
	want := []string{
		"flux-system/gatefed-eu-west path=./clusters/prod/manifests/eu-west source=platform interval=10m kubeconfig=eu-west-kubeconfig",
		"flux-system/gatefed-hub path=./clusters/prod/manifests/hub source=platform interval=10m kubeconfig=",
		"flux-system/gatefed-us-east path=./clusters/prod/manifests/us-east source=platform interval=10m kubeconfig=us-east-kubeconfig",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kustomizations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCompleteRejects(t *testing.T) {
	f, clusters := testFleet(t)
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"unknown tool", Options{Tool: "argo", Dir: "out"}, `--gitops "argo": want argocd or flux`},
		{"no out-dir", Options{Tool: Flux}, "--gitops needs --out-dir"},
		{"argocd without repo", Options{Tool: ArgoCD, Dir: "out"}, "--gitops argocd needs --gitops-repo"},
		{"absolute out-dir", Options{Tool: Flux, Dir: "/tmp/out"}, "give --gitops-path-prefix"},
		{"out-dir above the repository", Options{Tool: Flux, Dir: "../out"}, "give --gitops-path-prefix"},
		{"bad interval", Options{Tool: Flux, Dir: "out", Interval: "10 minutes"}, `--gitops-interval "10 minutes"`},
		{"unknown local cluster", Options{Tool: Flux, Dir: "out", LocalCluster: "hubb"}, `unknown cluster "hubb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Complete(f, clusters)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestWriteReplacesStaleFiles(t *testing.T) {
	f, clusters := testFleet(t)
	dir := t.TempDir()
	flux := &Options{Tool: Flux, Dir: "out"}
	if err := flux.Complete(f, clusters); err != nil {
		t.Fatal(err)
	}
	objs, _ := Objects(clusters, flux)
	if _, err := Write(dir, objs); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, SubDir, "notes.yaml")
	if err := os.WriteFile(mine, []byte("kept: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	argo := &Options{Tool: ArgoCD, Dir: "out", Repo: "https://git.example.com/gw.git", Server: fakeServers}
	if err := argo.Complete(f, clusters); err != nil {
		t.Fatal(err)
	}
	objs, _ = Objects(clusters, argo)
	written, err := Write(dir, objs)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, SubDir))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "applicationset-gatefed.yaml kustomization.yaml notes.yaml" {
		t.Errorf("files = %s", got)
	}
	if len(written) != 2 {
		t.Errorf("written = %q", written)
	}
	var k struct{ Resources []string }
	b, _ := os.ReadFile(filepath.Join(dir, SubDir, "kustomization.yaml"))
	if err := yaml.Unmarshal(b, &k); err != nil || strings.Join(k.Resources, ",") != "applicationset-gatefed.yaml" {
		t.Errorf("kustomization.yaml resources = %q (%v)", k.Resources, err)
	}
}

func TestClusterNamedGitopsIsRejected(t *testing.T) {
	f := fleettest.Load(t, fleettest.YAML(fleettest.Cluster("gitops", "gloo")))
	o := &Options{Tool: Flux, Dir: "out"}
	if err := o.Complete(f, f.Clusters); err == nil || !strings.Contains(err.Error(), "would share out/gitops") {
		t.Errorf("err = %v", err)
	}
}

// waves puts hub in wave 1, us-east in 2 and eu-west in 3.
var testWaves = map[string]int{"hub": 1, "us-east": 2, "eu-west": 3}

// With waves, the ApplicationSet labels each Application with its wave and
// syncs one wave after the other; each Flux Kustomization depends on the
// wave before and waits for its objects.
func TestWaves(t *testing.T) {
	f, clusters := testFleet(t)
	argo := &Options{Tool: ArgoCD, Dir: "out", Repo: "https://git.example.com/gw.git", Server: fakeServers, Waves: testWaves}
	if err := argo.Complete(f, clusters); err != nil {
		t.Fatal(err)
	}
	objs, err := Objects(clusters, argo)
	if err != nil {
		t.Fatal(err)
	}
	as := objs[0]
	if v := str(t, as, "spec", "template", "metadata", "labels", LabelWave); v != "{{.wave}}" {
		t.Errorf("template wave label = %q", v)
	}
	gens, _, _ := unstructured.NestedSlice(as.Object, "spec", "generators")
	for _, e := range gens[0].(map[string]any)["list"].(map[string]any)["elements"].([]any) {
		m := e.(map[string]any)
		if want := map[string]string{"hub": "1", "us-east": "2", "eu-west": "3"}[m["cluster"].(string)]; m["wave"] != want {
			t.Errorf("element %v: wave %v, want %s", m["cluster"], m["wave"], want)
		}
	}
	if v := str(t, as, "spec", "strategy", "type"); v != "RollingSync" {
		t.Errorf("strategy type %q", v)
	}
	steps, _, _ := unstructured.NestedSlice(as.Object, "spec", "strategy", "rollingSync", "steps")
	var got []string
	for _, s := range steps {
		me := s.(map[string]any)["matchExpressions"].([]any)[0].(map[string]any)
		got = append(got, me["key"].(string)+" "+me["operator"].(string)+" "+me["values"].([]any)[0].(string))
	}
	if want := "gatefed.dev/wave In 1,gatefed.dev/wave In 2,gatefed.dev/wave In 3"; strings.Join(got, ",") != want {
		t.Errorf("steps %s, want %s", strings.Join(got, ","), want)
	}

	flux := &Options{Tool: Flux, Dir: "out", Waves: testWaves}
	if err := flux.Complete(f, clusters); err != nil {
		t.Fatal(err)
	}
	objs, err = Objects(clusters, flux)
	if err != nil {
		t.Fatal(err)
	}
	deps := map[string]string{}
	for _, o := range objs {
		d, _, _ := unstructured.NestedSlice(o.Object, "spec", "dependsOn")
		var names []string
		for _, x := range d {
			names = append(names, x.(map[string]any)["name"].(string))
		}
		deps[o.GetName()] = strings.Join(names, ",")
		if w, _, _ := unstructured.NestedBool(o.Object, "spec", "wait"); !w {
			t.Errorf("%s: spec.wait is not set", o.GetName())
		}
		if o.GetLabels()[LabelWave] == "" {
			t.Errorf("%s: no wave label", o.GetName())
		}
	}
	want := map[string]string{"gatefed-hub": "", "gatefed-us-east": "gatefed-hub", "gatefed-eu-west": "gatefed-us-east"}
	for k, v := range want {
		if deps[k] != v {
			t.Errorf("%s dependsOn %q, want %q", k, deps[k], v)
		}
	}
}
