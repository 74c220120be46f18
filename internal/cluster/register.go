package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/gatefed/gatefed/internal/fleet"
)

// RegisterOptions are the inputs of Register. Optional fields are pointers:
// nil keeps what an existing document says, "" clears it.
type RegisterOptions struct {
	Name string
	// Kubeconfig is the user's kubeconfig ("" for $KUBECONFIG, then ~/.kube/config).
	Kubeconfig string
	// Context in the kubeconfig; "" means the cluster's name.
	Context string
	// Provider is required for a new cluster; "" keeps the existing one.
	Provider         string
	Region, Zone     *string
	GatewayNamespace *string
	GatewayName      *string
	// FailoverAddress is HOST or HOST:PORT; "" discovers it from the gateway's Service.
	FailoverAddress string
	// Labels are k=v (set) or k- (remove).
	Labels []string
	// FleetPaths are the -f paths; File overrides where the document is written.
	FleetPaths []string
	File       string
	DryRun     bool
	// Force registers a server that another Cluster document already names.
	Force bool
	// Offline skips connecting: no version, CRD or failover discovery.
	Offline bool
	Timeout time.Duration
	// ServiceAccount mints a scoped service account and kubeconfig for gatefed.
	// A cluster registered that way keeps its service account on a later
	// register without it, unless DropServiceAccount.
	ServiceAccount     bool
	DropServiceAccount bool
	TokenTTL           time.Duration
	// CredentialsDir holds minted kubeconfigs ($XDG_CONFIG_HOME/gatefed/clusters).
	CredentialsDir string
}

// RegisterResult is what Register did or, with DryRun, would do.
type RegisterResult struct {
	Name    string
	File    string
	Created bool // a new document, rather than an update in place
	// Document is the Cluster document as written.
	Document []byte
	Context  string
	Server   string
	Version  string
	// Failover is the failover address, nil when the cluster is not a failover target.
	Failover *Failover
	// Credentials is the minted kubeconfig's path (with --service-account).
	Credentials  string
	TokenExpires time.Time
	// Objects are what --service-account created or updated in the cluster.
	Objects  []string
	Warnings []string
	// Notes explain choices, e.g. why the cluster is not a failover target.
	Notes []string
}

// labelOp sets (Value) or removes (Remove) one label.
type labelOp struct {
	Key, Value string
	Remove     bool
}

func parseLabels(specs []string) ([]labelOp, error) {
	var ops []labelOp
	for _, s := range specs {
		var op labelOp
		if k, ok := strings.CutSuffix(s, "-"); ok && !strings.Contains(s, "=") {
			op = labelOp{Key: k, Remove: true}
		} else {
			k, v, ok := strings.Cut(s, "=")
			if !ok {
				return nil, fmt.Errorf("invalid label %q: want key=value (or key- to remove it)", s)
			}
			op = labelOp{Key: k, Value: v}
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				return nil, fmt.Errorf("invalid label %q: value: %s", s, errs[0])
			}
		}
		if errs := validation.IsQualifiedName(op.Key); len(errs) > 0 {
			return nil, fmt.Errorf("invalid label %q: key: %s", s, errs[0])
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// ParseFailoverAddress splits HOST[:PORT]; the port is 0 when not given.
func ParseFailoverAddress(s string) (*Failover, error) {
	host, port := s, 0
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("invalid failover address %q: port %q is not in 1-65535", s, p)
		}
		host, port = h, n
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	if host == "" {
		return nil, fmt.Errorf("invalid failover address %q: no host", s)
	}
	if net.ParseIP(host) == nil && len(validation.IsDNS1123Subdomain(host)) > 0 {
		return nil, fmt.Errorf("invalid failover address %q: %q is neither an IP address nor a DNS name", s, host)
	}
	return &Failover{Address: host, Port: int32(port)}, nil
}

// validateName checks a cluster name.
func validateName(name string) error {
	if name == "" {
		return errors.New("a cluster name is required")
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("invalid cluster name %q: %s", name, errs[0])
	}
	return nil
}

func (o *RegisterOptions) validate() ([]labelOp, *Failover, error) {
	if err := validateName(o.Name); err != nil {
		return nil, nil, err
	}
	if o.Provider != "" && !knownProvider(o.Provider) {
		return nil, nil, fmt.Errorf("unknown provider %q%s (want %s)", o.Provider, fleet.DidYouMean(o.Provider, providerNames()), providerList())
	}
	ops, err := parseLabels(o.Labels)
	if err != nil {
		return nil, nil, err
	}
	if o.GatewayNamespace != nil && *o.GatewayNamespace != "" {
		if errs := validation.IsDNS1123Label(*o.GatewayNamespace); len(errs) > 0 {
			return nil, nil, fmt.Errorf("invalid gateway namespace %q: %s", *o.GatewayNamespace, errs[0])
		}
	}
	if o.GatewayName != nil && *o.GatewayName != "" {
		if errs := validation.IsDNS1123Subdomain(*o.GatewayName); len(errs) > 0 {
			return nil, nil, fmt.Errorf("invalid gateway name %q: %s", *o.GatewayName, errs[0])
		}
	}
	var fo *Failover
	if o.FailoverAddress != "" {
		if fo, err = ParseFailoverAddress(o.FailoverAddress); err != nil {
			return nil, nil, err
		}
	}
	if o.Timeout <= 0 {
		return nil, nil, fmt.Errorf("invalid --timeout %s: must be positive", o.Timeout)
	}
	if o.ServiceAccount {
		if o.Offline {
			return nil, nil, errors.New("--service-account needs the cluster: it cannot be combined with --offline")
		}
		if o.TokenTTL < MinTokenTTL {
			return nil, nil, fmt.Errorf("invalid --token-ttl %s: the TokenRequest API needs at least %s", o.TokenTTL, MinTokenTTL)
		}
		if o.CredentialsDir == "" {
			return nil, nil, errors.New("no directory for service-account kubeconfigs")
		}
	}
	return ops, fo, nil
}

// Register writes (or, with DryRun, prints) a cluster's Cluster document
// after checking its input, its kubeconfig context and the cluster itself.
// Nothing is written anywhere when an input is bad.
func Register(ctx context.Context, o RegisterOptions) (*RegisterResult, error) {
	labelOps, failover, err := o.validate()
	if err != nil {
		return nil, err
	}
	r := &registration{o: o, labelOps: labelOps, failover: failover, res: &RegisterResult{Name: o.Name}}
	for _, step := range []func(context.Context) error{
		r.locateDocument,
		r.chooseValues,
		r.loadContext,
		r.checkDuplicateServer,
		r.inspectCluster,
		r.editDocument,
		r.writeDocument,
	} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return r.res, nil
}

// registration is one Register call's state, filled in step by step.
type registration struct {
	o        RegisterOptions
	labelOps []labelOp
	failover *Failover
	res      *RegisterResult

	ff       *fleetFiles
	file     *yamlFile   // where the document is, or goes
	existing *clusterDoc // the document, nil for a new one
	old      *fleet.Cluster

	provider              string
	cur                   fleet.ClusterSpec // the existing spec, without gateway defaults of another provider
	region, zone          string
	gwNamespace, gwName   string // as the document will say
	effNamespace, effName string // with the provider's defaults
	src                   *source
	cs                    kubernetes.Interface // nil with --offline
	facts                 gatewayFacts         // read from the cluster; empty with --offline
	data                  []byte               // the file with the new document
}

// locateDocument finds where the document is, or goes.
func (r *registration) locateDocument(context.Context) error {
	o := r.o
	ff, err := readFleetFiles(o.FleetPaths)
	if err != nil {
		return err
	}
	existing, err := ff.find(o.Name)
	if err != nil {
		return err
	}
	var file *yamlFile
	if existing != nil {
		if o.File != "" && !samePath(o.File, existing.File.Path) {
			return fmt.Errorf("cluster %q is already defined in %s: register it there (drop --file) or deregister it first", o.Name, existing.File.Path)
		}
		file = existing.File
	} else {
		path, err := defaultTarget(o.FleetPaths, o.File)
		if err != nil {
			return err
		}
		if file, err = ff.fileFor(path); err != nil {
			return err
		}
		if d := file.findCluster(o.Name); d != nil {
			existing = &clusterDoc{File: file, Doc: d, Name: o.Name}
		}
	}
	r.ff, r.file, r.existing = ff, file, existing
	r.res.File = file.Path
	r.res.Created = existing == nil
	if existing != nil {
		r.old = existing.Cluster()
	}
	return nil
}

// chooseValues settles the values the document will hold: the flags, else
// what the document says.
func (r *registration) chooseValues(context.Context) error {
	o, old := r.o, r.old
	provider := o.Provider
	if provider == "" && old != nil {
		provider = old.Spec.Gateway.Provider
	}
	if provider == "" {
		return fmt.Errorf("--provider is required for a new cluster (want %s)", providerList())
	}
	if !knownProvider(provider) {
		return fmt.Errorf("cluster %q in %s has unknown provider %q: pass --provider (want %s)", o.Name, r.file.Path, provider, providerList())
	}
	keep := func(flag *string, current string) string {
		if flag != nil {
			return *flag
		}
		return current
	}
	var cur fleet.ClusterSpec
	if old != nil {
		cur = old.Spec
		if cur.Gateway.Provider != provider { // a new provider: its own defaults
			cur.Gateway.Namespace, cur.Gateway.Name, cur.Gateway.Selector = "", "", nil
		}
	}
	r.provider, r.cur = provider, cur
	r.region, r.zone = keep(o.Region, cur.Region), keep(o.Zone, cur.Zone)
	r.gwNamespace, r.gwName = keep(o.GatewayNamespace, cur.Gateway.Namespace), keep(o.GatewayName, cur.Gateway.Name)
	if r.zone != "" && r.region == "" {
		return errors.New("a zone needs a region: pass --region")
	}
	r.effNamespace, r.effName = r.gwNamespace, r.gwName
	if r.effNamespace == "" {
		r.effNamespace = defaultGatewayNamespace(provider)
	}
	if r.effName == "" {
		r.effName = defaultGatewayName(provider)
	}
	return nil
}

// loadContext loads the kubeconfig context register connects with.
func (r *registration) loadContext(context.Context) error {
	contextName := r.o.Context
	if contextName == "" {
		contextName = r.o.Name
	}
	src, err := loadSource(r.o.Kubeconfig, contextName)
	if err != nil {
		return err
	}
	r.src = src
	r.res.Context, r.res.Server = src.Context, src.Server
	return nil
}

// checkDuplicateServer keeps one cluster to one name.
func (r *registration) checkDuplicateServer(context.Context) error {
	return checkDuplicateServer(r.ff, r.file, r.o, r.src.Server, r.res)
}

// inspectCluster reads the cluster's version, missing CRDs and failover
// address; with --offline it keeps the document's failover address.
func (r *registration) inspectCluster(ctx context.Context) error {
	o, res := r.o, r.res
	if o.Offline {
		res.Notes = append(res.Notes, "--offline: the cluster was not contacted (no version, CRD or failover check)")
		if r.failover == nil && r.old != nil && r.old.Spec.Failover != nil {
			r.failover = &Failover{Address: r.old.Spec.Failover.Address, Port: r.old.Spec.Failover.Port}
			res.Notes = append(res.Notes, fmt.Sprintf("--offline: kept failover address %s", r.failover.Address))
		}
		if r.failover == nil {
			res.Notes = append(res.Notes, fmt.Sprintf("cluster %s is not a failover target (pass --failover-address HOST[:PORT] to set one)", o.Name))
		}
		res.Failover = r.failover
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cfg := clientConfig(r.src.Config, o.Timeout)
	var err error
	res.Version, _, err = ServerVersion(cctx, cfg)
	if err != nil {
		return fmt.Errorf("cannot reach cluster %s at %s (context %s) within %s: %w\n(is the context's server right, and the cluster up? To register it now and check it later, pass --offline)", o.Name, r.src.Server, r.src.Context, o.Timeout, err)
	}
	missing, err := missingCRDs(cctx, cfg, r.provider)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", o.Name, err)
	}
	for _, m := range missing {
		res.Warnings = append(res.Warnings, fmt.Sprintf("cluster %s has no CRD %s, which provider %s needs: %s", o.Name, m.CRDName(), r.provider, descriptor(r.provider).Install.Hint))
	}
	if r.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	var notes []string
	r.facts, notes = readGatewayFacts(cctx, r.cs, descriptor(r.provider), r.effNamespace, r.effName)
	res.Notes = append(res.Notes, notes...)
	if r.failover == nil {
		if err := r.discoverFailover(cctx); err != nil {
			return err
		}
	}
	res.Failover = r.failover
	return nil
}

// discoverFailover finds the failover address in the gateway's Service.
func (r *registration) discoverFailover(ctx context.Context) error {
	found, reason, err := discoverFailoverOf(ctx, r.cs, descriptor(r.provider), r.effNamespace, r.effName, r.cur.Gateway.Selector)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", r.o.Name, err)
	}
	if found == nil {
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("cluster %s is not a failover target: %s (pass --failover-address HOST[:PORT] to set one)", r.o.Name, reason))
		return nil
	}
	r.failover = found
	r.res.Notes = append(r.res.Notes, fmt.Sprintf("failover address %s from Service %s", found, found.Service))
	return nil
}

// editDocument renders the new document text and the file holding it.
func (r *registration) editDocument(context.Context) error {
	edit := docEdit{
		Name: r.o.Name, Labels: r.labelOps,
		Kubeconfig: absoluteKubeconfig(r.o.Kubeconfig), Context: r.src.Context,
		Region: r.region, Zone: r.zone,
		Provider: r.provider, GatewayNamespace: r.gwNamespace, GatewayName: r.gwName,
		Facts: r.facts, Failover: r.failover,
	}
	r.chooseCredentials(&edit)
	var doc *yamlDoc
	if r.existing != nil {
		doc = r.existing.Doc
	}
	text, err := edit.render(r.file, doc)
	if err != nil {
		return err
	}
	r.res.Document = text
	if doc != nil {
		r.data = r.file.replace(doc, text)
	} else {
		r.data = r.file.appendDoc(text)
	}
	return nil
}

// chooseCredentials points the document at a minted service account's
// kubeconfig, keeps one a cluster already has, or drops it.
func (r *registration) chooseCredentials(edit *docEdit) {
	o, old, res := r.o, r.old, r.res
	wasServiceAccount := old != nil && old.Metadata.Annotations[AnnotationAdminContext] != ""
	switch {
	case o.ServiceAccount:
		res.Credentials = CredentialsPath(o.CredentialsDir, o.Name)
		edit.Kubeconfig, edit.Context = withHome(res.Credentials), o.Name
		edit.AdminContext, edit.AdminKubeconfig = r.src.Context, absoluteKubeconfig(o.Kubeconfig)
	case wasServiceAccount && !o.DropServiceAccount:
		edit.Kubeconfig, edit.Context = old.Spec.Kubeconfig, old.Spec.Context
		edit.AdminContext, edit.AdminKubeconfig = old.Metadata.Annotations[AnnotationAdminContext], old.Metadata.Annotations[AnnotationAdminKubeconfig]
		res.Notes = append(res.Notes, fmt.Sprintf("kept the service-account credentials of cluster %s (%s); pass --service-account to mint a new token", o.Name, old.Spec.Kubeconfig))
	case wasServiceAccount:
		res.Warnings = append(res.Warnings, fmt.Sprintf("cluster %s now uses context %s; its service account, RBAC and kubeconfig stay until deregister --purge", o.Name, r.src.Context))
	}
}

// writeDocument mints the service account's credentials when asked and
// writes the file; with --dry-run it only lists what it would create.
func (r *registration) writeDocument(ctx context.Context) error {
	o := r.o
	if o.ServiceAccount {
		req := saRequest{Name: o.Name, Provider: r.provider, GatewayNamespace: r.effNamespace, ServiceNamespaces: r.ff.ServiceNamespaces, TLSSecrets: r.ff.TLSSecrets, TTL: o.TokenTTL}
		if o.DryRun {
			r.res.Objects = plannedObjects(req)
		} else if err := mintCredentials(ctx, r.cs, r.src, req, o, r.res); err != nil {
			return err
		}
	}
	if o.DryRun {
		return nil
	}
	if err := writeFileAtomic(r.file.Path, r.data, r.file.Mode); err != nil {
		return fmt.Errorf("write %s: %w", r.file.Path, err)
	}
	return nil
}

func mintCredentials(ctx context.Context, cs kubernetes.Interface, src *source, req saRequest, o RegisterOptions, res *RegisterResult) error {
	entry, err := src.clusterEntry()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	sa, err := provisionServiceAccount(cctx, cs, req)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", o.Name, err)
	}
	res.Objects, res.TokenExpires = sa.Objects, sa.Expires
	res.Warnings = append(res.Warnings, sa.Warnings...)
	kc, err := serviceAccountKubeconfig(o.Name, entry, sa.Token, req.GatewayNamespace)
	if err != nil {
		return err
	}
	return writeCredentials(res.Credentials, kc)
}

// checkDuplicateServer refuses a second name for an API server already in
// the fleet, unless o.Force.
func checkDuplicateServer(ff *fleetFiles, target *yamlFile, o RegisterOptions, server string, res *RegisterResult) error {
	docs := ff.clusters()
	inFleet := false
	for _, f := range ff.Files {
		inFleet = inFleet || f == target
	}
	if !inFleet {
		for _, d := range target.Docs {
			if name, ok := d.clusterName(); ok {
				docs = append(docs, clusterDoc{File: target, Doc: d, Name: name})
			}
		}
	}
	want := NormalizeServer(server)
	for _, d := range docs {
		if d.Name == o.Name {
			continue
		}
		got, err := serverOf(d.Cluster(), o.Kubeconfig)
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("not checked for a duplicate API server: %v", err))
			continue
		}
		if NormalizeServer(got) != want {
			continue
		}
		where := fmt.Sprintf("%s:%d", d.File.Path, d.Doc.Line())
		if !o.Force {
			return fmt.Errorf("API server %s is already registered as cluster %q (%s): one cluster, one name; pass --force to register it under a second name", server, d.Name, where)
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("API server %s is also registered as cluster %q (%s); registering a second name because of --force", server, d.Name, where))
	}
	return nil
}

// The order of keys in a new document.
var (
	rootOrder     = []string{"apiVersion", "kind", "metadata", "spec"}
	metadataOrder = []string{"name", "labels", "annotations"}
	specOrder     = []string{"kubeconfig", "context", "region", "zone", "gateway", "failover"}
	gatewayOrder  = []string{"provider", "namespace", "name", "className", "selector", "strictTiers", "ipFamilies", "version"}
	failoverOrder = []string{"address", "port"}
)

// docEdit is the registration's view of a Cluster document.
type docEdit struct {
	Name                          string
	Labels                        []labelOp
	Kubeconfig, Context           string
	Region, Zone                  string
	Provider                      string
	GatewayNamespace, GatewayName string
	// Facts read from the cluster; empty ones leave the document's as they are.
	Facts    gatewayFacts
	Failover *Failover
	// AdminContext is set for --service-account registrations.
	AdminContext, AdminKubeconfig string
}

// render applies the edit to doc (nil for a new document) and returns the
// document's new text. Keys, comments and the order of everything else stay.
func (e docEdit) render(file *yamlFile, doc *yamlDoc) ([]byte, error) {
	indent := 2
	var node *yaml.Node
	if doc != nil {
		node = doc.Node
		indent = detectIndent(file.Data[doc.Start:doc.End])
	} else {
		node = &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
		root := node.Content[0]
		setString(root, "apiVersion", fleet.APIVersion)
		setString(root, "kind", fleet.KindCluster)
		setString(ensureMap(root, "metadata"), "name", e.Name)
	}
	root := node.Content[0]
	// Keys added to an existing mapping go where a new document has them.
	set := func(m *yaml.Node, key, value string, order []string) {
		had := lookup(m, key) != nil
		setString(m, key, value)
		if !had {
			placeKey(m, key, order)
		}
	}
	mapping := func(m *yaml.Node, key string, order []string) *yaml.Node {
		had := lookup(m, key) != nil
		v := ensureMap(m, key)
		if !had {
			placeKey(m, key, order)
		}
		return v
	}
	meta := mapping(root, "metadata", rootOrder)

	if len(e.Labels) > 0 {
		labels := mapping(meta, "labels", metadataOrder)
		for _, op := range e.Labels {
			if op.Remove {
				deleteKey(labels, op.Key)
			} else {
				setScalar(labels, op.Key, op.Value, "!!str")
			}
		}
		deleteIfEmpty(meta, "labels")
	}
	if e.AdminContext != "" {
		ann := mapping(meta, "annotations", metadataOrder)
		setString(ann, AnnotationAdminContext, e.AdminContext)
		setString(ann, AnnotationAdminKubeconfig, e.AdminKubeconfig)
	} else if ann := lookup(meta, "annotations"); ann != nil && ann.Kind == yaml.MappingNode {
		deleteKey(ann, AnnotationAdminContext)
		deleteKey(ann, AnnotationAdminKubeconfig)
		deleteIfEmpty(meta, "annotations")
	}

	spec := mapping(root, "spec", rootOrder)
	set(spec, "kubeconfig", e.Kubeconfig, specOrder)
	set(spec, "context", e.Context, specOrder)
	set(spec, "region", e.Region, specOrder)
	set(spec, "zone", e.Zone, specOrder)
	gw := mapping(spec, "gateway", specOrder)
	set(gw, "provider", e.Provider, gatewayOrder)
	set(gw, "namespace", e.GatewayNamespace, gatewayOrder)
	set(gw, "name", e.GatewayName, gatewayOrder)
	def := descriptor(e.Provider).Defaults
	if def.ClassName == "" {
		deleteKey(gw, "className") // the provider has no class
	}
	if def.Selector == nil {
		deleteKey(gw, "selector") // the provider selects no pods
	}
	e.setFacts(gw, set)
	if e.Failover != nil {
		fo := mapping(spec, "failover", specOrder)
		set(fo, "address", e.Failover.Address, failoverOrder)
		if e.Failover.Port != 0 {
			had := lookup(fo, "port") != nil
			setScalar(fo, "port", strconv.Itoa(int(e.Failover.Port)), "!!int")
			if !had {
				placeKey(fo, "port", failoverOrder)
			}
		} else {
			deleteKey(fo, "port")
		}
	} else {
		deleteKey(spec, "failover")
	}
	return encodeDoc(node, indent)
}

// setFacts records the facts read from the cluster in spec.gateway, and
// drops the options the provider does not take.
func (e docEdit) setFacts(gw *yaml.Node, set func(m *yaml.Node, key, value string, order []string)) {
	opts := descriptor(e.Provider).Options
	switch {
	case !opts.IPFamilies:
		deleteKey(gw, "ipFamilies")
	case len(e.Facts.IPFamilies) > 0:
		had := lookup(gw, "ipFamilies") != nil
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for _, f := range e.Facts.IPFamilies {
			seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f})
		}
		setNode(gw, "ipFamilies", seq)
		if !had {
			placeKey(gw, "ipFamilies", gatewayOrder)
		}
	}
	switch {
	case opts.Version == nil:
		deleteKey(gw, "version")
	case e.Facts.Version != "":
		set(gw, "version", e.Facts.Version, gatewayOrder)
	}
	switch {
	case opts.StrictTiers == nil || (e.Facts.StrictTiers != nil && !*e.Facts.StrictTiers):
		deleteKey(gw, "strictTiers")
	case e.Facts.StrictTiers != nil:
		had := lookup(gw, "strictTiers") != nil
		setScalar(gw, "strictTiers", "true", "!!bool")
		if !had {
			placeKey(gw, "strictTiers", gatewayOrder)
		}
	}
}
