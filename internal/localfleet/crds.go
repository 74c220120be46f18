package localfleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/gatefed/gatefed/internal/localfleet/crds"
	"github.com/gatefed/gatefed/internal/provider"
)

// CRDSet names the CRD families a cluster installs, sorted and joined by
// commas ("cert-manager,gateway-api"). A family is GatewayAPI, CertManager
// or the name of a registered provider whose descriptor holds its CRDs
// (provider.Install.CRDManifests or CRDModule). The zero value is
// DefaultCRDs; NoCRDs is none.
type CRDSet string

// CRD families shared by providers, or of no provider.
const (
	// GatewayAPI: sigs.k8s.io/gateway-api config/crd/experimental (a
	// superset of the standard channel), embedded in package crds.
	GatewayAPI = "gateway-api"
	// CertManager: github.com/cert-manager/cert-manager deploy/crds
	// (Certificate, CertificateRequest, Issuer, ClusterIssuer), fetched
	// once into the cache. Not in DefaultCRDs: a fleet asks for it.
	CertManager = "cert-manager"
)

// NoCRDs installs no CRDs.
const NoCRDs CRDSet = "none"

// Families is the set of the named families (NoCRDs for none).
func Families(names ...string) CRDSet {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return NoCRDs
	}
	sort.Strings(out)
	return CRDSet(strings.Join(out, ","))
}

// DefaultCRDs is the Gateway API and every registered provider that embeds
// its CRD manifests.
func DefaultCRDs() CRDSet {
	embedded := provider.NamesWhere(func(d *provider.Descriptor) bool { return d.Install.CRDManifests != nil })
	return Families(append([]string{GatewayAPI}, embedded...)...)
}

// With is s and the named families.
func (s CRDSet) With(names ...string) CRDSet { return Families(append(s.Names(), names...)...) }

// or returns s, or def when s is zero, or DefaultCRDs when both are.
func (s CRDSet) or(def CRDSet) CRDSet {
	if s == "" {
		s = def
	}
	if s == "" {
		return DefaultCRDs()
	}
	return s
}

// Names lists the families, for example [cert-manager gateway-api].
func (s CRDSet) Names() []string {
	if s = s.or(""); s == NoCRDs {
		return nil
	}
	return strings.Split(string(s), ",")
}

// Has reports whether every named family is in s.
func (s CRDSet) Has(names ...string) bool {
	have := s.Names()
	for _, n := range names {
		if !slices.Contains(have, n) {
			return false
		}
	}
	return true
}

func (s CRDSet) String() string { return string(s.or("")) }

// CRDDirEnv is the environment variable naming a directory whose *.yaml
// CRDs a fleet installs instead of a family's own: GATEFED_<FAMILY>_CRD_DIR,
// the family's name in upper case with "_" for "-". A test installs another
// gateway version's CRDs through it.
func CRDDirEnv(family string) string {
	return "GATEFED_" + strings.ToUpper(strings.ReplaceAll(family, "-", "_")) + "_CRD_DIR"
}

var (
	crdCacheMu sync.Mutex
	crdCache   = map[crdCacheKey][]*apiextv1.CustomResourceDefinition{}
)

// crdCacheKey is a family and its override directory (CRDDirEnv).
type crdCacheKey struct {
	family, dir string
}

// CRDs returns the CustomResourceDefinitions of a set as the fleet installs
// them, read once per process (and override directory) and shared: copy
// one before changing it.
func CRDs(set CRDSet) ([]*apiextv1.CustomResourceDefinition, error) {
	var out []*apiextv1.CustomResourceDefinition
	for _, family := range set.Names() {
		key := crdCacheKey{family: family, dir: os.Getenv(CRDDirEnv(family))}
		crdCacheMu.Lock()
		crds, ok := crdCache[key]
		crdCacheMu.Unlock()
		if !ok {
			var err error
			if crds, err = loadFamily(key); err != nil {
				return nil, fmt.Errorf("%s CRDs: %w", family, err)
			}
			if len(crds) == 0 {
				return nil, fmt.Errorf("%s CRDs: none found", family)
			}
			crdCacheMu.Lock()
			crdCache[key] = crds
			crdCacheMu.Unlock()
		}
		out = append(out, crds...)
	}
	return out, nil
}

// loadFamily reads a family's CRDs: from its override directory when set,
// else from package crds, cert-manager's module or the provider's descriptor.
func loadFamily(key crdCacheKey) ([]*apiextv1.CustomResourceDefinition, error) {
	if key.dir != "" {
		return readCRDDir(key.dir)
	}
	switch key.family {
	case GatewayAPI:
		return crds.Load(crds.GatewayAPI)
	case CertManager:
		return loadModuleCRDs(CertManager, certManagerCRDs)
	}
	d := provider.Lookup(key.family)
	switch {
	case d == nil:
		return nil, fmt.Errorf("no such family: not %s, %s or a registered provider (%s)", GatewayAPI, CertManager, provider.NameList())
	case d.Install.CRDManifests != nil:
		return crds.Load(d.Install.CRDManifests)
	case d.Install.CRDModule != nil:
		return loadModuleCRDs(key.family, *d.Install.CRDModule)
	}
	return nil, fmt.Errorf("provider %s holds no CRDs (provider.Install.CRDManifests or CRDModule)", key.family)
}

// readCRDDir reads every CustomResourceDefinition in dir/*.yaml.
func readCRDDir(dir string) ([]*apiextv1.CustomResourceDefinition, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml files in %s", dir)
	}
	sort.Strings(files)
	var out []*apiextv1.CustomResourceDefinition
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		crds, err := DecodeCRDs(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, crds...)
	}
	return out, nil
}

// DecodeCRDs returns the CustomResourceDefinitions among the YAML documents
// of data; documents of other kinds are skipped.
func DecodeCRDs(data []byte) ([]*apiextv1.CustomResourceDefinition, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*apiextv1.CustomResourceDefinition
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		var meta metav1.TypeMeta
		if err := json.Unmarshal(js, &meta); err != nil {
			return nil, err
		}
		if meta.Kind != "CustomResourceDefinition" {
			continue
		}
		crd := &apiextv1.CustomResourceDefinition{}
		if err := json.Unmarshal(js, crd); err != nil {
			return nil, err
		}
		out = append(out, crd)
	}
}

// installCRDs creates the cluster's CRDs (or updates ones already there),
// then waits until all are established and listed by discovery.
func (c *Cluster) installCRDs(ctx context.Context) error {
	crds, err := CRDs(c.CRDs)
	if err != nil {
		return err
	}
	if len(crds) == 0 {
		return nil
	}
	// Creating a large CRD can take long on a busy machine: allow the whole start timeout.
	cfg := rest.CopyConfig(c.Config)
	cfg.Timeout = c.fleet.Options.StartTimeout
	client, err := apiextclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	api := client.ApiextensionsV1().CustomResourceDefinitions()
	release, err := c.fleet.takeCRDSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	begin := time.Now()
	errs := make([]error, len(crds))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, crd := range crds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := createCRDPatiently(ctx, api, crd); err != nil {
				errs[i] = fmt.Errorf("install CRD %s: %w", crd.Name, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	created := time.Since(begin)
	if err := c.waitEstablished(ctx, api, crds); err != nil {
		return err
	}
	established := time.Since(begin)
	release()
	if err := c.waitCRDsServed(ctx); err != nil {
		return err
	}
	c.fleet.Progressf("cluster %s: %d CRDs (%s) created in %s, established in %s, served in %s", c.Name, len(crds), c.CRDs,
		created.Round(100*time.Millisecond), established.Round(100*time.Millisecond), time.Since(begin).Round(100*time.Millisecond))
	return nil
}

// createCRDPatiently creates or updates crd, trying again after transient
// errors (a busy machine's timeouts, a create whose answer was lost) with a
// growing pause, up to crdAttempts times.
func createCRDPatiently(ctx context.Context, api crdClient, crd *apiextv1.CustomResourceDefinition) error {
	pause := time.Second
	for attempt := 1; ; attempt++ {
		err := createOrUpdateCRD(ctx, api, crd)
		if err == nil || !transient(err) || attempt == crdAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 15*time.Second)
	}
}

// crdAttempts is how often createCRDPatiently tries.
const crdAttempts = 8

func createOrUpdateCRD(ctx context.Context, api crdClient, crd *apiextv1.CustomResourceDefinition) error {
	obj := crd.DeepCopy()
	_, err := api.Create(ctx, obj, metav1.CreateOptions{FieldManager: "gatefed-testfleet"})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	// Already there: from a restart, or a create whose answer was lost.
	cur, err := api.Get(ctx, obj.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	obj.ResourceVersion = cur.ResourceVersion
	_, err = api.Update(ctx, obj, metav1.UpdateOptions{FieldManager: "gatefed-testfleet"})
	return err
}

// transient reports errors worth another try on a busy machine.
func transient(err error) bool {
	return apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsConflict(err) || apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
		strings.Contains(err.Error(), "Client.Timeout") || strings.Contains(err.Error(), "connection reset") ||
		strings.Contains(err.Error(), "Please retry")
}

type crdClient interface {
	crdGetter
	Create(ctx context.Context, crd *apiextv1.CustomResourceDefinition, opts metav1.CreateOptions) (*apiextv1.CustomResourceDefinition, error)
	Update(ctx context.Context, crd *apiextv1.CustomResourceDefinition, opts metav1.UpdateOptions) (*apiextv1.CustomResourceDefinition, error)
}

type crdGetter interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*apiextv1.CustomResourceDefinition, error)
}

func (c *Cluster) waitEstablished(ctx context.Context, api crdGetter, crds []*apiextv1.CustomResourceDefinition) error {
	ctx, cancel := context.WithTimeout(ctx, c.fleet.Options.StartTimeout)
	defer cancel()
	for _, crd := range crds {
		for {
			cur, err := api.Get(ctx, crd.Name, metav1.GetOptions{})
			if err == nil && crdCondition(cur, apiextv1.Established) && crdCondition(cur, apiextv1.NamesAccepted) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not established: %v", crd.Name, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func crdCondition(crd *apiextv1.CustomResourceDefinition, t apiextv1.CustomResourceDefinitionConditionType) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == t {
			return cond.Status == apiextv1.ConditionTrue
		}
	}
	return false
}

// crdResources returns the group/version/resource of every served version of the cluster's CRDs.
func (c *Cluster) crdResources() ([]schema.GroupVersionResource, error) {
	crds, err := CRDs(c.CRDs)
	if err != nil {
		return nil, err
	}
	var out []schema.GroupVersionResource
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if v.Served {
				out = append(out, schema.GroupVersionResource{Group: crd.Spec.Group, Version: v.Name, Resource: crd.Spec.Names.Plural})
			}
		}
	}
	return out, nil
}

// waitCRDsServed waits until discovery lists every CRD resource and each can
// be listed, so clients that map kinds through discovery work at once.
func (c *Cluster) waitCRDsServed(ctx context.Context) error {
	gvrs, err := c.crdResources()
	if err != nil || len(gvrs) == 0 {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.fleet.Options.StartTimeout)
	defer cancel()
	cfg := rest.CopyConfig(c.Config)
	cfg.WarningHandler = rest.NoWarnings{}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var missing []string
	for {
		missing = missing[:0]
		_, lists, derr := disc.ServerGroupsAndResources()
		served := map[schema.GroupVersionResource]bool{}
		for _, l := range lists {
			gv, _ := schema.ParseGroupVersion(l.GroupVersion)
			for _, r := range l.APIResources {
				served[gv.WithResource(r.Name)] = true
			}
		}
		for _, gvr := range gvrs {
			if !served[gvr] {
				missing = append(missing, gvr.String())
			}
		}
		if derr == nil && len(missing) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRDs not in discovery: %s (%v)", strings.Join(missing, ", "), derr)
		case <-time.After(200 * time.Millisecond):
		}
	}
	for _, gvr := range gvrs {
		for {
			_, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("list %s: %w", gvr, err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}
