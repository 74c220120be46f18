package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/check/applydiff"
)

// CheckOptions are the flags of gatefed check.
type CheckOptions struct {
	*GlobalOptions
	Exclude  []string
	Clusters []string
	Output   string
	Wait     time.Duration
	Strict   bool
	Timeout  time.Duration
	// CertWarnDays and FailoverProbe steer failover-trust.
	CertWarnDays  int
	FailoverProbe bool
	// certWarnDaysSet: the flag was given, so it beats the config key.
	certWarnDaysSet bool
}

func newCheckCmd(g *GlobalOptions) *cobra.Command {
	o := &CheckOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "check",
		Short: "Check every cluster's gateway: health, drift, failover readiness and sizing",
		Long: `Check runs named checks on every cluster of the fleet, clusters and checks in
parallel, each bounded by --timeout, and reports every finding with a hint:

  connectivity        the API answers; latency, server version, version skew in the fleet
  gateway-install     the provider's CRDs; Gloo's Deployments, the Envoy Gateway
                      GatewayClass and Gateway, or Istio's ingress gateway
                      Deployment are ready
  config-status       every object gatefed manages is accepted by its gateway
  drift               live objects against a fresh render (as gatefed diff)
  service-presence    each GlobalService's Service, port and ready endpoints
  failover-readiness  failover endpoints answer TCP and TLS from this host; the
                      failover port, Secrets (metadata only) and health signals
  failover-trust      the failover Secrets' certificates: validity (warning
                      --cert-warn-days before the end), key, usage, the SNIs
                      each target serves, trust on every source -> target
                      path, and a mutual-TLS request through each path from
                      this host with the source's client certificate
                      (--failover-probe=false turns it off)
  sizing              Envoy clusters, endpoints, routes, listeners; estimated proxy
                      and control-plane memory against the proxy's limit; replicas;
                      what happens to each service if the cluster were lost (N-1)

` + providersHelp() + `
The result is a grid of clusters by checks (pass, warn, fail, skip), then each
warning and failure with how to fix it. -o json gives
{"clusters":[{"name":..,"checks":[{"name":..,"status":..,"findings":[..]}]}],"summary":{..}}.
--wait runs the checks again until everything passes or the time is up,
reporting progress on stderr. The sizing model's constants can be set in the
config file under sizing (for example sizing.bytesPerCluster); docs/checks.md
lists them with their sources.

A failed check gives exit status 1; warnings do too with --strict. Bad input
(unknown check or cluster, an invalid fleet) gives 2, and so do credentials an
API server rejects (401: expired or revoked), each named on stderr with how to
renew it. The same holds with -o json.

` + exitStatusHelp,
		Example: `  gatefed check -f fleet/
  gatefed check -f fleet/ --cluster us-east -x sizing -x drift
  gatefed check -f fleet/ -o json --strict
  gatefed check -f fleet/ --wait 2m`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.certWarnDaysSet = c.Flags().Changed("cert-warn-days")
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringArrayVarP(&o.Exclude, "exclude", "x", nil, "do not run this check (repeatable; "+strings.Join(check.Names, ", ")+")")
	f.StringArrayVar(&o.Clusters, "cluster", nil, "check only this cluster (repeatable)")
	addOutputFlag(f, &o.Output, "table", "json")
	f.DurationVar(&o.Wait, "wait", 0, "run the checks again until everything passes or this much time has passed")
	f.BoolVar(&o.Strict, "strict", false, "warnings fail too (exit status 1)")
	f.DurationVar(&o.Timeout, "timeout", check.DefaultTimeout, "time limit of each check on each cluster")
	f.IntVar(&o.CertWarnDays, "cert-warn-days", defaultCertWarnDays, "failover-trust warns this many days before a failover certificate expires (config key check.certWarnDays)")
	f.BoolVar(&o.FailoverProbe, "failover-probe", true, "failover-trust sends a mutual-TLS health request through every failover path from this host")
	return c
}

// sizingModel reads the sizing model's overrides from the config file.
func (o *CheckOptions) sizingModel() check.SizingModel {
	v := o.Config()
	m := check.SizingModel{}
	if v == nil {
		return m
	}
	m.BytesPerCluster = v.GetInt64("sizing.bytesPerCluster")
	m.BytesPerHost = v.GetInt64("sizing.bytesPerHost")
	m.BytesPerHTTPListener = v.GetInt64("sizing.bytesPerHTTPListener")
	m.BytesPerTCPListener = v.GetInt64("sizing.bytesPerTCPListener")
	m.ProxyBaseBytes = v.GetInt64("sizing.proxyBaseBytes")
	m.ControlPlaneBaseBytes = v.GetInt64("sizing.controlPlaneBaseBytes")
	m.ControlPlaneBytesPerConfigByte = v.GetFloat64("sizing.controlPlaneBytesPerConfigByte")
	m.MemoryLimitRatio = v.GetFloat64("sizing.memoryLimitRatio")
	m.MinReplicas = v.GetInt32("sizing.minReplicas")
	return m
}

const defaultCertWarnDays = 30

// certThreshold is --cert-warn-days, else the config key check.certWarnDays, else 30 days.
func (o *CheckOptions) certThreshold() (time.Duration, error) {
	days := o.CertWarnDays
	if v := o.Config(); !o.certWarnDaysSet && v != nil && v.IsSet("check.certWarnDays") {
		days = v.GetInt("check.certWarnDays")
	}
	if days < 0 {
		return 0, fmt.Errorf("--cert-warn-days (or check.certWarnDays) must not be negative, not %d", days)
	}
	if days == 0 {
		return time.Nanosecond, nil
	}
	return time.Duration(days) * 24 * time.Hour, nil
}

// Run checks the fleet and prints the report.
func (o *CheckOptions) Run(ctx context.Context) error {
	if err := checkOutput(o.Output, "table", "json"); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return &exitError{code: ExitError, err: fmt.Errorf("--timeout must be positive, not %s", o.Timeout)}
	}
	if o.Wait < 0 {
		return &exitError{code: ExitError, err: fmt.Errorf("--wait must not be negative, not %s", o.Wait)}
	}
	if _, err := check.Selected(o.Exclude); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	threshold, err := o.certThreshold()
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	f, err := o.loadFleet()
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	opts := check.Options{
		Clusters:   o.Clusters,
		Exclude:    o.Exclude,
		Timeout:    o.Timeout,
		Kubeconfig: o.Kubeconfig,
		Sizing:     o.sizingModel(),
		Differ:     applydiff.Differ{Kubeconfig: o.Kubeconfig},

		CertThreshold: threshold,
		ProbeFailover: o.FailoverProbe,
	}
	var rep *check.Report
	if o.Wait > 0 {
		rep, err = check.RunUntil(ctx, f, opts, o.Wait, o.Strict, o.IO.ErrOut)
	} else {
		rep, err = check.Run(ctx, f, opts)
	}
	if err != nil {
		var ie *check.InputError
		if errors.As(err, &ie) {
			return &exitError{code: ExitError, err: ie.Err}
		}
		return &exitError{code: ExitError, err: err}
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(o.IO.ErrOut, "Warning: %s\n", w)
	}
	if o.Output == "json" {
		err = check.WriteJSON(o.IO.Out, rep)
	} else {
		err = check.WriteText(o.IO, rep)
	}
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	// Credentials the API server rejects are an error, not a finding:
	// nothing that needs the API could be checked there.
	rejected := false
	for _, c := range rep.Clusters {
		if c.Rejected != nil {
			fmt.Fprintf(o.IO.ErrOut, "Error: %s: %v\n", c.Name, c.Rejected)
			rejected = true
		}
	}
	if rejected {
		return silentError()
	}
	if !rep.Passed(o.Strict) {
		return found()
	}
	return nil
}
