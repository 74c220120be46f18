package check

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/plan"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// SizingDetails is the sizing check's figures for one cluster.
type SizingDetails struct {
	ProxyLoad
	// LiveRead is false when the cluster's API could not be read: the
	// figures then come from the render alone.
	LiveRead bool `json:"liveRead"`
	// EstimatedProxyBytes is the model's estimate for one proxy replica.
	EstimatedProxyBytes int64 `json:"estimatedProxyBytes"`
	// Proxy is the gateway proxy Deployment's name, replicas and memory (0: unset or unknown).
	ProxyDeployment    string `json:"proxyDeployment,omitempty"`
	ProxyReplicas      int32  `json:"proxyReplicas,omitempty"`
	ProxyMemoryRequest int64  `json:"proxyMemoryRequestBytes,omitempty"`
	ProxyMemoryLimit   int64  `json:"proxyMemoryLimitBytes,omitempty"`
	// ConfigBytes is the rendered configuration of the cluster, as JSON.
	ConfigBytes int64 `json:"configBytes"`
	// EstimatedControlPlaneBytes is the model's estimate for the cluster's control plane.
	EstimatedControlPlaneBytes int64 `json:"estimatedControlPlaneBytes"`
	// IfLost says what happens to the traffic this cluster serves if it were lost.
	IfLost []LossImpact `json:"ifLost"`
}

// LossImpact is what losing a cluster does to one service's traffic entering another cluster.
type LossImpact struct {
	Service string `json:"service"`
	// From is the cluster whose gateway receives the traffic.
	From string `json:"from"`
	// Tiers are From's tiers for the service with the lost cluster marked down.
	Tiers []string `json:"tiers"`
	// AbsorbedBy is the cluster that takes the lost cluster's share (when it was tier 0).
	AbsorbedBy string `json:"absorbedBy,omitempty"`
	// Lost is true when no cluster is left to serve the service from From.
	Lost bool `json:"lost,omitempty"`
}

// FleetSizing is the fleet's configuration and control planes together.
type FleetSizing struct {
	ConfigBytes                int64 `json:"configBytes"`
	EstimatedControlPlaneBytes int64 `json:"estimatedControlPlaneBytes"`
	EstimatedProxyBytes        int64 `json:"estimatedProxyBytes"`
}

func checkSizing(ctx context.Context, env *clusterEnv, res *result) {
	if env.provider().Sizing.Count == nil {
		res.skip(fmt.Sprintf("provider %s runs no proxy gatefed can size", env.provider().Name))
		return
	}
	m := env.run.opts.Sizing
	d := &SizingDetails{LiveRead: env.apiErr == nil}
	// The proxy Deployment is read while the live configuration is counted.
	deployment := &result{}
	var wg sync.WaitGroup
	var live liveConfig
	if env.apiErr == nil {
		wg.Go(func() {
			proxyDeployment(ctx, env, deployment, d)
		})
		live = readLiveConfig(ctx, env)
		for _, err := range live.errs {
			res.warn("sizing could not read live objects: "+err.Error(), rbacHint("list", ""))
		}
		if len(live.partial) > 0 {
			res.info("counted where gatefed manages objects only, as listing them cluster-wide is forbidden: " + strings.Join(live.partial, "; "))
		}
	} else {
		res.info("the cluster's API is unreachable: figures come from the render alone")
		res.warn("the gateway proxy Deployment could not be read: its memory limit and replicas are unknown",
			"see connectivity; run the check again once the API answers")
	}
	d.ProxyLoad = proxyLoad(ctx, env, live)
	d.EstimatedProxyBytes = m.ProxyBytes(d.ProxyLoad)
	d.ConfigBytes = configBytes(env.objects)
	d.EstimatedControlPlaneBytes = m.ControlPlaneBytes(d.ConfigBytes)
	res.info(fmt.Sprintf("proxy configuration: %d Envoy clusters, %d endpoints, %d routes, %d HTTP and %d TCP listeners; estimated proxy memory %s",
		d.EnvoyClusters, d.Endpoints, d.Routes, d.HTTPListeners, d.TCPListeners, humanBytes(d.EstimatedProxyBytes)))
	res.info(fmt.Sprintf("rendered configuration %s; estimated control plane memory %s", humanBytes(d.ConfigBytes), humanBytes(d.EstimatedControlPlaneBytes)))
	wg.Wait()
	if env.apiErr == nil {
		limitFindings(env, deployment, d)
	}
	for _, f := range deployment.Findings {
		res.add(f)
	}
	d.IfLost = ifLost(env.run, env.cluster)
	reportLoss(env.cluster.Name(), d.IfLost, res)
	res.setDetails(d)
}

// proxyDeployment reads the gateway proxy's Deployment: replicas, memory
// request and limit; it warns about too few replicas.
func proxyDeployment(ctx context.Context, env *clusterEnv, res *result, d *SizingDetails) {
	m := env.run.opts.Sizing
	dep, container, err := findProxyDeployment(ctx, env)
	if err != nil {
		res.warn("read the gateway proxy Deployment: "+err.Error(), rbacHint("get and list deployments", ""))
		return
	}
	if dep == nil {
		res.warn("the gateway proxy Deployment was not found: its memory limit and replicas are unknown",
			"see gateway-install; "+env.provider().Sizing.ProxyHint)
		return
	}
	ref := objRef("Deployment", dep.Namespace, dep.Name)
	d.ProxyDeployment = dep.Namespace + "/" + dep.Name
	d.ProxyReplicas = replicas(dep)
	if container != nil {
		if q, ok := container.Resources.Requests[corev1.ResourceMemory]; ok {
			d.ProxyMemoryRequest = q.Value()
		}
		if q, ok := container.Resources.Limits[corev1.ResourceMemory]; ok {
			d.ProxyMemoryLimit = q.Value()
		}
	}
	if d.ProxyReplicas < m.MinReplicas {
		res.objWarn(ref, fmt.Sprintf("the gateway proxy runs %s: losing one pod stops the gateway", plural(int(d.ProxyReplicas), "replica", "replicas")),
			fmt.Sprintf("run at least %d replicas (kubectl -n %s scale deployment %s --replicas=%d, or the gateway's Helm values), with a PodDisruptionBudget", m.MinReplicas, dep.Namespace, dep.Name, m.MinReplicas))
	}
}

// limitFindings compares the estimate with the proxy's memory limit.
func limitFindings(env *clusterEnv, res *result, d *SizingDetails) {
	if d.ProxyDeployment == "" {
		return
	}
	m := env.run.opts.Sizing
	ns, name, _ := strings.Cut(d.ProxyDeployment, "/")
	ref := objRef("Deployment", ns, name)
	switch {
	case d.ProxyMemoryLimit == 0:
		res.objInfo(ref, fmt.Sprintf("the gateway proxy has no memory limit (request %s)", humanBytesOr(d.ProxyMemoryRequest, "unset")))
	case m.OverLimit(d.EstimatedProxyBytes, d.ProxyMemoryLimit):
		res.objWarn(ref, fmt.Sprintf("estimated proxy memory %s is %.0f%% of the limit %s (above %.0f%%)",
			humanBytes(d.EstimatedProxyBytes), 100*float64(d.EstimatedProxyBytes)/float64(d.ProxyMemoryLimit), humanBytes(d.ProxyMemoryLimit), 100*m.MemoryLimitRatio),
			"raise the proxy's memory limit, or split routes across gateways; Envoy's overload manager starts shedding load near the limit")
	default:
		res.objInfo(ref, fmt.Sprintf("estimated proxy memory %s is %.0f%% of the limit %s (request %s)",
			humanBytes(d.EstimatedProxyBytes), 100*float64(d.EstimatedProxyBytes)/float64(d.ProxyMemoryLimit), humanBytes(d.ProxyMemoryLimit), humanBytesOr(d.ProxyMemoryRequest, "unset")))
	}
}

// findProxyDeployment returns the gateway proxy's Deployment and its Envoy
// container, found the way the provider's descriptor says (Sizing.Proxy).
func findProxyDeployment(ctx context.Context, env *clusterEnv) (*appsv1.Deployment, *corev1.Container, error) {
	gw := env.cluster.Spec.Gateway
	var dep *appsv1.Deployment
	desc := env.provider()
	switch desc.Sizing.Proxy {
	case provider.ProxyByOwnerLabels:
		fo := desc.Failover
		list, err := env.kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{
			LabelSelector: fo.OwnerNameLabel + "=" + gw.Name + "," + fo.OwnerNamespaceLabel + "=" + gw.Namespace,
		})
		if err != nil {
			return nil, nil, err
		}
		if len(list.Items) == 0 {
			return nil, nil, nil
		}
		dep = &list.Items[0]
	case provider.ProxyBySelector:
		got, err := selectedProxyDeployment(ctx, env)
		if got == nil || err != nil {
			return nil, nil, err
		}
		dep = got
	default:
		got, err := env.deployment(ctx, gw.Namespace, gw.Name)
		if isNotFound(err) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		dep = got
	}
	cs := dep.Spec.Template.Spec.Containers
	for i := range cs {
		if cs[i].Name == desc.Sizing.ProxyContainer {
			return dep, &cs[i], nil
		}
	}
	if len(cs) > 0 {
		return dep, &cs[0], nil
	}
	return dep, nil, nil
}

// liveConfig is what a cluster holds beyond the render: objects of the
// kinds that make proxy configuration, keyed by kind and namespace/name.
// Objects labelled as gatefed's that are not this cluster's (clusterEnv.ours)
// are left out: they configure another fleet's or another gateway
// namespace's proxy.
type liveConfig struct {
	objects map[string]*liveObject
	// partial are the kinds listed in some namespaces only (cluster-wide list forbidden).
	partial []string
	errs    []error
}

func objKey(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// readLiveConfig lists every object of the proxy kinds, in parallel.
func readLiveConfig(ctx context.Context, env *clusterEnv) liveConfig {
	out := liveConfig{objects: map[string]*liveObject{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, k := range env.provider().Sizing.Kinds {
		gk := k.GroupKind()
		m := env.mapping(gk)
		if m == nil {
			continue
		}
		wg.Go(func() {
			l, err := env.listAll(ctx, m)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out.errs = append(out.errs, err)
				return
			}
			if l.partial {
				out.partial = append(out.partial, fmt.Sprintf("%s (in %s)", gk, strings.Join(l.namespaces, ", ")))
			}
			for _, o := range l.objects {
				if o.GetLabels()[render.LabelManagedBy] == render.ManagedByValue && !env.ours(o.Unstructured) {
					continue
				}
				out.objects[objKey(o.Unstructured)] = o
			}
		})
	}
	wg.Wait()
	sort.Strings(out.partial)
	return out
}

// merged is the render with the live objects it does not hold, sorted.
func merged(rendered []*unstructured.Unstructured, live liveConfig) []*unstructured.Unstructured {
	seen := map[string]bool{}
	var out []*unstructured.Unstructured
	for _, o := range rendered {
		seen[objKey(o)] = true
		out = append(out, o)
	}
	var extra []*unstructured.Unstructured
	for k, o := range live.objects {
		if !seen[k] {
			extra = append(extra, o.Unstructured)
		}
	}
	render.SortObjects(extra)
	return append(out, extra...)
}

// proxyLoad counts what the proxy is configured with: the render plus the
// live objects of the same kinds it does not hold (other teams' routes and
// discovered Upstreams load the same proxy). Local Service endpoints come
// from the live EndpointSlices; without them a Service counts one host.
func proxyLoad(ctx context.Context, env *clusterEnv, live liveConfig) ProxyLoad {
	objs := merged(env.objects, live)
	readLive := env.apiErr == nil
	endpointsOf := func(ns, name string, port int64) int {
		if !readLive || name == "" {
			return 1
		}
		ec := env.readyEndpoints(ctx, ns, name, int32(port))
		if ec.err != nil || ec.Ready == 0 {
			return 1
		}
		return ec.Ready
	}
	count := env.provider().Sizing.Count
	if count == nil {
		return ProxyLoad{}
	}
	return count(objs, env.cluster.Spec.Gateway.Gateway(), endpointsOf)
}

// configBytes is the size of the rendered objects as JSON.
func configBytes(objs []*unstructured.Unstructured) int64 {
	var n int64
	for _, o := range objs {
		b, err := json.Marshal(o.Object)
		if err == nil {
			n += int64(len(b))
		}
	}
	return n
}

// clusterDown is an Availability that marks one cluster down for every service.
type clusterDown string

func (c clusterDown) Unavailable(_ *fleet.GlobalService, cluster string) string {
	if cluster == string(c) {
		return "lost"
	}
	return ""
}

// ifLost computes, for every service the cluster serves, what each other
// cluster routing to it would do if this cluster were lost: the tiers left
// (plan.Tiers with the cluster marked down) and who absorbs its share.
func ifLost(r *runner, lost *fleet.Cluster) []LossImpact {
	var out []LossImpact
	down := clusterDown(lost.Name())
	for _, src := range r.fleet.Clusters {
		if src.Name() == lost.Name() {
			continue // its own gateway is gone with it
		}
		in := r.input(src)
		for _, key := range in.UsedKeys() {
			sp := in.Used[key]
			servedByLost := false
			for _, t := range sp.Tiers {
				if t.Cluster.Name() == lost.Name() {
					servedByLost = true
				}
			}
			if !servedByLost {
				continue
			}
			after, _ := plan.Tiers(r.fleet, sp.Service, src, down)
			impact := LossImpact{Service: key, From: src.Name(), Tiers: []string{}}
			for _, t := range after {
				impact.Tiers = append(impact.Tiers, t.Cluster.Name())
			}
			switch {
			case len(after) == 0:
				impact.Lost = true
			case sp.Tiers[0].Cluster.Name() == lost.Name():
				impact.AbsorbedBy = after[0].Cluster.Name()
			}
			out = append(out, impact)
		}
	}
	slices.SortStableFunc(out, func(a, b LossImpact) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.From, b.From))
	})
	return out
}

// reportLoss turns the N-1 analysis into findings.
func reportLoss(name string, impacts []LossImpact, res *result) {
	if len(impacts) == 0 {
		res.info(fmt.Sprintf("N-1: no other cluster sends traffic to %s; losing it affects only its own gateway", name))
		return
	}
	absorbers := map[string][]string{}
	lost := 0
	for _, im := range impacts {
		switch {
		case im.Lost:
			lost++
			res.warn(fmt.Sprintf("N-1: if %s were lost, GlobalService %s would have no cluster left to serve traffic entering %s", name, im.Service, im.From),
				fmt.Sprintf("run %s in another failover target too (spec.clusters), so that losing %s leaves a tier", im.Service, name))
		case im.AbsorbedBy != "":
			absorbers[im.AbsorbedBy] = append(absorbers[im.AbsorbedBy], im.Service+" from "+im.From)
		}
	}
	if len(absorbers) > 0 {
		keys := make([]string, 0, len(absorbers))
		for k := range absorbers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s takes %s", k, strings.Join(absorbers[k], ", ")))
		}
		res.info(fmt.Sprintf("N-1: if %s were lost, %s", name, strings.Join(parts, "; ")))
	}
	if lost == 0 {
		res.info(fmt.Sprintf("N-1: every service %s serves keeps a tier elsewhere (%s checked)", name, plural(len(impacts), "path", "paths")))
	}
}

// fleetSizing adds up the sizing figures of every cluster.
func fleetSizing(rep *Report) *FleetSizing {
	fs := &FleetSizing{}
	for _, c := range rep.Clusters {
		d := c.sizing()
		if d == nil {
			continue
		}
		fs.ConfigBytes += d.ConfigBytes
		fs.EstimatedControlPlaneBytes += d.EstimatedControlPlaneBytes
		fs.EstimatedProxyBytes += d.EstimatedProxyBytes * int64(max(1, d.ProxyReplicas))
	}
	return fs
}

// sizing is the cluster's sizing figures, nil when the check did not run.
func (c *ClusterReport) sizing() *SizingDetails {
	if r := c.Check(Sizing); r != nil {
		d, _ := r.Details.(*SizingDetails)
		return d
	}
	return nil
}

// humanBytes prints bytes in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanBytesOr(n int64, none string) string {
	if n == 0 {
		return none
	}
	return humanBytes(n)
}
