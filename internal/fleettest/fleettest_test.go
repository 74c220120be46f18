package fleettest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/internal/fleet"
)

// The builders write documents the loader reads back as written, each
// object positioned in the file Load wrote.
func TestBuildersLoad(t *testing.T) {
	text := YAML(
		Cluster("a", "gloo").Kubeconfig("/tmp/k b.yaml").Context("ctx-a").Region("r1").Zone("r1-a").
			Labels("env", "prod").Failover("192.0.2.1", 0),
		Cluster("b", "envoy-gateway").Region("r2").GatewayNamespace("gw").GatewayName("edge").ClassName("eg2").
			Failover("b.example.com", 16443),
		Cluster("c", "gloo").Region("r2"),
		Service("shop", "checkout", 8080).On("a", "b").Ordered("b", "a").HealthCheck(),
		Service("", "cart", 9090).Locality().Spec("outlierDetection", "{consecutive5xx: 3}"),
		Route("shop", "web", "shop.example.com", "*.shop.example.com").On("a", "b").TLS("shop-tls", true).
			Rule("name: api", "match: {pathPrefix: /api}", "backends: "+Backends("checkout")).
			To("checkout"),
		Raw("apiVersion: "+fleet.APIVersion+"\nkind: GlobalRoute\nmetadata: {name: cart}\nspec:\n  hosts: [cart.example.com]\n  rules: [{backends: [{service: cart}]}]\n"),
	)
	f := Load(t, text)
	if len(f.Clusters) != 3 || len(f.Services) != 2 || len(f.Routes) != 2 {
		t.Fatalf("loaded %d clusters, %d services, %d routes from:\n%s", len(f.Clusters), len(f.Services), len(f.Routes), text)
	}
	a, b := f.Cluster("a"), f.Cluster("b")
	if a.Spec.Kubeconfig != "/tmp/k b.yaml" || a.Spec.Context != "ctx-a" || a.Spec.Zone != "r1-a" || a.Metadata.Labels["env"] != "prod" ||
		a.Spec.Failover.Address != "192.0.2.1" || a.Spec.Failover.Port != fleet.DefaultFailoverPort {
		t.Errorf("cluster a: %+v", a)
	}
	if g := b.Spec.Gateway; g.Namespace != "gw" || g.Name != "edge" || g.ClassName != "eg2" || b.Spec.Failover.Port != 16443 {
		t.Errorf("cluster b: %+v", b)
	}
	if f.Cluster("c").FailoverTarget() {
		t.Error("cluster c is a failover target; it has no failover address")
	}
	services := map[string]*fleet.GlobalService{}
	for _, s := range f.Services {
		services[s.Key()] = s
	}
	checkout := services["shop/checkout"]
	if checkout == nil || checkout.Spec.Port != 8080 || !reflect.DeepEqual(checkout.Spec.Clusters.Names, []string{"a", "b"}) ||
		!reflect.DeepEqual(checkout.Spec.Failover.Order, []string{"b", "a"}) || checkout.Spec.HealthCheck == nil {
		t.Errorf("service checkout: %+v", checkout.Spec)
	}
	if cart := services[fleet.DefaultNamespace+"/cart"]; cart == nil || cart.Spec.OutlierDetection == nil {
		t.Errorf("service cart: %+v", cart)
	}
	var web *fleet.GlobalRoute
	for _, r := range f.Routes {
		if r.Key() == "shop/web" {
			web = r
		}
	}
	if web == nil || len(web.Spec.Rules) != 2 || web.Spec.Rules[0].Name != "api" || web.Spec.TLS.SecretName != "shop-tls" ||
		!web.Spec.TLS.HTTPSRedirect || web.Spec.Hosts[1] != "*.shop.example.com" {
		t.Fatalf("route web: %+v", web)
	}
	if !strings.HasSuffix(web.Source.File, FileName) || web.Source.Line == 0 || web.Source.LineOf("spec.rules[1]") <= web.Source.LineOf("spec.rules[0]") {
		t.Errorf("route web is not positioned in the file: %+v", web.Source)
	}
}

// A fleet that does not load names the file and line of the bad field.
func TestLoadErrorNamesFileAndLine(t *testing.T) {
	text := YAML(
		Cluster("a", "gloo"),
		Service("shop", "checkout", 8080).Spec("failover", "{policy: sideways}"),
	)
	err := LoadError(t, text)
	line := 0
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "sideways") {
			line = i + 1
		}
	}
	if want := FileName + ":" + strconv.Itoa(line); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}

// The typed builders give what the loader gives for the same documents.
func TestTypedBuildersMatchTheLoader(t *testing.T) {
	f := Load(t, YAML(
		Cluster("a", "envoy-gateway").Region("r1").Zone("z1").Failover("192.0.2.1", 0),
		Cluster("b", "gloo").Region("r1"),
		Service("", "checkout", 8080).On("a"),
	))
	for i, want := range []*fleet.Cluster{
		NewCluster("a", "envoy-gateway", "r1", "z1", "192.0.2.1", 0),
		NewCluster("b", "gloo", "r1", "", "", 0),
	} {
		got := *f.Clusters[i]
		got.Source = fleet.Source{}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("cluster %s:\nloaded %+v\nbuilt  %+v", want.Name(), got, *want)
		}
	}
	got := *f.Services[0]
	got.Source = fleet.Source{}
	if want := NewService("", "checkout", 8080, "a"); !reflect.DeepEqual(&got, want) {
		t.Errorf("service:\nloaded %+v\nbuilt  %+v", got, *want)
	}
}

// Only tests import the test-support packages, fleettest and rendertest: no
// non-test file of the module does, so the binary never links them.
func TestOnlyTestsImportIt(t *testing.T) {
	testOnly := map[string]bool{
		"github.com/gatefed/gatefed/internal/fleettest":           true,
		"github.com/gatefed/gatefed/internal/render/rendertest":   true,
		"github.com/gatefed/gatefed/internal/providers/configmap": true,
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path == here || (path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range file.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); testOnly[p] {
				t.Errorf("%s imports %s; only tests may", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("read only %d Go files under %s", checked, root)
	}
}
