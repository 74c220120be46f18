// Command crds derives the CustomResourceDefinitions a local fleet installs,
// embedded in gatefed beside their owners, from their sources:
//
//	gloo           ../shared/crds/gloo (the reference copy beside the repository): Gloo 1.22.0,
//	               the newest Gloo gatefed supports; into internal/render/gloo/crds
//	gloo-1.17      install/helm/gloo/crds of github.com/solo-io/gloo at tag v1.17.0 (-gloo-oldest):
//	               the oldest Gloo gatefed supports, for tests; into internal/render/gloo/testdata/crds-1.17
//	gateway-api    sigs.k8s.io/gateway-api config/crd/experimental (the go.mod pin), shared by the
//	               providers built on it; into internal/localfleet/crds/gateway-api
//	envoy-gateway  github.com/envoyproxy/gateway charts/gateway-crds-helm/templates/generated;
//	               into internal/render/envoygateway/crds
//
// Each CRD keeps its names, versions, printer columns and schema (structure,
// field names, types, formats, enums, required lists, defaults, validation
// rules and x-kubernetes-* markers) and loses every description.
//
//	go run ./hack/crds            write each family's *.yaml into its directory
//	go run ./hack/crds -check     exit 1 when a file differs from its source
//	go run ./hack/crds -gloo DIR  read the Gloo CRDs from DIR
//	go run ./hack/crds -gloo-oldest DIR  read the oldest Gloo's CRDs from DIR
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/localfleet"
)

// family is one directory of derived CRDs and where its sources are.
type family struct {
	name string
	// dir is where its derived CRDs live, relative to the repository root:
	// a provider's own in its package, the shared Gateway API's in the
	// local fleet's.
	dir string
	// source returns the directory of the upstream YAML and how the
	// derived files name it.
	source func(root string, dirs sourceDirs) (dir, label string, err error)
	// optional: the source may be absent (a clone has no ../shared).
	optional bool
}

// sourceDirs are the source directories given on the command line.
type sourceDirs struct {
	gloo, glooOldest string
}

var families = []family{
	{name: "gateway-api", dir: "internal/localfleet/crds/gateway-api", source: moduleSource("sigs.k8s.io/gateway-api", "config/crd/experimental")},
	{name: "envoy-gateway", dir: "internal/render/envoygateway/crds", source: moduleSource("github.com/envoyproxy/gateway", "charts/gateway-crds-helm/templates/generated")},
	{name: "gloo", dir: "internal/render/gloo/crds", source: glooSource, optional: true},
	{name: "gloo-1.17", dir: "internal/render/gloo/testdata/crds-1.17", source: glooOldestSource, optional: true},
}

func glooSource(root string, dirs sourceDirs) (string, string, error) {
	if dirs.gloo != "" {
		return dirs.gloo, "../shared/crds/gloo", nil
	}
	return filepath.Join(root, "..", "shared", "crds", "gloo"), "../shared/crds/gloo", nil
}

// glooOldestSource is a directory holding the five CRDs gatefed renders
// (gloo.solo.io_v1_Upstream.yaml, ...) from install/helm/gloo/crds of
// github.com/solo-io/gloo at tag v1.17.0.
func glooOldestSource(root string, dirs sourceDirs) (string, string, error) {
	const label = "github.com/solo-io/gloo@v1.17.0 install/helm/gloo/crds"
	if dirs.glooOldest == "" {
		return filepath.Join(root, "..", "shared", "crds", "gloo-1.17"), label, nil
	}
	return dirs.glooOldest, label, nil
}

func moduleSource(module, sub string) func(root string, dirs sourceDirs) (string, string, error) {
	return func(root string, _ sourceDirs) (string, string, error) {
		dir, version, err := moduleDir(root, module)
		if err != nil {
			return "", "", err
		}
		return filepath.Join(dir, filepath.FromSlash(sub)), module + "@" + version + " " + sub, nil
	}
}

func main() {
	check := flag.Bool("check", false, "compare instead of write; exit 1 on a difference")
	var dirs sourceDirs
	flag.StringVar(&dirs.gloo, "gloo", "", "directory of the Gloo Edge CRDs (default ../shared/crds/gloo)")
	flag.StringVar(&dirs.glooOldest, "gloo-oldest", "", "directory of the oldest supported Gloo Edge's CRDs (v1.17.0; default ../shared/crds/gloo-1.17)")
	flag.Parse()
	root, err := repoRoot()
	if err == nil {
		err = run(os.Stdout, root, dirs, *check)
	}
	if errors.Is(err, errDiffers) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
}

var errDiffers = errors.New("derived CRDs differ from their sources; run: go run ./hack/crds")

func run(out io.Writer, root string, dirs sourceDirs, check bool) error {
	var differ []string
	for _, f := range families {
		src, label, err := f.source(root, dirs)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if _, err := os.Stat(src); f.optional && errors.Is(err, os.ErrNotExist) {
			if !check {
				fmt.Fprintf(out, "%s: kept as it is: %s is absent\n", f.name, src)
				continue
			}
			fmt.Fprintf(out, "%s: compared nothing: %s is absent\n", f.name, src)
			continue
		}
		want, err := derive(src, label)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		dir := filepath.Join(root, filepath.FromSlash(f.dir))
		if check {
			d, err := compare(dir, want)
			if err != nil {
				return err
			}
			differ = append(differ, d...)
			fmt.Fprintf(out, "%s: compared %d CRDs with %s, %d differ\n", f.name, len(want), src, len(d))
			continue
		}
		if err := write(dir, want); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: wrote %d CRDs from %s into %s\n", f.name, len(want), src, dir)
	}
	if len(differ) > 0 {
		return fmt.Errorf("%w\n  %s", errDiffers, strings.Join(differ, "\n  "))
	}
	return nil
}

// derive reads every CustomResourceDefinition in src/*.yaml and returns the
// derived files by name (<crd name>.yaml).
func derive(src, label string) (map[string][]byte, error) {
	files, err := filepath.Glob(filepath.Join(src, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml files in %s", src)
	}
	sort.Strings(files)
	out := map[string][]byte{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		crds, err := localfleet.DecodeCRDs(stripTemplateLines(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, crd := range crds {
			text, err := marshal(crd, label+"/"+filepath.Base(file))
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", file, crd.Name, err)
			}
			out[crd.Name+".yaml"] = text
		}
	}
	return out, nil
}

// stripTemplateLines drops lines that are only a helm template action ({{ ... }}).
func stripTemplateLines(data []byte) []byte {
	var b bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if bytes.HasPrefix(t, []byte("{{")) && bytes.HasSuffix(t, []byte("}}")) {
			continue
		}
		b.Write(line)
	}
	return b.Bytes()
}

// marshal writes the CRD without descriptions, status or creation time.
func marshal(crd *apiextv1.CustomResourceDefinition, source string) ([]byte, error) {
	crd = crd.DeepCopy()
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		if v.Schema != nil {
			stripDescriptions(v.Schema.OpenAPIV3Schema)
		}
		for j := range v.AdditionalPrinterColumns {
			v.AdditionalPrinterColumns[j].Description = ""
		}
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
	if err != nil {
		return nil, err
	}
	delete(obj, "status")
	if meta, ok := obj["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	body, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	header := "# Derived by hack/crds from " + source + " (descriptions dropped). Do not edit.\n"
	return append([]byte(header), body...), nil
}

// stripDescriptions clears the description of s and of every schema under it.
func stripDescriptions(s *apiextv1.JSONSchemaProps) {
	if s == nil {
		return
	}
	s.Description = ""
	for _, m := range []map[string]apiextv1.JSONSchemaProps{s.Properties, s.PatternProperties, s.Definitions} {
		for k, p := range m {
			stripDescriptions(&p)
			m[k] = p
		}
	}
	for _, l := range [][]apiextv1.JSONSchemaProps{s.AllOf, s.OneOf, s.AnyOf} {
		for i := range l {
			stripDescriptions(&l[i])
		}
	}
	stripDescriptions(s.Not)
	if s.Items != nil {
		stripDescriptions(s.Items.Schema)
		for i := range s.Items.JSONSchemas {
			stripDescriptions(&s.Items.JSONSchemas[i])
		}
	}
	for _, b := range []*apiextv1.JSONSchemaPropsOrBool{s.AdditionalProperties, s.AdditionalItems} {
		if b != nil {
			stripDescriptions(b.Schema)
		}
	}
	for k, d := range s.Dependencies {
		stripDescriptions(d.Schema)
		s.Dependencies[k] = d
	}
}

// write replaces dir's *.yaml files with files.
func write(dir string, files map[string][]byte) error {
	old, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// compare lists the files of dir that differ from want, are missing or are extra.
func compare(dir string, want map[string][]byte) ([]string, error) {
	have, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range have {
		name := filepath.Base(f)
		seen[name] = true
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if w, ok := want[name]; !ok {
			out = append(out, f+": not derived from any source")
		} else if !bytes.Equal(data, w) {
			out = append(out, f+": differs from its source")
		}
	}
	for name := range want {
		if !seen[name] {
			out = append(out, filepath.Join(dir, name)+": missing")
		}
	}
	sort.Strings(out)
	return out, nil
}

// repoRoot is the directory of the go.mod the go command uses here.
func repoRoot() (string, error) {
	gomod, err := goCmd("", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from the gatefed repository (no go.mod here)")
	}
	return filepath.Dir(gomod), nil
}

// moduleDir returns the module-cache directory and version of a module the
// gatefed module requires, downloading it when it is not there yet.
func moduleDir(root, module string) (dir, version string, err error) {
	line, err := goCmd(root, "list", "-m", "-f", "{{.Dir}} {{.Version}}", module)
	if err == nil && strings.HasPrefix(line, " ") {
		if _, err = goCmd(root, "mod", "download", module); err == nil {
			line, err = goCmd(root, "list", "-m", "-f", "{{.Dir}} {{.Version}}", module)
		}
	}
	if err != nil {
		return "", "", err
	}
	dir, version, _ = strings.Cut(line, " ")
	if dir == "" {
		return "", "", fmt.Errorf("module %s has no directory in the module cache", module)
	}
	return dir, version, nil
}

func goCmd(dir string, args ...string) (string, error) {
	c := exec.Command("go", args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
