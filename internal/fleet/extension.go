package fleet

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gatefed/gatefed/internal/provider"
)

// KindGlobalExtension is a WebAssembly HTTP filter placed on clusters and
// attached to GlobalRoutes.
const KindGlobalExtension = "GlobalExtension"

// GlobalExtension is a WebAssembly HTTP filter, pinned by digest, that the
// gateways of the selected clusters run on the listed routes.
type GlobalExtension struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta          `json:"metadata"`
	Spec     GlobalExtensionSpec `json:"spec"`
	Source   Source              `json:"-"`
}

// GlobalExtensionSpec is the module, the clusters and the routes of an extension.
type GlobalExtensionSpec struct {
	Wasm WasmModule `json:"wasm"`
	// Clusters picks clusters by name or label selector, as on every kind;
	// absent means all.
	Clusters *Placement `json:"clusters,omitempty"`
	// Routes are GlobalRoute names in the extension's namespace.
	Routes []string `json:"routes"`
}

// WasmModule is where a module comes from, its digest and its configuration.
type WasmModule struct {
	// URL is oci://registry/repository:tag (or @sha256:...) or https://...
	URL string `json:"url"`
	// SHA256 is 64 lowercase hex digits: of the module file for https://,
	// of the image manifest for oci://.
	SHA256 string `json:"sha256"`
	// Config is passed to the module as JSON.
	Config map[string]any `json:"config,omitempty"`
	// FailOpen lets requests through when the module fails (default false:
	// they are answered with a 5xx).
	FailOpen bool `json:"failOpen,omitempty"`
}

// Key is "namespace/name".
func (e *GlobalExtension) Key() string { return Ref(e.Metadata.Namespace, e.Metadata.Name) }

// IsOCI reports whether the module is an OCI image.
func (w WasmModule) IsOCI() bool { return strings.HasPrefix(w.URL, "oci://") }

// Matches reports whether the extension is placed on the cluster.
func (e *GlobalExtension) Matches(c *Cluster) bool {
	return e.Spec.Clusters.Matches(c)
}

// RouteKeys returns the keys of the extension's routes.
func (e *GlobalExtension) RouteKeys() []string {
	keys := make([]string, len(e.Spec.Routes))
	for i, r := range e.Spec.Routes {
		keys[i] = Ref(e.Metadata.Namespace, r)
	}
	return keys
}

// ExtensionsFor returns the extensions placed on a cluster that list the
// route, sorted by key.
func (f *Fleet) ExtensionsFor(c *Cluster, route *GlobalRoute) []*GlobalExtension {
	var out []*GlobalExtension
	for _, e := range f.Extensions {
		if !e.Matches(c) {
			continue
		}
		for _, k := range e.RouteKeys() {
			if k == route.Key() {
				out = append(out, e)
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

func extensionRef(e *GlobalExtension) docRef {
	return docRef{KindGlobalExtension, e.Metadata.Namespace, e.Metadata.Name, e.Source}
}

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// extensions validates every GlobalExtension: a pinned module from oci://
// or https://, its clusters and routes, and a provider that runs it on each
// selected cluster serving a listed route.
func (v *validator) extensions(f *Fleet, clusterNames []string) {
	seen := map[string]*GlobalExtension{}
	for _, e := range f.Extensions {
		d := extensionRef(e)
		v.meta(d, e.Metadata, validation.IsDNS1123Label)
		if prev, dup := seen[e.Key()]; dup && e.Metadata.Name != "" {
			v.add(d, "metadata.name", "duplicate GlobalExtension %q (also defined at %s:%d)", e.Key(), prev.Source.File, prev.Source.Line)
		} else {
			seen[e.Key()] = e
		}
		v.wasm(d, "spec.wasm", e.Spec.Wasm)
		v.placement(f, d, "spec.clusters", e.Spec.Clusters, clusterNames)
		if len(e.Spec.Routes) == 0 {
			v.add(d, "spec.routes", "required: at least one GlobalRoute in namespace %s", e.Metadata.Namespace)
		}
		var routeNames []string
		for _, r := range f.Routes {
			if r.Metadata.Namespace == e.Metadata.Namespace {
				routeNames = append(routeNames, r.Metadata.Name)
			}
		}
		sort.Strings(routeNames)
		listed := map[string]bool{}
		for i, name := range e.Spec.Routes {
			field := fmt.Sprintf("spec.routes[%d]", i)
			if listed[name] {
				v.add(d, field, "route %q listed twice", name)
				continue
			}
			listed[name] = true
			r := f.Route(Ref(e.Metadata.Namespace, name))
			if r == nil {
				v.addRef(d, field, "unknown GlobalRoute %q in namespace %s%s", name, e.Metadata.Namespace, DidYouMean(name, routeNames))
				continue
			}
			for _, c := range f.Placed(r.Spec.Clusters) {
				if !e.Matches(c) {
					continue
				}
				p := c.Spec.Gateway.Provider
				lim := provider.Limits{}
				if desc := provider.Lookup(p); desc != nil {
					lim = desc.Limits
				}
				switch {
				case lim.RouteWasm:
				case lim.NoRouteWasm != "":
					v.add(d, field, "provider %s (cluster %q serves GlobalRoute %s) cannot run it: %s", p, c.Metadata.Name, r.Key(), lim.NoRouteWasm)
				default:
					v.add(d, field, "provider %s (cluster %q serves GlobalRoute %s) has no per-route WebAssembly filter in gatefed: leave the cluster out with spec.clusters.selector", p, c.Metadata.Name, r.Key())
				}
			}
		}
	}
}

// wasm validates a module: a URL gatefed can pin, its digest and a config
// that converts to JSON.
func (v *validator) wasm(d docRef, field string, w WasmModule) {
	switch {
	case w.URL == "":
		v.add(d, field+".url", "required: oci://registry/repository:tag or https://host/path")
	case strings.HasPrefix(w.URL, "oci://"):
		ref := strings.TrimPrefix(w.URL, "oci://")
		if ref == "" || !strings.Contains(ref, "/") || strings.ContainsAny(ref, " \t") {
			v.add(d, field+".url", "%q is not an OCI image reference: want oci://registry/repository:tag", w.URL)
		}
	case strings.HasPrefix(w.URL, "https://"):
		u, err := url.Parse(w.URL)
		if err != nil || u.Host == "" {
			v.add(d, field+".url", "%q is not an https URL", w.URL)
		}
	default:
		v.add(d, field+".url", "%q: want an oci:// image or an https:// URL (plain http is not accepted: a module is fetched over TLS)", w.URL)
	}
	switch {
	case w.SHA256 == "":
		v.add(d, field+".sha256", "required: a module is pinned by its digest (64 lowercase hex digits: sha256 of the module file for https://, of the image manifest for oci://)")
	case !sha256Pattern.MatchString(w.SHA256):
		v.add(d, field+".sha256", "%q is not a sha256 digest: want 64 lowercase hex digits, without a sha256: prefix", w.SHA256)
	}
	for _, k := range Sorted(mapKeys(w.Config)) {
		if msg := jsonValue(w.Config[k]); msg != "" {
			v.add(d, field+".config."+k, "%s", msg)
		}
	}
}

func mapKeys(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = ""
	}
	return out
}

// jsonValue says why a decoded config value has no JSON form, or "".
func jsonValue(x any) string {
	switch t := x.(type) {
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return fmt.Sprintf("%v has no JSON form", t)
		}
	case []any:
		for _, e := range t {
			if msg := jsonValue(e); msg != "" {
				return msg
			}
		}
	case map[string]any:
		for _, e := range t {
			if msg := jsonValue(e); msg != "" {
				return msg
			}
		}
	}
	return ""
}
