package cmd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/cluster"
	"github.com/gatefed/gatefed/internal/provider"
)

func newClusterCmd(g *GlobalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "cluster",
		Short: "Register, list, show and deregister the fleet's clusters",
		Long: `The fleet's registry is its own Cluster documents, kept in git with the rest of
the fleet. Credentials stay in your kubeconfig; with register --service-account
gatefed mints a scoped service account and a kubeconfig of its own instead.

` + exitStatusHelp,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.AddCommand(newClusterRegisterCmd(g), newClusterListCmd(g), newClusterShowCmd(g), newClusterDeregisterCmd(g))
	return c
}

// credentialsDir is where minted service-account kubeconfigs go.
func credentialsDir() string { return filepath.Join(xdgConfigHome(), "gatefed", "clusters") }

// ClusterRegisterOptions are the flags of gatefed cluster register.
type ClusterRegisterOptions struct {
	*GlobalOptions
	// Register holds the flags cluster.Register takes as they are.
	Register cluster.RegisterOptions
	// Flags that keep what the document says unless given.
	Region, Zone, GatewayNamespace, GatewayName string

	changed func(string) bool
}

func newClusterRegisterCmd(g *GlobalOptions) *cobra.Command {
	o := &ClusterRegisterOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "register NAME --context CTX --provider " + strings.Join(provider.Names(), "|"),
		Short: "Add a cluster to the fleet, or update its Cluster document in place",
		Long: `Register connects to the cluster through a context of your kubeconfig (within
--timeout), reads its version, checks that the provider's CRDs exist (a missing
one is a warning naming it and how to install the gateway), and writes its Cluster
document: to clusters.yaml in the first -f directory (or the -f file, or --file).
Every other document, comment and key of that file is kept; registering the same
name again updates its document in place, where it is. Flags left out keep what
the document says; --label k=v sets a label and --label k- removes it.

Without --failover-address the failover address is discovered like Gloo
Federation does: the gateway's Service in the gateway namespace with a port named
"failover", at its load-balancer IP or hostname and that port (on istio clusters,
the Service of the ingress gateway pods, spec.gateway.selector, default
istio=ingressgateway, with a port named "failover" or its port 15443 named "tls",
as Istio's istio-ingressgateway has). When there is none,
the cluster is registered as no failover target, and register says so.

It also records what the installed gateway decides: on gloo clusters the gateway
proxy Service's IP families (spec.gateway.ipFamilies) and the gloo Deployment's
image tag (spec.gateway.version); on envoy-gateway clusters spec.gateway.strictTiers,
true when Envoy Gateway's configuration (ConfigMap envoy-gateway-system/
envoy-gateway-config) enables extensionApis.enableEnvoyPatchPolicy, left out when
it does not. What it cannot read it leaves as the document has it, with a note.

` + providersHelp() + `--gateway-namespace and --gateway-name change the default.

An API server that another Cluster document already names is refused (one
cluster, one name) unless --force. Bad input (an invalid name, an unknown context,
an unreadable kubeconfig, an unknown provider, a bad label) is reported before
anything is written.

--service-account creates, in the cluster, namespace gatefed-system, ServiceAccount
gatefed-NAME and least-privilege RBAC named gatefed:NAME (see docs/clusters.md),
gets a token through the TokenRequest API (valid for --token-ttl), writes a
kubeconfig for it to $XDG_CONFIG_HOME/gatefed/clusters/NAME.kubeconfig (mode 0600)
and points the document at it. Re-run it to rotate the token.

` + exitStatusHelp,
		Example: `  gatefed cluster register us-east --context kind-us-east --provider gloo --region us-east-1 --zone us-east-1a
  gatefed cluster register eu-west --context eu --provider envoy-gateway --failover-address eu.example.net:15443 --label env=prod
  gatefed cluster register mesh-east --context mesh --provider istio
  gatefed cluster register us-east --context kind-us-east --service-account --token-ttl 720h
  gatefed cluster register us-east --context kind-us-east --provider gloo --dry-run`,
		Args: clusterArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			o.changed = c.Flags().Changed
			return o.Run(c.Context(), args[0])
		},
	}
	f := c.Flags()
	f.StringVar(&o.Register.Context, "context", "", "kubeconfig context of the cluster (default: NAME)")
	f.StringVar(&o.Register.Provider, "provider", "", "gateway provider: "+strings.Join(provider.Names(), "|")+" (required for a new cluster)")
	f.StringVar(&o.Region, "region", "", "region, for locality failover")
	f.StringVar(&o.Zone, "zone", "", "zone within the region")
	f.StringVar(&o.GatewayNamespace, "gateway-namespace", "", "namespace of the gateway (default: the provider's, listed above)")
	f.StringVar(&o.GatewayName, "gateway-name", "", "name of the gateway (default: the provider's, listed above)")
	f.StringVar(&o.Register.FailoverAddress, "failover-address", "", "HOST[:PORT] other clusters fail over to (default: discovered from the gateway's Service)")
	f.StringArrayVar(&o.Register.Labels, "label", nil, "label k=v to set, or k- to remove (repeatable)")
	f.StringVar(&o.Register.File, "file", "", "file to write the Cluster document to (default: clusters.yaml in the first -f directory)")
	f.BoolVar(&o.Register.DryRun, "dry-run", false, "print the document (and what --service-account would create); write nothing")
	f.BoolVar(&o.Register.Force, "force", false, "register an API server that another Cluster document already names")
	f.BoolVar(&o.Register.Offline, "offline", false, "do not connect: no version, CRD or failover check (give --failover-address)")
	f.DurationVar(&o.Register.Timeout, "timeout", 10*time.Second, "how long to wait for the cluster")
	f.BoolVar(&o.Register.ServiceAccount, "service-account", false, "mint a scoped service account and a kubeconfig for gatefed (--service-account=false returns to your own context)")
	f.DurationVar(&o.Register.TokenTTL, "token-ttl", 8760*time.Hour, "lifetime of the service account's token")
	return c
}

// Run registers the cluster and prints what was done.
func (o *ClusterRegisterOptions) Run(ctx context.Context, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	opt := func(flag, value string) *string {
		if o.changed != nil && o.changed(flag) {
			return &value
		}
		return nil
	}
	ro := o.Register
	ro.Name, ro.Kubeconfig, ro.FleetPaths, ro.CredentialsDir = name, o.Kubeconfig, o.Filenames, credentialsDir()
	ro.Region, ro.Zone = opt("region", o.Region), opt("zone", o.Zone)
	ro.GatewayNamespace, ro.GatewayName = opt("gateway-namespace", o.GatewayNamespace), opt("gateway-name", o.GatewayName)
	ro.DropServiceAccount = !ro.ServiceAccount && o.changed != nil && o.changed("service-account")
	res, err := cluster.Register(ctx, ro)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	errOut := o.IO.ErrOut
	for _, w := range res.Warnings {
		fmt.Fprintf(errOut, "Warning: %s\n", w)
	}
	for _, n := range res.Notes {
		fmt.Fprintln(errOut, n)
	}
	verb := "updated"
	if res.Created {
		verb = "registered"
	}
	if ro.DryRun {
		fmt.Fprint(o.IO.Out, string(res.Document))
		fmt.Fprintf(errOut, "dry run: cluster %s would be %s in %s; nothing was written\n", name, verb, res.File)
		if len(res.Objects) > 0 {
			fmt.Fprintf(errOut, "--service-account would create or update in the cluster:\n")
			for _, obj := range res.Objects {
				fmt.Fprintf(errOut, "  %s\n", obj)
			}
			fmt.Fprintf(errOut, "and write %s\n", res.Credentials)
		}
		return nil
	}
	version := res.Version
	if version == "" {
		version = "not contacted"
	}
	fmt.Fprintf(o.IO.Out, "%s cluster %s in %s (context %s, server %s, %s)\n", verb, name, res.File, res.Context, res.Server, version)
	if res.Credentials != "" && len(res.Objects) > 0 {
		for _, obj := range res.Objects {
			fmt.Fprintf(o.IO.Out, "  applied %s\n", obj)
		}
		expires := "never expires"
		if !res.TokenExpires.IsZero() {
			expires = "expires " + res.TokenExpires.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(o.IO.Out, "service account %s/%s: kubeconfig %s (token %s)\n", cluster.SystemNamespace, cluster.ServiceAccountName(name), res.Credentials, expires)
	}
	return nil
}

// clusterArgs wants n positional arguments, named in the error.
func clusterArgs(n int, names string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return &exitError{code: ExitError, err: fmt.Errorf("%s takes %s (got %d arguments)\nRun '%s --help' for usage.", c.CommandPath(), names, len(args), c.CommandPath())}
		}
		return nil
	}
}
