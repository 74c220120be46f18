// Package cmd holds gatefed's cobra commands. Commands only parse flags, call
// internal packages with plain option structs, and print.
package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"k8s.io/klog/v2"

	"github.com/gatefed/gatefed/internal/iostreams"
	"github.com/gatefed/gatefed/internal/providers"
)

// Set by ldflags at release time.
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// Exit statuses: the same in every command and output mode.
const (
	ExitOK    = 0 // success
	ExitFound = 1 // the command ran and found something (changes pending, a failed check, an outage)
	ExitError = 2 // error: bad input, unreachable cluster, failed apply
)

const exitStatusHelp = `Exit status:
  0  success
  1  the command ran and found something (diff: changes pending; check: a failure; explain: an outage)
  2  error: bad input, unreachable cluster, failed apply`

// exitError carries an exit status out of a command. A nil err means the
// command already printed what it found.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// found ends a command with status 1 without printing an error.
func found() error { return &exitError{code: ExitFound} }

// silentError ends a command with status 2 after it printed its own errors.
func silentError() error { return &exitError{code: ExitError} }

// GlobalOptions are the flags every command shares.
type GlobalOptions struct {
	IO         *iostreams.IOStreams
	Filenames  []string
	Kubeconfig string
	NoColor    bool
	ConfigFile string

	v *viper.Viper
}

// Config returns the loaded configuration (file, GATEFED_ environment, flags).
func (g *GlobalOptions) Config() *viper.Viper { return g.v }

// Main runs gatefed with args and returns the exit status.
func Main(args []string, streams *iostreams.IOStreams) int {
	// client-go logs some failures it also returns (a discovery request that
	// failed, an answer that broke off) to stderr through klog; gatefed
	// reports every failure itself, once, naming the cluster.
	klog.SetLogger(logr.Discard())
	root := NewRootCmd(streams)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(streams.ErrOut, "Error: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
	return ExitError
}

// NewRootCmd registers the gateway providers and builds the command tree.
func NewRootCmd(streams *iostreams.IOStreams) *cobra.Command {
	providers.Register()
	g := &GlobalOptions{IO: streams, v: viper.New()}
	root := &cobra.Command{
		Use:   "gatefed",
		Short: "Run one API-gateway configuration across a fleet of Kubernetes clusters",
		Long: `gatefed declares global services and routes once, renders them into per-cluster
gateway manifests for each cluster's provider, and diffs, applies and checks them
across a fleet; clusters of different providers fail over into each other.

` + providersHelp() + `
A first fleet: gatefed init writes a commented starter fleet; gatefed demo runs
a local one.

` + exitStatusHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			return g.complete(c)
		},
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetIn(streams.In)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: ExitError, err: fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})

	pf := root.PersistentFlags()
	pf.StringArrayVarP(&g.Filenames, "filename", "f", nil, "fleet file, directory (read recursively for *.yaml/*.yml) or - for stdin; repeatable (default: config key fleet, else .)")
	pf.StringVar(&g.Kubeconfig, "kubeconfig", "", "kubeconfig for clusters whose Cluster document names none (default $KUBECONFIG, then ~/.kube/config)")
	pf.BoolVar(&g.NoColor, "no-color", false, "never colour output (NO_COLOR is honoured too)")
	pf.StringVar(&g.ConfigFile, "config", "", "config file (default $XDG_CONFIG_HOME/gatefed/config.yaml; a missing file is fine)")

	root.AddCommand(
		newVersionCmd(g),
		newCompletionCmd(),
		newApplyCmd(g),
		newCheckCmd(g),
		newClusterCmd(g),
		newDemoCmd(g),
		newDiffCmd(g),
		newExplainCmd(g),
		newFailoverCertsCmd(g),
		newInitCmd(g),
		newRenderCmd(g),
		newValidateCmd(g),
	)
	return root
}

// complete reads the config file and environment, and fills defaults.
func (g *GlobalOptions) complete(c *cobra.Command) error {
	v := g.v
	v.SetEnvPrefix("GATEFED")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	path := g.ConfigFile
	explicit := path != ""
	if !explicit {
		path = filepath.Join(xdgConfigHome(), "gatefed", "config.yaml")
	}
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		var notFound viper.ConfigFileNotFoundError
		if explicit || !(errors.As(err, &notFound) || errors.Is(err, os.ErrNotExist)) {
			return &exitError{code: ExitError, err: fmt.Errorf("config %s: %w", path, err)}
		}
	}
	if len(g.Filenames) == 0 {
		g.Filenames = v.GetStringSlice("fleet")
		if len(g.Filenames) == 0 {
			g.Filenames = []string{"."}
		}
	}
	if g.Kubeconfig == "" {
		g.Kubeconfig = v.GetString("kubeconfig")
	}
	if !c.Flags().Changed("no-color") && v.GetBool("no-color") {
		g.NoColor = true
	}
	if g.NoColor {
		g.IO.NoColor = true
	}
	return nil
}

func xdgConfigHome() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config")
}

// VersionOptions are the flags of gatefed version.
type VersionOptions struct {
	*GlobalOptions
	Output string
}

func newVersionCmd(g *GlobalOptions) *cobra.Command {
	o := &VersionOptions{GlobalOptions: g}
	c := &cobra.Command{
		Use:   "version",
		Short: "Print gatefed's version",
		Long:  "Print gatefed's version, commit and build date (-o json for scripts).\n\n" + exitStatusHelp,
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return o.Run(c.Context()) },
	}
	addOutputFlag(c.Flags(), &o.Output, "text", "json")
	return c
}

// Run prints the version.
func (o *VersionOptions) Run(context.Context) error {
	if err := checkOutput(o.Output, "text", "json"); err != nil {
		return err
	}
	if o.Output == "json" {
		b, _ := json.Marshal(map[string]string{"version": version, "commit": commit, "date": date})
		fmt.Fprintln(o.IO.Out, string(b))
		return nil
	}
	fmt.Fprintf(o.IO.Out, "gatefed %s (commit %s, built %s)\n", version, commit, date)
	return nil
}

func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish|powershell",
		Short:     "Print a shell completion script",
		Long:      "Print a completion script for the shell; for example: source <(gatefed completion bash)\n\n" + exitStatusHelp,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(c *cobra.Command, args []string) error {
			root, out := c.Root(), c.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return &exitError{code: ExitError, err: fmt.Errorf("unknown shell %q: use bash, zsh, fish or powershell", args[0])}
		},
	}
}
