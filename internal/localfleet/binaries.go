// Package localfleet runs a local fleet of real Kubernetes API servers: one
// etcd, and per cluster a kube-apiserver with its own CA, client-certificate
// admin, service-account keys and etcd prefix, with CRDs installed: the
// Gateway API's (package crds) and those each registered provider's
// descriptor holds (see CRDSet). No controllers run;
// sim.go writes what they would write. `gatefed demo` runs it; the tests run
// it through the test-only package internal/testfleet.
//
// Binaries come from hack/build-kube.sh --demo (make kube-bins-demo); see docs/testing.md.
package localfleet

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Pinned versions; they match hack/kube/go.mod and hack/etcd/go.mod.
const (
	KubeVersion = "v1.37.2"
	EtcdVersion = "v3.6.16"
)

// Environment variables that override where things are.
const (
	EnvCache       = "GATEFED_CACHE"        // cache root (default $XDG_CACHE_HOME/gatefed)
	EnvKubeBinDir  = "GATEFED_KUBE_BIN_DIR" // directory with kube-apiserver and kubectl
	EnvEtcdBin     = "GATEFED_ETCD_BIN"     // path of etcd
	EnvRoot        = "GATEFED_ROOT"         // repository root (default: found from the working directory)
	modulePath     = "github.com/gatefed/gatefed"
	buildScript    = "hack/build-kube.sh"
	kubeAPIServer  = "kube-apiserver"
	kubectlBinName = "kubectl"
)

// CacheDir is the root of the binary cache.
func CacheDir() string {
	if d := os.Getenv(EnvCache); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "gatefed")
}

// KubeBinDir is the directory holding kube-apiserver and kubectl.
func KubeBinDir() string {
	if d := os.Getenv(EnvKubeBinDir); d != "" {
		return d
	}
	return filepath.Join(CacheDir(), "kube", KubeVersion)
}

// EtcdBin is the path of the etcd binary.
func EtcdBin() string {
	if p := os.Getenv(EnvEtcdBin); p != "" {
		return p
	}
	return filepath.Join(CacheDir(), "etcd", EtcdVersion, "etcd")
}

// APIServerBin is the path of kube-apiserver.
func APIServerBin() string { return filepath.Join(KubeBinDir(), kubeAPIServer) }

// KubectlBin is the path of kubectl.
func KubectlBin() string { return filepath.Join(KubeBinDir(), kubectlBinName) }

// ErrMissingBinary is wrapped by CheckBinaries' error.
var ErrMissingBinary = errors.New("missing binaries")

// DemoBuildArgs are the build script's arguments that build only what a
// local fleet runs: kube-apiserver, kubectl and etcd.
var DemoBuildArgs = []string{"--demo"}

// CheckBinaries reports a missing kube-apiserver, kubectl or etcd with the
// exact command that builds them.
func CheckBinaries() error {
	return MissingBinaries(EnvKubeBinDir+" and "+EnvEtcdBin, "make kube-bins-demo", DemoBuildArgs,
		Binary{kubeAPIServer, APIServerBin()}, Binary{kubectlBinName, KubectlBin()}, Binary{"etcd", EtcdBin()})
}

// Binary is a program a fleet runs and where it is looked for.
type Binary struct{ Name, Path string }

// MissingBinaries names each of bins that is missing and how to build it:
// the build script with args (or makeGoal) in the source tree, or where to
// get one; envs are the variables that point elsewhere. Nil when none is.
func MissingBinaries(envs, makeGoal string, args []string, bins ...Binary) error {
	var missing []string
	for _, b := range bins {
		if st, err := os.Stat(b.Path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, "  "+b.Name+"  (want "+b.Path+")")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	script := strings.Join(append([]string{buildScript}, args...), " ")
	how := fmt.Sprintf("in a gatefed source tree (a clone of %s; it needs Go only): %s   (or: %s)", modulePath, script, makeGoal)
	if root, err := RepoRoot(); err == nil {
		how = fmt.Sprintf("cd %s && %s   (or: %s)", root, script, makeGoal)
	}
	return fmt.Errorf("%w:\n%s\nbuild them with:\n  %s\nor point %s at existing binaries",
		ErrMissingBinary, strings.Join(missing, "\n"), how, envs)
}

// BuildScript is the path of the script that builds the binaries.
func BuildScript() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, buildScript), nil
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot finds the repository root: $GATEFED_ROOT, else the nearest
// directory above the working directory, else above the running executable
// (bin/gatefed), whose go.mod declares the gatefed module.
func RepoRoot() (string, error) {
	rootOnce.Do(func() { rootDir, rootErr = findRoot() })
	return rootDir, rootErr
}

func findRoot() (string, error) {
	if d := os.Getenv(EnvRoot); d != "" {
		return filepath.Abs(d)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			if moduleOf(filepath.Join(dir, "go.mod")) == modulePath {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("no gatefed source tree above the working directory or the gatefed binary: hack/build-kube.sh builds the binaries from it; run from the repository or set %s", EnvRoot)
}

func moduleOf(goMod string) string {
	f, err := os.Open(goMod)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
