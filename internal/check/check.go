// Package check runs named health, drift, failover-readiness and sizing
// checks against every cluster of a fleet, clusters and checks in parallel,
// each check bounded by a timeout, and reports every finding.
package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/cluster"
	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/render"
)

// Check names, in report order.
const (
	Connectivity      = "connectivity"
	GatewayInstall    = "gateway-install"
	ConfigStatus      = "config-status"
	Drift             = "drift"
	ServicePresence   = "service-presence"
	FailoverReadiness = "failover-readiness"
	FailoverTrust     = "failover-trust"
	Sizing            = "sizing"
)

// Names lists every check in report order.
var Names = []string{Connectivity, GatewayInstall, ConfigStatus, Drift, ServicePresence, FailoverReadiness, FailoverTrust, Sizing}

// Status is the outcome of one check on one cluster.
type Status string

// Statuses, from best to worst; skip means the check did not apply or could not run.
const (
	Pass Status = "pass"
	Skip Status = "skip"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Severity grades a finding.
type Severity string

// Severities. Info findings report what was seen; they never change a status.
const (
	Info    Severity = "info"
	Warning Severity = "warn"
	Failure Severity = "fail"
)

// Finding is one thing a check saw.
type Finding struct {
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Hint says how to fix it (warnings and failures).
	Hint string `json:"hint,omitempty"`
	// Object is "Kind namespace/name" when the finding is about one object.
	Object string `json:"object,omitempty"`
}

// Result is one check's outcome on one cluster.
type Result struct {
	Name     string    `json:"name"`
	Status   Status    `json:"status"`
	Findings []Finding `json:"findings"`
	// DurationMS is how long the check ran, in milliseconds.
	DurationMS int64 `json:"durationMs"`
	// Details holds structured data: *ConnectivityDetails, *SizingDetails.
	Details any `json:"details,omitempty"`

	skipped bool
}

// ClusterReport is every check's result on one cluster, in Names order.
type ClusterReport struct {
	Name   string    `json:"name"`
	Checks []*Result `json:"checks"`
	// Rejected is set when the API server rejected the cluster's
	// credentials (401): nothing that needs the API could be checked.
	Rejected *cluster.CredentialsError `json:"-"`
}

// Check returns the named check's result, or nil.
func (c *ClusterReport) Check(name string) *Result {
	for _, r := range c.Checks {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Summary counts results and holds fleet-wide figures.
type Summary struct {
	Clusters int `json:"clusters"`
	Pass     int `json:"pass"`
	Warn     int `json:"warn"`
	Fail     int `json:"fail"`
	Skip     int `json:"skip"`
	// Status is the worst status of any check (pass, warn or fail).
	Status Status `json:"status"`
	// Fleet sizing, when the sizing check ran.
	Sizing *FleetSizing `json:"sizing,omitempty"`
	// FailoverCAs are the CAs in the failover Secrets' ca.crt, when failover-trust ran.
	FailoverCAs []failovertls.CA `json:"failoverCAs,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Clusters []*ClusterReport `json:"clusters"`
	Summary  Summary          `json:"summary"`
	// Checks are the checks that ran, in order.
	Checks []string `json:"-"`
	// Warnings are the render's warnings (printed, never part of a status).
	Warnings []string `json:"-"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Summary.Fail > 0 }

// Warned reports whether any check warned.
func (r *Report) Warned() bool { return r.Summary.Warn > 0 }

// Passed reports whether the report counts as passing: no failure, and no
// warning when strict.
func (r *Report) Passed(strict bool) bool { return !r.Failed() && !(strict && r.Warned()) }

// Change is one object whose live state differs from the render, as gatefed
// diff reports it.
type Change struct {
	// Op is "create" (rendered, not live), "update" (changed out of band) or
	// "delete" (an ApplySet member that is no longer rendered).
	Op        string
	Kind      string
	Namespace string
	Name      string
	// Detail says what changed, for example who changed it, when known.
	Detail string
}

// Differ compares one cluster's live objects with its rendered objects, the
// same comparison gatefed diff makes. Objects are in apply order. conn is
// the run's connection to the cluster, its resolved kinds and its lists,
// for the Differ to use instead of connecting again.
type Differ interface {
	Diff(ctx context.Context, c *fleet.Cluster, objects []*unstructured.Unstructured, conn *apply.Conn) ([]Change, error)
}

// Options steer a run.
type Options struct {
	// Clusters restricts the run to these clusters (default: all).
	Clusters []string
	// Exclude names checks not to run.
	Exclude []string
	// Timeout bounds each check on each cluster (default 10s).
	Timeout time.Duration
	// Kubeconfig is used for clusters whose Cluster document names none.
	Kubeconfig string
	// Sizing is the proxy memory model (zero fields take defaults).
	Sizing SizingModel
	// Differ computes drift; nil skips the drift check with a reason.
	Differ Differ
	// CertThreshold is how long before a failover certificate expires
	// failover-trust warns (default failovertls.DefaultThreshold).
	CertThreshold time.Duration
	// ProbeFailover makes failover-trust open mutual TLS through every
	// failover path from this host with the source's client certificate.
	ProbeFailover bool
	// WrapTransport, when set, wraps every cluster's HTTP transport (to
	// count requests, or to add a network's delay in benchmarks).
	WrapTransport func(cluster string, rt http.RoundTripper) http.RoundTripper
}

// DefaultTimeout bounds each check when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// InputError is bad input: the run did not start.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// Selected returns the checks that opts run, in order, or an InputError
// naming an unknown check.
func Selected(exclude []string) ([]string, error) {
	skip := map[string]bool{}
	for _, n := range exclude {
		for _, part := range strings.Split(n, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if !known(part) {
				return nil, inputErrorf("unknown check %q (checks: %s)", part, strings.Join(Names, ", "))
			}
			skip[part] = true
		}
	}
	var out []string
	for _, n := range Names {
		if !skip[n] {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, inputErrorf("every check is excluded; nothing to run")
	}
	return out, nil
}

func known(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}

// Run renders the fleet and runs the selected checks on every selected
// cluster. It returns an *InputError when the run cannot start (unknown
// check or cluster, a fleet that does not render); problems with clusters
// are findings.
func Run(ctx context.Context, f *fleet.Fleet, opts Options) (*Report, error) {
	r, err := newRunner(f, opts)
	if err != nil {
		return nil, err
	}
	return r.run(ctx), nil
}

// WaitInterval is the pause between runs of RunUntil.
const WaitInterval = 2 * time.Second

// RunUntil runs the checks again and again until the report passes (no
// failure; no warning either when strict) or wait is over, and returns the
// last report. Each attempt that does not pass is reported on progress.
func RunUntil(ctx context.Context, f *fleet.Fleet, opts Options, wait time.Duration, strict bool, progress io.Writer) (*Report, error) {
	r, err := newRunner(f, opts)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for attempt := 1; ; attempt++ {
		rep := r.run(ctx)
		left := time.Until(deadline)
		if rep.Passed(strict) || left <= 0 || ctx.Err() != nil {
			if attempt > 1 || !rep.Passed(strict) {
				fmt.Fprintf(progress, "check: attempt %d: %s\n", attempt, progressText(rep, strict))
			}
			return rep, nil
		}
		pause := min(WaitInterval, left)
		fmt.Fprintf(progress, "check: attempt %d: %s; again in %s (%s left)\n",
			attempt, progressText(rep, strict), pause.Round(time.Second), left.Round(time.Second))
		select {
		case <-ctx.Done():
			return rep, nil
		case <-time.After(pause):
		}
	}
}

// progressText says which checks keep the report from passing.
func progressText(rep *Report, strict bool) string {
	var failing []string
	for _, c := range rep.Clusters {
		for _, res := range c.Checks {
			if res.Status == Fail || (strict && res.Status == Warn) {
				failing = append(failing, c.Name+"/"+res.Name)
			}
		}
	}
	if len(failing) == 0 {
		return "everything passes"
	}
	return fmt.Sprintf("%d fail, %d warn (%s)", rep.Summary.Fail, rep.Summary.Warn, strings.Join(failing, ", "))
}

func newRunner(f *fleet.Fleet, opts Options) (*runner, error) {
	checks, err := Selected(opts.Exclude)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	opts.Sizing = opts.Sizing.withDefaults()
	if opts.CertThreshold <= 0 {
		opts.CertThreshold = failovertls.DefaultThreshold
	}
	res, err := render.Render(f, render.Options{Clusters: opts.Clusters})
	if err != nil {
		return nil, &InputError{Err: err}
	}
	return &runner{fleet: f, opts: opts, checks: checks, rendered: res}, nil
}

// runner holds what every cluster's checks share.
type runner struct {
	fleet    *fleet.Fleet
	opts     Options
	checks   []string
	rendered *render.Result

	inputsOnce sync.Once
	inputs     map[string]*render.ClusterInput
}

// input returns what the provider renders a cluster from (tiers of the
// services its routes use, services it serves), for any fleet cluster.
func (r *runner) input(c *fleet.Cluster) *render.ClusterInput {
	r.inputsOnce.Do(func() {
		r.inputs = map[string]*render.ClusterInput{}
		for _, fc := range r.fleet.Clusters {
			r.inputs[fc.Name()] = render.Input(r.fleet, fc, nil)
		}
	})
	return r.inputs[c.Name()]
}

func (r *runner) enabled(name string) bool {
	for _, n := range r.checks {
		if n == name {
			return true
		}
	}
	return false
}

func (r *runner) run(ctx context.Context) *Report {
	rep := &Report{Checks: r.checks, Warnings: r.rendered.Warnings}
	rep.Clusters = make([]*ClusterReport, len(r.rendered.Clusters))
	envs := make([]*clusterEnv, len(r.rendered.Clusters))
	var wg sync.WaitGroup
	for i, out := range r.rendered.Clusters {
		wg.Go(func() {
			env := newClusterEnv(r, out)
			envs[i] = env
			rep.Clusters[i] = r.runCluster(ctx, env)
		})
	}
	wg.Wait()
	if r.enabled(Connectivity) {
		versionSkew(rep, envs)
	}
	if r.enabled(Sizing) {
		rep.Summary.Sizing = fleetSizing(rep)
	}
	if r.enabled(FailoverTrust) {
		r.failoverPairs(ctx, rep, envs)
		rep.Summary.FailoverCAs = failoverCAs(envs)
	}
	rep.Summary.Clusters = len(rep.Clusters)
	rep.Summary.Status = Pass
	for _, c := range rep.Clusters {
		for _, res := range c.Checks {
			switch res.Status {
			case Pass:
				rep.Summary.Pass++
			case Warn:
				rep.Summary.Warn++
			case Fail:
				rep.Summary.Fail++
			case Skip:
				rep.Summary.Skip++
			}
			if worse(res.Status, rep.Summary.Status) {
				rep.Summary.Status = res.Status
			}
		}
	}
	return rep
}

// worse reports whether a is worse than b (skip counts as pass).
func worse(a, b Status) bool { return rank(a) > rank(b) }

func rank(s Status) int {
	switch s {
	case Warn:
		return 1
	case Fail:
		return 2
	}
	return 0
}

// checkFunc runs one check on one cluster, adding findings to res.
type checkFunc func(ctx context.Context, env *clusterEnv, res *result)

var checkFuncs = map[string]checkFunc{
	GatewayInstall:    checkGatewayInstall,
	ConfigStatus:      checkConfigStatus,
	Drift:             checkDrift,
	ServicePresence:   checkServicePresence,
	FailoverReadiness: checkFailoverReadiness,
	FailoverTrust:     checkFailoverTrust,
	Sizing:            checkSizing,
}

// needsAPI lists the checks that cannot say anything without the cluster's API.
var needsAPI = map[string]bool{
	GatewayInstall:  true,
	ConfigStatus:    true,
	Drift:           true,
	ServicePresence: true,
	FailoverTrust:   true,
}

// runCluster probes the API first (every other check needs its answer),
// then runs the other checks in parallel.
func (r *runner) runCluster(ctx context.Context, env *clusterEnv) *ClusterReport {
	rep := &ClusterReport{Name: env.cluster.Name()}
	// The probe writes env, so it is waited for even past the timeout (its
	// requests end with the context).
	conn := r.timed(ctx, Connectivity, true, func(ctx context.Context, res *result) { checkConnectivity(ctx, env, res) })
	results := make([]*Result, len(r.checks))
	var wg sync.WaitGroup
	for i, name := range r.checks {
		if name == Connectivity {
			results[i] = conn
			continue
		}
		wg.Go(func() {
			results[i] = r.timed(ctx, name, false, func(ctx context.Context, res *result) {
				if env.apiErr != nil && needsAPI[name] {
					if r.enabled(Connectivity) {
						res.skip("the cluster's API is unreachable (see connectivity)")
					} else {
						msg, hint := apiFailure(env)
						res.fail("cannot use the cluster's API: "+msg, hint)
					}
					return
				}
				checkFuncs[name](ctx, env, res)
			})
		})
	}
	wg.Wait()
	rep.Checks = results
	errors.As(env.apiErr, &rep.Rejected)
	return rep
}

// timed runs one check with the per-check timeout and turns its findings
// into a Result. Unless wait is set, a check still running when the time is
// up is left behind and reported as timed out.
func (r *runner) timed(ctx context.Context, name string, wait bool, f func(context.Context, *result)) *Result {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	res := &result{Result: Result{Name: name, Findings: []Finding{}}}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(ctx, res)
	}()
	finished := true
	if wait {
		<-done
	} else {
		select {
		case <-done:
		case <-ctx.Done():
			select {
			case <-done:
			default:
				finished = false
			}
		}
	}
	res.mu.Lock()
	defer res.mu.Unlock()
	if !finished {
		// A check still running must not hold the report: record the timeout.
		res.Findings = append(res.Findings, Finding{Severity: Failure,
			Message: fmt.Sprintf("the check did not finish within %s", r.opts.Timeout),
			Hint:    "raise --timeout, or find out why the cluster answers slowly"})
	}
	out := res.finish()
	out.DurationMS = time.Since(start).Milliseconds()
	return out
}

// result collects one check's findings; checks may add from several goroutines.
type result struct {
	mu sync.Mutex
	Result
}

func (r *result) add(f Finding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Findings = append(r.Findings, f)
}

func (r *result) info(msg string)         { r.add(Finding{Severity: Info, Message: msg}) }
func (r *result) warn(msg, hint string)   { r.add(Finding{Severity: Warning, Message: msg, Hint: hint}) }
func (r *result) fail(msg, hint string)   { r.add(Finding{Severity: Failure, Message: msg, Hint: hint}) }
func (r *result) objInfo(obj, msg string) { r.add(Finding{Severity: Info, Message: msg, Object: obj}) }
func (r *result) objWarn(obj, msg, hint string) {
	r.add(Finding{Severity: Warning, Message: msg, Hint: hint, Object: obj})
}
func (r *result) objFail(obj, msg, hint string) {
	r.add(Finding{Severity: Failure, Message: msg, Hint: hint, Object: obj})
}

// inParallel runs steps at once, each into a result of its own, then adds
// their findings to r in step order, so that the report stays deterministic.
func (r *result) inParallel(steps ...func(*result)) {
	subs := make([]*result, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		subs[i] = &result{}
		wg.Go(func() {
			step(subs[i])
		})
	}
	wg.Wait()
	for _, sub := range subs {
		for _, f := range sub.Findings {
			r.add(f)
		}
	}
}

// skip marks the check as not applicable, with the reason as an info finding.
func (r *result) skip(reason string) {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	r.info(reason)
}

func (r *result) setDetails(d any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Details = d
}

// finish computes the status from the findings: fail beats warn beats pass;
// a skipped check with no warning or failure is skip. Call with mu held or
// when no goroutine adds any more.
func (r *result) finish() *Result {
	out := r.Result
	out.Findings = append([]Finding(nil), r.Findings...)
	out.Status = Pass
	if r.skipped {
		out.Status = Skip
	}
	for _, f := range out.Findings {
		switch f.Severity {
		case Failure:
			out.Status = Fail
		case Warning:
			if out.Status != Fail {
				out.Status = Warn
			}
		}
	}
	sortFindings(out.Findings)
	return &out
}

// sortFindings puts failures first, then warnings, then info, keeping the
// order within each (checks add findings in a deterministic order, or sort them).
func sortFindings(fs []Finding) {
	sev := func(s Severity) int {
		switch s {
		case Failure:
			return 0
		case Warning:
			return 1
		}
		return 2
	}
	sort.SliceStable(fs, func(i, j int) bool { return sev(fs[i].Severity) < sev(fs[j].Severity) })
}

// objRef is "Kind namespace/name" or "Kind name".
func objRef(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// plural is "1 thing" or "n things".
func plural(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, fleet.Plural(n, one, many))
}
