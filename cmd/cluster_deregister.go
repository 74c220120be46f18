package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatefed/gatefed/internal/cluster"
)

// ClusterDeregisterOptions are the flags of gatefed cluster deregister.
type ClusterDeregisterOptions struct {
	*GlobalOptions
	File    string
	Purge   bool
	Context string
	Timeout time.Duration
}

func newClusterDeregisterCmd(g *GlobalOptions) *cobra.Command {
	o := &ClusterDeregisterOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "deregister NAME [--purge]",
		Short: "Remove a cluster's Cluster document, and with --purge what register created",
		Long: `Deregister removes the cluster's Cluster document from the fleet file it is in,
keeping every other byte of that file.

--purge first deletes, in the cluster, exactly the objects register
--service-account created — those labelled gatefed.dev/registration=NAME and
app.kubernetes.io/managed-by=gatefed: the ClusterRoleBinding, ClusterRole,
RoleBindings, Roles, token Secret and ServiceAccount, and namespace gatefed-system
when this registration created it and nothing else uses it — then the minted
kubeconfig $XDG_CONFIG_HOME/gatefed/clusters/NAME.kubeconfig. It connects with the
context register was run with (recorded in the document), or --context. When the
purge fails, the document is kept so that it can be retried.

` + exitStatusHelp,
		Example: `  gatefed cluster deregister us-east -f fleet/
  gatefed cluster deregister us-east -f fleet/ --purge
  gatefed cluster deregister us-east -f fleet/ --purge --context admin@us-east`,
		Args: clusterArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error { return o.Run(c.Context(), args[0]) },
	}
	f := c.Flags()
	f.StringVar(&o.File, "file", "", "fleet file that holds the Cluster document (default: found among -f)")
	f.BoolVar(&o.Purge, "purge", false, "also delete what register created in the cluster and the minted kubeconfig")
	f.StringVar(&o.Context, "context", "", "admin context for --purge (default: the one register was run with)")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Second, "how long --purge may take")
	return c
}

// Run deregisters the cluster and prints what was removed.
func (o *ClusterDeregisterOptions) Run(ctx context.Context, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := cluster.Deregister(ctx, cluster.DeregisterOptions{
		Name: name, FleetPaths: o.Filenames, File: o.File, Purge: o.Purge,
		Kubeconfig: o.Kubeconfig, Context: o.Context, Timeout: o.Timeout,
		CredentialsDir: credentialsDir(),
	})
	if res != nil {
		for _, d := range res.Deleted {
			fmt.Fprintf(o.IO.Out, "deleted %s\n", d)
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(o.IO.ErrOut, "Warning: %s\n", w)
		}
	}
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if o.Purge && len(res.Deleted) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "nothing in the cluster carried the label %s=%s\n", cluster.LabelRegistration, name)
	}
	if res.Credentials != "" {
		fmt.Fprintf(o.IO.Out, "removed %s\n", res.Credentials)
	}
	fmt.Fprintf(o.IO.Out, "deregistered cluster %s from %s\n", name, res.File)
	return nil
}
