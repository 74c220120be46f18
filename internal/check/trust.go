package check

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// TrustDetails are failover-trust's structured results on one cluster.
type TrustDetails struct {
	// Certificates are those of the cluster's failover Secrets, with days left.
	Certificates []failovertls.CertInfo `json:"certificates"`
	// Probes are the mutual-TLS probes from this cluster (as source) to its targets.
	Probes []PathProbe `json:"probes,omitempty"`
}

// PathProbe is one mutual-TLS probe of a failover path.
type PathProbe struct {
	Target   string   `json:"target"`
	Address  string   `json:"address"`
	SNI      string   `json:"sni"`
	Services []string `json:"services"`
	failovertls.ProbeResult
}

// failoverSecrets are a cluster's parsed failover Secrets, for the pairs.
type failoverSecrets struct {
	mu                   sync.Mutex
	upstream, downstream *failovertls.Material
}

func (s *failoverSecrets) set(role failovertls.Role, m *failovertls.Material) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if role == failovertls.Client {
		s.upstream = m
	} else {
		s.downstream = m
	}
}

func (s *failoverSecrets) get() (upstream, downstream *failovertls.Material) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upstream, s.downstream
}

// checkFailoverTrust reads the cluster's failover Secrets (the client one
// when it sends failover traffic, the serving one when it accepts it) and
// judges their certificates; pairs of clusters are judged once every
// cluster has been read (failoverPairs).
func checkFailoverTrust(ctx context.Context, env *clusterEnv, res *result) {
	sends, receives := sendsFailover(env), receivesFailover(env)
	if !sends && !receives {
		res.skip("this cluster neither sends failover traffic nor accepts it")
		return
	}
	details := &TrustDetails{Certificates: []failovertls.CertInfo{}}
	if sends {
		details.Certificates = append(details.Certificates, judgeSecret(ctx, env, res, render.FailoverUpstreamSecret, failovertls.Client)...)
	}
	if receives {
		details.Certificates = append(details.Certificates, judgeSecret(ctx, env, res, render.FailoverDownstreamSecret, failovertls.Server)...)
		if _, down := env.trust.get(); down != nil {
			addTrustFindings(res, objRef("Secret", env.gatewayNamespace(), render.FailoverDownstreamSecret),
				failovertls.Coverage(env.cluster.Name(), down, env.run.servedSNIs(env)))
		}
	}
	res.setDetails(details)
}

// judgeSecret reads one failover Secret and adds its findings.
func judgeSecret(ctx context.Context, env *clusterEnv, res *result, name string, role failovertls.Role) []failovertls.CertInfo {
	ns, cl := env.gatewayNamespace(), env.cluster.Name()
	ref := objRef("Secret", ns, name)
	s, err := env.failoverSecret(ctx, name)
	switch {
	case isNotFound(err):
		res.objInfo(ref, fmt.Sprintf("Secret %s/%s does not exist in cluster %s (failover-readiness reports it)", ns, name, cl))
		return nil
	case apierrors.IsForbidden(err):
		res.objWarn(ref, fmt.Sprintf("Secret %s/%s in cluster %s could not be read: forbidden; its certificates were not checked", ns, name, cl),
			fmt.Sprintf("grant get on secrets named %s and %s in namespace %s (gatefed cluster register --service-account %s grants exactly that)",
				render.FailoverUpstreamSecret, render.FailoverDownstreamSecret, ns, cl))
		return nil
	case err != nil:
		res.objFail(ref, fmt.Sprintf("read Secret %s/%s: %v", ns, name, err), rbacHint("get secrets", ns))
		return nil
	}
	m := failovertls.Parse(ns+"/"+name, string(s.Type), s.Data)
	env.trust.set(role, m)
	fs, certs := failovertls.Judge(m, role, time.Now(), env.run.opts.CertThreshold)
	addTrustFindings(res, ref, fs)
	return certs
}

func addTrustFindings(res *result, ref string, fs []failovertls.Finding) {
	for _, f := range fs {
		res.add(trustFinding(ref, f))
	}
}

func trustFinding(ref string, f failovertls.Finding) Finding {
	sev := Info
	switch f.Severity {
	case failovertls.Fail:
		sev = Failure
	case failovertls.Warn:
		sev = Warning
	}
	return Finding{Severity: sev, Message: f.Message, Hint: f.Hint, Object: ref}
}

// servedSNIs are the SNIs the target serves, each with its services and
// the source clusters that send to it, split by whether their provider
// checks the name.
func (r *runner) servedSNIs(target *clusterEnv) []failovertls.SNI {
	bySNI := map[string]*failovertls.SNI{}
	get := func(s *fleet.GlobalService) *failovertls.SNI {
		name := render.FailoverSNI(s)
		if bySNI[name] == nil {
			bySNI[name] = &failovertls.SNI{Name: name}
		}
		return bySNI[name]
	}
	for _, s := range target.input.Served {
		get(s).Services = appendNew(get(s).Services, s.Key())
	}
	for _, src := range r.fleet.Clusters {
		checks := sourceChecksName(src.Spec.Gateway.Provider)
		for _, p := range sendsTo(r.input(src), target.cluster.Name()) {
			e := get(p.Service)
			e.Services = appendNew(e.Services, p.Service.Key())
			if checks {
				e.Verifying = appendNew(e.Verifying, src.Name())
			} else {
				e.Chain = appendNew(e.Chain, src.Name())
			}
		}
	}
	out := make([]failovertls.SNI, 0, len(bySNI))
	for _, e := range bySNI {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sendsTo are the service plans of a source's input with a remote tier on target, by key.
func sendsTo(in *render.ClusterInput, target string) []*render.ServicePlan {
	var out []*render.ServicePlan
	for _, p := range in.Used {
		for _, t := range p.Tiers {
			if !t.Local && t.Cluster.Name() == target {
				out = append(out, p)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service.Key() < out[j].Service.Key() })
	return out
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// sourceChecksName reports whether a source cluster of this provider checks
// the SNI against the target's certificate (its descriptor says); an
// unknown provider is taken to check it.
func sourceChecksName(name string) bool {
	if d := provider.Lookup(name); d != nil {
		return d.Failover.SourceChecksName
	}
	return true
}
