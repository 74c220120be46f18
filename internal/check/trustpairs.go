package check

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// path is one source -> target failover path with what it carries.
type path struct {
	source, target *clusterEnv
	plans          []*render.ServicePlan
}

// failoverPaths are every source -> target pair the rendered tiers use,
// between clusters of this run, in source then target order.
func failoverPaths(envs []*clusterEnv) []path {
	byName := map[string]*clusterEnv{}
	for _, e := range envs {
		if e != nil {
			byName[e.cluster.Name()] = e
		}
	}
	var out []path
	for _, src := range envs {
		if src == nil {
			continue
		}
		targets := map[string]bool{}
		for _, p := range src.input.Used {
			for _, t := range p.Tiers {
				if !t.Local {
					targets[t.Cluster.Name()] = true
				}
			}
		}
		names := make([]string, 0, len(targets))
		for n := range targets {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if dst := byName[n]; dst != nil {
				out = append(out, path{source: src, target: dst, plans: sendsTo(src.input, n)})
			}
		}
	}
	return out
}

func (p path) services() []string {
	out := make([]string, len(p.plans))
	for i, sp := range p.plans {
		out[i] = sp.Service.Key()
	}
	return out
}

// failoverPairs judges trust on every failover path whose two Secrets were
// read, then probes the paths (unless turned off), adding the findings to
// the source cluster's failover-trust result.
func (r *runner) failoverPairs(ctx context.Context, rep *Report, envs []*clusterEnv) {
	paths := failoverPaths(envs)
	late := map[string][]Finding{}
	now := time.Now()
	for _, p := range paths {
		up, _ := p.source.trust.get()
		_, down := p.target.trust.get()
		if up == nil || down == nil {
			continue
		}
		pair := failovertls.Pair{Source: p.source.cluster.Name(), Target: p.target.cluster.Name(), Client: up, Server: down, Services: p.services()}
		for _, f := range pair.Trust(now, r.opts.CertThreshold) {
			late[pair.Source] = append(late[pair.Source], trustFinding("", f))
		}
	}
	probes := map[string][]PathProbe{}
	if r.opts.ProbeFailover {
		probes = r.probePaths(ctx, paths)
		for src, ps := range probes {
			for _, pp := range ps {
				late[src] = append(late[src], probeFinding(src, pp))
			}
		}
	}
	for _, c := range rep.Clusters {
		res := c.Check(FailoverTrust)
		if res == nil {
			continue
		}
		if d, ok := res.Details.(*TrustDetails); ok {
			d.Probes = probes[c.Name]
		}
		addLate(res, late[c.Name])
	}
}

// probePaths runs one mutual-TLS probe per path and SNI, all at once, each
// bounded by the probe timeout; results are in path then SNI order.
func (r *runner) probePaths(ctx context.Context, paths []path) map[string][]PathProbe {
	type job struct {
		src string
		req failovertls.ProbeRequest
		out PathProbe
	}
	var jobs []*job
	for _, p := range paths {
		up, _ := p.source.trust.get()
		if up == nil {
			continue
		}
		checks := sourceChecksName(p.source.cluster.Spec.Gateway.Provider)
		tc := p.target.cluster
		addr := net.JoinHostPort(tc.Spec.Failover.Address, strconv.Itoa(int(tc.FailoverPort())))
		for _, sp := range p.plans {
			s := sp.Service
			req := failovertls.ProbeRequest{Addr: addr, SNI: render.FailoverSNI(s), VerifyName: checks, Client: up, Host: serviceHost(s), Path: healthPath(s)}
			jobs = append(jobs, &job{src: p.source.cluster.Name(), req: req,
				out: PathProbe{Target: tc.Name(), Address: addr, SNI: req.SNI, Services: []string{s.Key()}}})
		}
	}
	timeout := min(r.opts.Timeout, maxProbeTimeout)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			j.out.ProbeResult = failovertls.Probe(pctx, j.req)
		})
	}
	wg.Wait()
	out := map[string][]PathProbe{}
	for _, j := range jobs {
		out[j.src] = append(out[j.src], j.out)
	}
	return out
}

// maxProbeTimeout bounds each failover path probe.
const maxProbeTimeout = 5 * time.Second

// serviceHost is the Host of the probe's health request: the Service's
// cluster-local name, which the target's local endpoints answer to.
func serviceHost(s *fleet.GlobalService) string {
	return fmt.Sprintf("%s.%s.svc.cluster.local", s.ServiceName(), s.Metadata.Namespace)
}

func healthPath(s *fleet.GlobalService) string {
	if hc := s.Spec.HealthCheck; hc != nil && hc.Path != "" {
		return hc.Path
	}
	return "/"
}

// probeFinding turns a probe's outcome into a finding on the source.
func probeFinding(src string, p PathProbe) Finding {
	what := fmt.Sprintf("probe %s -> %s (%s, SNI %s, services %s) from this host", src, p.Target, p.Address, p.SNI, strings.Join(p.Services, ", "))
	switch p.Outcome {
	case failovertls.Healthy:
		return Finding{Severity: Info, Message: fmt.Sprintf("%s: accepted and healthy (status %d, %d ms)", what, p.Status, p.LatencyMS)}
	case failovertls.Unhealthy:
		return Finding{Severity: Warning, Message: fmt.Sprintf("%s: accepted, health status %s (%d ms)", what, statusText(p.ProbeResult), p.LatencyMS),
			Hint: "mutual TLS works; the service behind the target answers its health path with an error: see service-presence on " + p.Target}
	}
	if v, ok := probeVerdicts[p.Outcome]; ok {
		return Finding{Severity: v.severity, Message: fmt.Sprintf("%s: %s: %s", what, v.says, p.Detail), Hint: v.hint}
	}
	return Finding{Severity: Failure, Message: fmt.Sprintf("%s: SNI not served: %s", what, p.Detail),
		Hint: "the target's failover listener has no route for this SNI: check config-status and drift on " + p.Target}
}

// probeVerdict is the finding on a probe outcome: its severity, what the
// message says before the probe's detail, and the hint.
type probeVerdict struct {
	severity   Severity
	says, hint string
}

var probeVerdicts = map[failovertls.Outcome]probeVerdict{
	failovertls.NotReachable: {Warning, "not reachable from this host",
		"run check where the failover addresses are routable, or turn the probe off with --failover-probe=false"},
	failovertls.ServerNotTrusted: {Failure, "server not trusted",
		"the target's serving certificate must be signed by a CA in the source's failover-upstream ca.crt and carry the SNI; see the findings above"},
	failovertls.NoClientCertificate: {Failure, "the client certificate is unusable",
		"the source's failover-upstream Secret needs tls.crt and the tls.key that belongs to it; see the findings above"},
	failovertls.ClientRefused: {Failure, "client refused",
		"the target's failover-downstream ca.crt must hold the CA of the source's client certificate, which must be valid and allow clientAuth"},
}

func statusText(p failovertls.ProbeResult) string {
	if p.Status != 0 {
		return strconv.Itoa(p.Status)
	}
	return p.Detail
}

// addLate adds findings to a finished result and grades it again.
func addLate(res *Result, fs []Finding) {
	if len(fs) == 0 {
		return
	}
	res.Findings = append(res.Findings, fs...)
	for _, f := range fs {
		switch {
		case f.Severity == Failure:
			res.Status = Fail
		case f.Severity == Warning && res.Status != Fail:
			res.Status = Warn
		}
	}
	sortFindings(res.Findings)
}

// failoverCAs summarises the CAs of every failover Secret read.
func failoverCAs(envs []*clusterEnv) []failovertls.CA {
	held := map[string]*failovertls.Material{}
	for _, e := range envs {
		if e == nil {
			continue
		}
		up, down := e.trust.get()
		for _, m := range []*failovertls.Material{up, down} {
			if m != nil {
				held[e.cluster.Name()+": "+m.Name] = m
			}
		}
	}
	if len(held) == 0 {
		return nil
	}
	return failovertls.CASummary(held, time.Now())
}
