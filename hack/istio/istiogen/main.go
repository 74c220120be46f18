// Command istiogen generates, with Istio's own code, the Envoy configuration
// Istio's control plane (istiod) would send one gateway proxy for a set of
// objects, and prints it as JSON.
//
//	istiogen [-namespace istio-system] [-labels istio=ingressgateway] -f FILE [-f FILE...]
//
// The files hold Istio objects (networking.istio.io, ...) and Kubernetes
// objects (Services, Secrets, Namespaces, ...). Istio objects are validated
// with Istio's own validation; an invalid one is an error (exit 2). The
// objects are loaded into Istio's in-process discovery server
// (istio.io/istio/pilot/test/xds), and the configuration is generated for a
// router (ingress gateway) proxy in -namespace with the pod labels -labels.
//
// Output: {"clusters": [...], "endpoints": [...], "listeners": [...],
// "routes": [...], "secrets": [...]}, each Envoy resource in protobuf JSON;
// "endpoints" are the load assignments of the EDS clusters (priorities as
// Istio computes them for this proxy), "secrets" the SDS resources the
// configuration names and whether Istio could serve them (never key material).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	xdsfake "istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/spiffe"
	"istio.io/istio/pkg/util/sets"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var files stringList
	flag.Var(&files, "f", "YAML file of objects (repeatable; - is standard input)")
	namespace := flag.String("namespace", "istio-system", "namespace of the gateway proxy")
	labels := flag.String("labels", "istio=ingressgateway", "the gateway proxy's pod labels, k=v,k=v")
	serviceAccount := flag.String("service-account", "istio-ingressgateway-service-account", "the gateway proxy's service account")
	ip := flag.String("ip", "10.244.0.10", "the gateway proxy's pod IP")
	flag.Parse()
	if len(files) == 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: istiogen [-namespace NS] [-labels k=v,...] -f FILE [-f FILE...]")
		os.Exit(2)
	}
	// Istio logs to standard output by default: keep it for the JSON.
	lo := log.DefaultOptions()
	lo.OutputPaths = []string{"stderr"}
	lo.SetDefaultOutputLevel(log.OverrideScopeName, log.ErrorLevel)
	if err := log.Configure(lo); err != nil {
		fail(err)
	}
	podLabels, err := parseLabels(*labels)
	if err != nil {
		fail(err)
	}
	var docs [][]byte
	for _, f := range files {
		d, err := readDocs(f)
		if err != nil {
			fail(err)
		}
		docs = append(docs, d...)
	}
	out, err := generate(docs, *namespace, podLabels, *serviceAccount, *ip)
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "istiogen:", err)
	os.Exit(2)
}

func parseLabels(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-labels: %q is not k=v", kv)
		}
		m[k] = v
	}
	if len(m) == 0 {
		return nil, errors.New("-labels: the proxy needs labels (gateways select it by them)")
	}
	return m, nil
}

// readDocs splits a YAML stream into its non-empty documents, each as JSON.
func readDocs(name string) ([][]byte, error) {
	var r io.Reader
	if name == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var docs [][]byte
	rd := kubeyaml.NewYAMLReader(bufio.NewReader(r))
	for i := 1; ; i++ {
		d, err := rd.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		j, err := yaml.YAMLToJSON(d)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || string(t) == "null" {
			continue
		}
		docs = append(docs, j)
	}
}

// isIstio reports whether a document is an Istio object (its API group is
// one of Istio's).
func isIstio(doc []byte) (bool, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(doc, &tm); err != nil {
		return false, err
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return false, fmt.Errorf("object without apiVersion or kind: %.200s", doc)
	}
	group, _, _ := strings.Cut(tm.APIVersion, "/")
	return strings.HasSuffix(group, ".istio.io"), nil
}

func generate(docs [][]byte, namespace string, labels map[string]string, serviceAccount, ip string) ([]byte, error) {
	var istio, kube []string
	for _, d := range docs {
		ok, err := isIstio(d)
		if err != nil {
			return nil, err
		}
		if ok {
			istio = append(istio, string(d))
		} else {
			kube = append(kube, string(d))
		}
	}
	// Istio's own parser and validation, as istiod applies them.
	configs, unknown, err := crd.ParseInputs(strings.Join(istio, "\n---\n"))
	if err != nil {
		return nil, err
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("not an Istio kind this Istio knows: %s %s/%s", unknown[0].Kind, unknown[0].Namespace, unknown[0].Name)
	}

	var out []byte
	err = run(func(t *failer) {
		s := xdsfake.NewFakeDiscoveryServer(t, xdsfake.FakeOptions{
			Configs:                    configs,
			KubernetesObjectString:     strings.Join(kube, "\n---\n"),
			DisableSecretAuthorization: true,
		})
		p := s.SetupProxy(&model.Proxy{
			Type:            model.Router,
			ID:              "istio-ingressgateway-0." + namespace,
			ConfigNamespace: namespace,
			Labels:          labels,
			IPAddresses:     []string{ip},
			Metadata: &model.NodeMetadata{
				Namespace: namespace,
				Labels:    labels,
				ClusterID: constants.DefaultClusterName,
			},
			VerifiedIdentity: &spiffe.Identity{TrustDomain: "cluster.local", Namespace: namespace, ServiceAccount: serviceAccount},
		})
		res := map[string][]json.RawMessage{}
		add := func(key string, m proto.Message) {
			b, err := protojson.Marshal(m)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			res[key] = append(res[key], b)
		}
		clusters := s.Clusters(p)
		for _, c := range clusters {
			add("clusters", c)
		}
		for _, e := range s.Endpoints(p) {
			add("endpoints", e)
		}
		listeners := s.Listeners(p)
		for _, l := range listeners {
			add("listeners", l)
		}
		for _, r := range s.RoutesFromListeners(p, listeners) {
			add("routes", r)
		}
		res["secrets"] = secrets(t, s, p, clusters, listeners)
		for _, k := range []string{"clusters", "endpoints", "listeners", "routes", "secrets"} {
			if res[k] == nil {
				res[k] = []json.RawMessage{}
			}
		}
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		out = append(b, '\n')
	})
	return out, err
}

// secrets asks Istio's SDS generator for every secret the clusters and
// listeners name and reports which it serves: a certificate, a CA, or
// nothing (the Secret is missing or unreadable).
func secrets(t *failer, s *xdsfake.FakeDiscoveryServer, p *model.Proxy, clusters []*cluster.Cluster, listeners []*listener.Listener) []json.RawMessage {
	names := sets.New[string]()
	walk := func(m proto.Message) {
		b, _ := protojson.Marshal(m)
		var v any
		_ = json.Unmarshal(b, &v)
		collectSDS(v, names)
	}
	for _, c := range clusters {
		walk(c)
	}
	for _, l := range listeners {
		walk(l)
	}
	gen := s.Discovery.Generators[v3.SecretType]
	w := &model.WatchedResource{TypeUrl: v3.SecretType, ResourceNames: names}
	got, _, err := gen.Generate(p, w, &model.PushRequest{Forced: true, Push: s.PushContext()})
	if err != nil {
		t.Fatalf("secrets: %v", err)
	}
	served := map[string]map[string]any{}
	for _, r := range got {
		sec := &tlsv3.Secret{}
		if err := r.Resource.UnmarshalTo(sec); err != nil {
			t.Fatalf("secret %s: %v", r.Name, err)
		}
		e := map[string]any{"name": r.Name, "served": true}
		if c := sec.GetTlsCertificate(); c != nil {
			e["certificate"] = len(dataSource(c.GetCertificateChain())) > 0
			e["privateKey"] = len(dataSource(c.GetPrivateKey())) > 0
		}
		if v := sec.GetValidationContext(); v != nil {
			e["ca"] = len(dataSource(v.GetTrustedCa())) > 0
		}
		served[r.Name] = e
	}
	var list []json.RawMessage
	for _, n := range sets.SortedList(names) {
		e := served[n]
		if e == nil {
			e = map[string]any{"name": n, "served": false}
		}
		b, _ := json.Marshal(e)
		list = append(list, b)
	}
	return list
}

func dataSource(d *core.DataSource) []byte {
	if d == nil {
		return nil
	}
	if b := d.GetInlineBytes(); len(b) > 0 {
		return b
	}
	return []byte(d.GetInlineString())
}

// collectSDS finds the names of SDS secret configs in a decoded resource.
func collectSDS(v any, names sets.String) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch k {
			case "tlsCertificateSdsSecretConfigs":
				for _, c := range asList(x) {
					addName(c, names)
				}
			case "validationContextSdsSecretConfig":
				addName(x, names)
			}
			collectSDS(x, names)
		}
	case []any:
		for _, x := range v {
			collectSDS(x, names)
		}
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

func addName(v any, names sets.String) {
	m, _ := v.(map[string]any)
	if n, _ := m["name"].(string); n != "" && !strings.HasPrefix(n, "default") && n != "ROOTCA" {
		names.Insert(n)
	}
}

// failer is the test.Failer Istio's fake server needs, outside a test.
type failer struct {
	mu       sync.Mutex
	cleanups []func()
	errs     []string
}

func (f *failer) Fail()             { f.fail("failed") }
func (f *failer) FailNow()          { f.fail("failed"); runtime.Goexit() }
func (f *failer) Fatal(args ...any) { f.fail(fmt.Sprint(args...)); runtime.Goexit() }
func (f *failer) Fatalf(format string, args ...any) {
	f.fail(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (f *failer) Log(args ...any)                 {}
func (f *failer) Logf(format string, args ...any) {}
func (f *failer) Helper()                         {}
func (f *failer) Skip(args ...any)                { f.fail("skip: " + fmt.Sprint(args...)); runtime.Goexit() }
func (f *failer) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *failer) TempDir() string {
	d, err := os.MkdirTemp("", "istiogen")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func (f *failer) fail(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, msg)
}

// run calls fn on its own goroutine (Fatal ends that goroutine, as in a
// test), then runs the cleanups, last first.
func run(fn func(t *failer)) error {
	f := &failer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	cleanups := f.cleanups
	f.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	if len(f.errs) > 0 {
		sort.Strings(f.errs)
		return errors.New(strings.Join(f.errs, "; "))
	}
	return nil
}
