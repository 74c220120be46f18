package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/failovercerts"
	"github.com/gatefed/gatefed/internal/failovertls"
)

func newFailoverCertsCmd(g *GlobalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "failover-certs",
		Short: "Issue the failover Secrets of every cluster from a CA you hold",
		Long: `Failover traffic between clusters is mutual TLS with two Secrets in each gateway
namespace: failover-upstream (the client certificate a cluster presents) and
failover-downstream (the certificate it serves failover traffic with). Each
holds tls.crt, tls.key and ca.crt. docs/failover-certificates.md has the contract.

` + exitStatusHelp,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.AddCommand(newFailoverCertsIssueCmd(g))
	return c
}

// FailoverCertsIssueOptions are the flags of gatefed failover-certs issue.
type FailoverCertsIssueOptions struct {
	*GlobalOptions
	CACert, CAKey string
	Clusters      []string
	Validity      time.Duration
	DryRun        bool
	Timeout       time.Duration
	Output        string
}

func newFailoverCertsIssueCmd(g *GlobalOptions) *cobra.Command {
	o := &FailoverCertsIssueOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "issue --ca-cert FILE --ca-key FILE",
		Short: "Issue and apply both failover Secrets of every cluster; run again to rotate",
		Long: `Issue signs, for every cluster of the fleet (or each --cluster), a client
certificate (CN the cluster's name, extended key usage clientAuth) and a serving
certificate (DNS names the SNIs of the services the cluster accepts failover
traffic for, serverAuth), each with a new ECDSA P-256 key, valid for --validity
(never past the CA's own end). It applies them server-side as the Secrets
failover-upstream and failover-downstream (type kubernetes.io/tls, ca.crt the
CA) in the cluster's gateway namespace. Running it again issues new keys: that
is rotation. Run it again, too, when services move: the serving certificates'
names follow them.

The CA's key is read into memory and used there; no key is printed, logged or
written anywhere but into the Secrets on the API server. --dry-run signs nothing
and lists each Secret's name, names and NotAfter.

Bad input (missing or unreadable files, a certificate that is not a CA, a key
that does not belong to it, an unknown cluster) gives exit status 2 before any
cluster is touched; so does a failed apply.

` + exitStatusHelp,
		Example: `  gatefed failover-certs issue -f fleet/ --ca-cert ca.crt --ca-key ca.key --dry-run
  gatefed failover-certs issue -f fleet/ --ca-cert ca.crt --ca-key ca.key
  gatefed failover-certs issue -f fleet/ --ca-cert ca.crt --ca-key ca.key --cluster us-east --validity 720h`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return o.Run(c.Context()) },
	}
	f := c.Flags()
	f.StringVar(&o.CACert, "ca-cert", "", "the CA's certificate, PEM (required)")
	f.StringVar(&o.CAKey, "ca-key", "", "the CA's private key, PEM, unencrypted (required)")
	f.StringArrayVar(&o.Clusters, "cluster", nil, "issue for this cluster only (repeatable)")
	f.DurationVar(&o.Validity, "validity", failovercerts.DefaultValidity, "how long the certificates are valid")
	f.BoolVar(&o.DryRun, "dry-run", false, "list what would be issued (names, DNS names, NotAfter); sign and apply nothing")
	f.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "time limit of the whole run")
	addOutputFlag(f, &o.Output, "table", "json").Usage += " (names, usage, DNS names, NotAfter; never data)"
	return c
}

// Run issues and applies the Secrets and prints one line per Secret.
func (o *FailoverCertsIssueOptions) Run(ctx context.Context) error {
	if err := checkOutput(o.Output, "table", "json"); err != nil {
		return err
	}
	if o.CACert == "" || o.CAKey == "" {
		return &exitError{code: ExitError, err: fmt.Errorf("--ca-cert and --ca-key are required")}
	}
	if o.Validity <= 0 {
		return &exitError{code: ExitError, err: fmt.Errorf("--validity must be positive, not %s", o.Validity)}
	}
	ca, err := o.authority()
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	f, err := o.loadFleet()
	if err != nil {
		return err
	}
	wants, err := failovercerts.Plan(f, o.Clusters)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	res, err := failovercerts.Issue(ctx, f, wants, ca, failovercerts.Options{Validity: o.Validity, DryRun: o.DryRun, Kubeconfig: o.Kubeconfig})
	if perr := o.print(res); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	return nil
}

func (o *FailoverCertsIssueOptions) print(res []failovercerts.Result) error {
	if o.Output == "json" {
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		if res == nil {
			res = []failovercerts.Result{}
		}
		return enc.Encode(map[string]any{"secrets": res})
	}
	for _, r := range res {
		fmt.Fprintln(o.IO.Out, r)
	}
	return nil
}

// authority reads the CA; errors name the file, never its content.
func (o *FailoverCertsIssueOptions) authority() (*failovertls.Authority, error) {
	certPEM, err := os.ReadFile(o.CACert)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(o.CAKey)
	if err != nil {
		return nil, fmt.Errorf("--ca-key: %w", err)
	}
	return failovertls.LoadAuthority(certPEM, keyPEM, o.CACert, o.CAKey)
}
