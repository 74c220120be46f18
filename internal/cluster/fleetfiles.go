package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gatefed/gatefed/internal/fleet"
)

// fleetFiles is what register and deregister need from the fleet's files:
// read leniently, so that they work on a fleet that does not validate yet.
type fleetFiles struct {
	Files []*yamlFile
	// ServiceNamespaces are the namespaces of the fleet's GlobalServices.
	ServiceNamespaces []string
	// TLSSecrets are the Secret names of the fleet's GlobalRoutes with tls.
	TLSSecrets []string
}

// clusterDoc is one Cluster document found in the fleet's files.
type clusterDoc struct {
	File *yamlFile
	Doc  *yamlDoc
	Name string
}

// Cluster returns the spec fields register and the duplicate check need.
func (c clusterDoc) Cluster() *fleet.Cluster {
	root := c.Doc.Root()
	var failover *fleet.ClusterFailover
	if fo := lookup(root, "spec", "failover"); fo != nil && fo.Kind == yaml.MappingNode {
		port, _ := strconv.Atoi(scalarAt(fo, "port"))
		failover = &fleet.ClusterFailover{Address: scalarAt(fo, "address"), Port: int32(port)}
	}
	return &fleet.Cluster{
		TypeMeta: fleet.TypeMeta{APIVersion: fleet.APIVersion, Kind: fleet.KindCluster},
		Metadata: fleet.ObjectMeta{
			Name:        c.Name,
			Labels:      stringMapAt(root, "metadata", "labels"),
			Annotations: stringMapAt(root, "metadata", "annotations"),
		},
		Spec: fleet.ClusterSpec{
			Kubeconfig: scalarAt(root, "spec", "kubeconfig"),
			Context:    scalarAt(root, "spec", "context"),
			Region:     scalarAt(root, "spec", "region"),
			Zone:       scalarAt(root, "spec", "zone"),
			Gateway: fleet.GatewaySpec{
				Provider:  scalarAt(root, "spec", "gateway", "provider"),
				Namespace: scalarAt(root, "spec", "gateway", "namespace"),
				Name:      scalarAt(root, "spec", "gateway", "name"),
				Selector:  stringMapAt(root, "spec", "gateway", "selector"),
			},
			Failover: failover,
		},
	}
}

// readFleetFiles reads every YAML file the fleet paths name. Missing paths
// and stdin are skipped: register may be building a new fleet.
func readFleetFiles(paths []string) (*fleetFiles, error) {
	files, err := expandPaths(paths)
	if err != nil {
		return nil, err
	}
	ff := &fleetFiles{}
	namespaces, tlsSecrets := map[string]bool{}, map[string]bool{}
	for _, p := range files {
		f, err := readYAMLFile(p)
		if err != nil {
			return nil, err
		}
		ff.Files = append(ff.Files, f)
		for _, d := range f.Docs {
			root := d.Root()
			if root != nil && scalarAt(root, "kind") == fleet.KindGlobalRoute {
				if name := scalarAt(root, "spec", "tls", "secretName"); name != "" {
					tlsSecrets[name] = true
				}
			}
			if root == nil || scalarAt(root, "kind") != fleet.KindGlobalService {
				continue
			}
			ns := scalarAt(root, "metadata", "namespace")
			if ns == "" {
				ns = fleet.DefaultNamespace
			}
			namespaces[ns] = true
		}
	}
	ff.ServiceNamespaces = sortedKeys(namespaces)
	ff.TLSSecrets = sortedKeys(tlsSecrets)
	return ff, nil
}

// clusters lists every Cluster document.
func (ff *fleetFiles) clusters() []clusterDoc {
	var out []clusterDoc
	for _, f := range ff.Files {
		for _, d := range f.Docs {
			if name, ok := d.clusterName(); ok {
				out = append(out, clusterDoc{File: f, Doc: d, Name: name})
			}
		}
	}
	return out
}

// find returns the Cluster document named name; two of them are an error.
func (ff *fleetFiles) find(name string) (*clusterDoc, error) {
	var found []clusterDoc
	for _, c := range ff.clusters() {
		if c.Name == name {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return &found[0], nil
	}
	var where []string
	for _, c := range found {
		where = append(where, fmt.Sprintf("%s:%d", c.File.Path, c.Doc.Line()))
	}
	return nil, fmt.Errorf("cluster %q is defined more than once (%s); remove all but one", name, strings.Join(where, ", "))
}

// fileFor returns the already-read file at path, or reads it.
func (ff *fleetFiles) fileFor(path string) (*yamlFile, error) {
	for _, f := range ff.Files {
		if samePath(f.Path, path) {
			return f, nil
		}
	}
	return readYAMLFile(path)
}

// expandPaths lists the YAML files of files and directories like the fleet
// loader, leaving out stdin and paths that do not exist yet.
func expandPaths(paths []string) ([]string, error) {
	var existing []string
	for _, p := range paths {
		if p == "-" {
			continue
		}
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		existing = append(existing, p)
	}
	return fleet.Files(existing)
}

// defaultTarget is the file register writes a new Cluster document to:
// --file, else clusters.yaml in the first fleet directory, else the first
// fleet file.
func defaultTarget(paths []string, file string) (string, error) {
	if file != "" {
		return file, nil
	}
	return fleet.TargetFile(paths, DefaultFileName)
}

func samePath(a, b string) bool {
	if a == b {
		return true
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 != nil || err2 != nil {
		return false
	}
	if aa == bb {
		return true
	}
	sa, err1 := os.Stat(aa)
	sb, err2 := os.Stat(bb)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
