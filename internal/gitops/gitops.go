// Package gitops writes what hands a rendered --out-dir over to a GitOps
// controller: an Argo CD ApplicationSet with one Application per cluster, or
// one Flux Kustomization per cluster. They point at DIR/<cluster> in a Git
// repository; gatefed itself then never touches the clusters.
package gitops

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
	"github.com/gatefed/gatefed/internal/render"
)

// Tools.
const (
	ArgoCD = "argocd"
	Flux   = "flux"
)

// Tools are the valid values of Options.Tool.
var Tools = []string{ArgoCD, Flux}

// SubDir is where the GitOps objects go inside --out-dir.
const SubDir = "gitops"

// Defaults.
const (
	DefaultRevision      = "HEAD"
	DefaultArgoNamespace = "argocd"
	DefaultFluxNamespace = "flux-system"
	DefaultFluxSource    = "flux-system"
	DefaultInterval      = "10m"
	DefaultName          = "gatefed"
	// InClusterServer is how Argo CD names the cluster it runs in.
	InClusterServer = "https://kubernetes.default.svc"
	// KubeconfigSecretKey is the key of a Flux kubeconfig Secret.
	KubeconfigSecretKey = "value"
	// LabelWave is the Application label that holds a cluster's wave.
	LabelWave = "gatefed.dev/wave"
)

// Options describe the hand-off.
type Options struct {
	// Tool is argocd or flux.
	Tool string
	// Dir is --out-dir as given.
	Dir string
	// PathPrefix is DIR's path inside the repository (default Dir, when relative).
	PathPrefix string
	// Repo is the Git repository URL (Argo CD; required there).
	Repo string
	// Revision is the Git revision Argo CD syncs (default HEAD).
	Revision string
	// Source is the Flux GitRepository that holds DIR (default flux-system).
	Source string
	// Namespace is where the ApplicationSet or Kustomizations live
	// (default argocd or flux-system).
	Namespace string
	// Interval is the Flux reconcile interval (default 10m).
	Interval string
	// LocalCluster is the cluster the GitOps controller runs in: Argo CD
	// reaches it as https://kubernetes.default.svc, Flux without a kubeconfig.
	LocalCluster string
	// Kubeconfig is the fallback kubeconfig for resolving API server URLs.
	Kubeconfig string
	// Waves, when set, is the rollout wave of every cluster (from 1):
	// Argo CD's Applications are labelled with it and the ApplicationSet
	// syncs them wave by wave (RollingSync); each Flux Kustomization
	// depends on those of the wave before it.
	Waves map[string]int
	// Server, when set, replaces reading the API server URL from the
	// cluster's kubeconfig context (tests). ok is false when unknown.
	Server func(c *fleet.Cluster) (server string, ok bool)
}

var intervalPattern = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`)

// Complete fills defaults and checks the options against the clusters.
func (o *Options) Complete(f *fleet.Fleet, clusters []*fleet.Cluster) error {
	switch o.Tool {
	case ArgoCD, Flux:
	default:
		return fmt.Errorf("--gitops %q: want argocd or flux", o.Tool)
	}
	if o.Dir == "" {
		return fmt.Errorf("--gitops needs --out-dir: the objects point at DIR/<cluster> in the repository")
	}
	if o.PathPrefix == "" {
		p := filepath.ToSlash(filepath.Clean(o.Dir))
		if filepath.IsAbs(o.Dir) || p == ".." || strings.HasPrefix(p, "../") {
			return fmt.Errorf("--out-dir %s is not a path inside the repository: give --gitops-path-prefix, DIR's path from the repository root", o.Dir)
		}
		o.PathPrefix = p
	}
	o.PathPrefix = strings.Trim(path.Clean(strings.TrimPrefix(filepath.ToSlash(o.PathPrefix), "./")), "/")
	if o.PathPrefix == "" {
		o.PathPrefix = "."
	}
	if strings.HasPrefix(o.PathPrefix, "../") || o.PathPrefix == ".." {
		return fmt.Errorf("--gitops-path-prefix %s leaves the repository", o.PathPrefix)
	}
	if o.Revision == "" {
		o.Revision = DefaultRevision
	}
	if o.Source == "" {
		o.Source = DefaultFluxSource
	}
	if o.Interval == "" {
		o.Interval = DefaultInterval
	}
	if !intervalPattern.MatchString(o.Interval) {
		return fmt.Errorf("--gitops-interval %q: want a duration such as 10m or 1h30m", o.Interval)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultArgoNamespace
		if o.Tool == Flux {
			o.Namespace = DefaultFluxNamespace
		}
	}
	if o.Tool == ArgoCD && o.Repo == "" {
		return fmt.Errorf("--gitops argocd needs --gitops-repo, the URL of the Git repository that holds %s", o.Dir)
	}
	if o.LocalCluster != "" && f.Cluster(o.LocalCluster) == nil {
		return fmt.Errorf("--gitops-local-cluster: unknown cluster %q", o.LocalCluster)
	}
	for _, c := range clusters {
		if c.Name() == SubDir {
			return fmt.Errorf("cluster %q would share %s/%s with the GitOps objects: rename the cluster or render it to another --out-dir", c.Name(), o.Dir, SubDir)
		}
	}
	return nil
}

// clusterPath is the repository path of a cluster's manifests.
func (o *Options) clusterPath(cluster string) string {
	if o.PathPrefix == "." {
		return cluster
	}
	return o.PathPrefix + "/" + cluster
}

// server returns the API server URL of a cluster from its kubeconfig context.
func (o *Options) server(c *fleet.Cluster) (string, bool) {
	if c.Name() == o.LocalCluster {
		return InClusterServer, true
	}
	if o.Server != nil {
		return o.Server(c)
	}
	cfg, err := kube.RESTConfig(c, o.Kubeconfig)
	if err != nil || cfg.Host == "" {
		return "", false
	}
	return cfg.Host, true
}

// Objects builds the GitOps objects for the rendered clusters (sorted by
// name). Call Complete first.
func Objects(clusters []*fleet.Cluster, o *Options) ([]*unstructured.Unstructured, error) {
	sorted := append([]*fleet.Cluster(nil), clusters...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name() < sorted[j].Name() })
	if o.Tool == ArgoCD {
		return []*unstructured.Unstructured{applicationSet(sorted, o)}, nil
	}
	var out []*unstructured.Unstructured
	for _, c := range sorted {
		out = append(out, fluxKustomization(c, sorted, o))
	}
	return out, nil
}

// waveNumbers are the distinct waves, in order.
func (o *Options) waveNumbers() []int {
	seen := map[int]bool{}
	var out []int
	for _, w := range o.Waves {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	sort.Ints(out)
	return out
}

// rollingSync is the ApplicationSet strategy that syncs the Applications
// one wave at a time, each step waiting for the one before to be healthy.
func rollingSync(o *Options) map[string]any {
	steps := []any{}
	for _, w := range o.waveNumbers() {
		steps = append(steps, map[string]any{
			"matchExpressions": []any{map[string]any{"key": LabelWave, "operator": "In", "values": []any{strconv.Itoa(w)}}},
		})
	}
	return map[string]any{"type": "RollingSync", "rollingSync": map[string]any{"steps": steps}}
}

// dependsOn names the Kustomizations of the wave before the cluster's.
func dependsOn(c *fleet.Cluster, clusters []*fleet.Cluster, o *Options) []any {
	waves := o.waveNumbers()
	i := sort.SearchInts(waves, o.Waves[c.Name()])
	if i == 0 || i >= len(waves) {
		return nil
	}
	var out []any
	for _, other := range clusters {
		if o.Waves[other.Name()] == waves[i-1] {
			out = append(out, map[string]any{"name": DefaultName + "-" + other.Name()})
		}
	}
	return out
}

func labels(cluster string) map[string]any {
	l := map[string]any{render.LabelManagedBy: render.ManagedByValue}
	if cluster != "" {
		l[render.LabelCluster] = cluster
	}
	return l
}

// applicationSet is one ApplicationSet whose list generator has an element
// per cluster: {cluster, server, name, path}. Exactly one of server and name
// is set; Argo CD treats an empty one as unset.
func applicationSet(clusters []*fleet.Cluster, o *Options) *unstructured.Unstructured {
	elements := []any{}
	for _, c := range clusters {
		server, ok := o.server(c)
		name := ""
		if !ok {
			server, name = "", c.Name()
		}
		el := map[string]any{
			"cluster": c.Name(),
			"server":  server,
			"name":    name,
			"path":    o.clusterPath(c.Name()),
		}
		if o.Waves != nil {
			el["wave"] = strconv.Itoa(o.Waves[c.Name()])
		}
		elements = append(elements, el)
	}
	set := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "ApplicationSet",
		"metadata": map[string]any{
			"name":      DefaultName,
			"namespace": o.Namespace,
			"labels":    labels(""),
		},
		"spec": map[string]any{
			"goTemplate":        true,
			"goTemplateOptions": []any{"missingkey=error"},
			"generators": []any{
				map[string]any{"list": map[string]any{"elements": elements}},
			},
			"template": map[string]any{
				"metadata": map[string]any{
					"name":   DefaultName + "-{{.cluster}}",
					"labels": map[string]any{render.LabelManagedBy: render.ManagedByValue, render.LabelCluster: "{{.cluster}}"},
				},
				"spec": map[string]any{
					"project": "default",
					"source": map[string]any{
						"repoURL":        o.Repo,
						"targetRevision": o.Revision,
						"path":           "{{.path}}",
					},
					"destination": map[string]any{
						"server": "{{.server}}",
						"name":   "{{.name}}",
					},
					"syncPolicy": map[string]any{
						"automated":   map[string]any{"prune": true, "selfHeal": true},
						"syncOptions": []any{"ServerSideApply=true"},
					},
				},
			},
		},
	}}
	if o.Waves != nil {
		_ = unstructured.SetNestedField(set.Object, "{{.wave}}", "spec", "template", "metadata", "labels", LabelWave)
		_ = unstructured.SetNestedField(set.Object, rollingSync(o), "spec", "strategy")
	}
	return set
}

// KubeconfigSecret is the Secret a Flux Kustomization reads a remote
// cluster's kubeconfig from.
func KubeconfigSecret(cluster string) string { return cluster + "-kubeconfig" }

// gatewayAPIHealth are Flux health checks (CEL) for the Gateway API
// objects, whose controllers report Accepted, ResolvedRefs and Programmed
// rather than Ready: a wave is healthy when its gateways accepted the routes.
func gatewayAPIHealth() []any {
	const gwapi = "gateway.networking.k8s.io/v1"
	route := func(kind string) any {
		return map[string]any{
			"apiVersion": gwapi, "kind": kind,
			"current": "has(status.parents) && status.parents.size() > 0 && status.parents.all(p, " +
				"p.conditions.exists(c, c.type == 'Accepted' && c.status == 'True') && " +
				"p.conditions.exists(c, c.type == 'ResolvedRefs' && c.status == 'True'))",
			"failed": "has(status.parents) && status.parents.exists(p, p.conditions.exists(c, " +
				"(c.type == 'Accepted' || c.type == 'ResolvedRefs') && c.status == 'False'))",
		}
	}
	return []any{
		map[string]any{
			"apiVersion": gwapi, "kind": "Gateway",
			"current": "has(status.conditions) && status.conditions.exists(c, c.type == 'Programmed' && c.status == 'True')",
			"failed":  "has(status.conditions) && status.conditions.exists(c, c.type == 'Accepted' && c.status == 'False')",
		},
		route("HTTPRoute"), route("GRPCRoute"),
	}
}

// fluxKustomization applies DIR/<cluster>; with waves it depends on the
// Kustomizations of the wave before, and waits for its objects to be ready.
func fluxKustomization(c *fleet.Cluster, clusters []*fleet.Cluster, o *Options) *unstructured.Unstructured {
	spec := map[string]any{
		"interval": o.Interval,
		"path":     "./" + o.clusterPath(c.Name()),
		"prune":    true,
		"sourceRef": map[string]any{
			"kind": "GitRepository",
			"name": o.Source,
		},
	}
	if c.Name() != o.LocalCluster {
		spec["kubeConfig"] = map[string]any{
			"secretRef": map[string]any{"name": KubeconfigSecret(c.Name()), "key": KubeconfigSecretKey},
		}
	}
	if o.Waves != nil {
		spec["wait"] = true
		spec["healthCheckExprs"] = gatewayAPIHealth()
		if deps := dependsOn(c, clusters, o); len(deps) > 0 {
			spec["dependsOn"] = deps
		}
	}
	l := labels(c.Name())
	if o.Waves != nil {
		l[LabelWave] = strconv.Itoa(o.Waves[c.Name()])
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"metadata": map[string]any{
			"name":      DefaultName + "-" + c.Name(),
			"namespace": o.Namespace,
			"labels":    l,
		},
		"spec": spec,
	}}
}

// FileName is an object's file name under DIR/gitops.
func FileName(o *unstructured.Unstructured) string {
	return strings.ToLower(o.GetKind()) + "-" + o.GetName() + ".yaml"
}

const header = "# Generated by gatefed render --gitops; do not edit.\n"

// Write writes the objects to dir/gitops with a kustomization.yaml listing
// them, and removes files an earlier run wrote that are not written now.
func Write(dir string, objs []*unstructured.Unstructured) ([]string, error) {
	gdir := filepath.Join(dir, SubDir)
	if err := os.MkdirAll(gdir, 0o755); err != nil {
		return nil, err
	}
	var written, resources []string
	keep := map[string]bool{"kustomization.yaml": true}
	for _, obj := range objs {
		name := FileName(obj)
		y, err := yaml.Marshal(obj.Object)
		if err != nil {
			return written, err
		}
		p := filepath.Join(gdir, name)
		if err := writeIfChanged(p, append([]byte(header), y...)); err != nil {
			return written, err
		}
		keep[name] = true
		resources = append(resources, name)
		written = append(written, p)
	}
	if err := removeStale(gdir, keep); err != nil {
		return written, err
	}
	k, err := yaml.Marshal(map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  resources,
	})
	if err != nil {
		return written, err
	}
	p := filepath.Join(gdir, "kustomization.yaml")
	if err := writeIfChanged(p, append([]byte(header), k...)); err != nil {
		return written, err
	}
	return append(written, p), nil
}

func writeIfChanged(p string, data []byte) error {
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return os.WriteFile(p, data, 0o644)
}

// removeStale deletes *.yaml files that a previous run generated and that are not in keep.
func removeStale(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || keep[e.Name()] || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.HasPrefix(b, []byte(header)) {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}
