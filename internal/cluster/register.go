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
	res := &RegisterResult{Name: o.Name}

	// Where the document is, or goes.
	ff, err := readFleetFiles(o.FleetPaths)
	if err != nil {
		return nil, err
	}
	existing, err := ff.find(o.Name)
	if err != nil {
		return nil, err
	}
	var file *yamlFile
	if existing != nil {
		if o.File != "" && !samePath(o.File, existing.File.Path) {
			return nil, fmt.Errorf("cluster %q is already defined in %s: register it there (drop --file) or deregister it first", o.Name, existing.File.Path)
		}
		file = existing.File
	} else {
		path, err := defaultTarget(o.FleetPaths, o.File)
		if err != nil {
			return nil, err
		}
		if file, err = ff.fileFor(path); err != nil {
			return nil, err
		}
		if d := file.findCluster(o.Name); d != nil {
			existing = &clusterDoc{File: file, Doc: d, Name: o.Name}
		}
	}
	res.File = file.Path
	res.Created = existing == nil

	// The values the document will hold.
	var old *fleet.Cluster
	if existing != nil {
		old = existing.Cluster()
	}
	provider := o.Provider
	if provider == "" && old != nil {
		provider = old.Spec.Gateway.Provider
	}
	if provider == "" {
		return nil, fmt.Errorf("--provider is required for a new cluster (want %s)", providerList())
	}
	if !knownProvider(provider) {
		return nil, fmt.Errorf("cluster %q in %s has unknown provider %q: pass --provider (want %s)", o.Name, file.Path, provider, providerList())
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
	region, zone := keep(o.Region, cur.Region), keep(o.Zone, cur.Zone)
	gwNamespace, gwName := keep(o.GatewayNamespace, cur.Gateway.Namespace), keep(o.GatewayName, cur.Gateway.Name)
	if zone != "" && region == "" {
		return nil, errors.New("a zone needs a region: pass --region")
	}
	effNamespace, effName := gwNamespace, gwName
	if effNamespace == "" {
		effNamespace = defaultGatewayNamespace(provider)
	}
	if effName == "" {
		effName = defaultGatewayName(provider)
	}

	// The kubeconfig context register connects with.
	contextName := o.Context
	if contextName == "" {
		contextName = o.Name
	}
	src, err := loadSource(o.Kubeconfig, contextName)
	if err != nil {
		return nil, err
	}
	res.Context, res.Server = src.Context, src.Server

	// One cluster, one name.
	if err := checkDuplicateServer(ff, file, o, src.Server, res); err != nil {
		return nil, err
	}

	// The cluster itself.
	var cs kubernetes.Interface
	if o.Offline {
		res.Notes = append(res.Notes, "--offline: the cluster was not contacted (no version, CRD or failover check)")
	} else {
		cctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		cfg := clientConfig(src.Config, o.Timeout)
		res.Version, _, err = ServerVersion(cctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("cannot reach cluster %s at %s (context %s) within %s: %w", o.Name, src.Server, src.Context, o.Timeout, err)
		}
		missing, err := missingCRDs(cctx, cfg, provider)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", o.Name, err)
		}
		for _, r := range missing {
			res.Warnings = append(res.Warnings, fmt.Sprintf("cluster %s has no CRD %s, which provider %s needs: %s", o.Name, r.CRDName(), provider, descriptor(provider).Install.Hint))
		}
		if cs, err = kubernetes.NewForConfig(cfg); err != nil {
			return nil, err
		}
		if failover == nil {
			var found *Failover
			var reason string
			found, reason, err = discoverFailoverOf(cctx, cs, descriptor(provider), effNamespace, effName, cur.Gateway.Selector)
			if err != nil {
				return nil, fmt.Errorf("cluster %s: %w", o.Name, err)
			}
			if found != nil {
				failover = found
				res.Notes = append(res.Notes, fmt.Sprintf("failover address %s from Service %s", found, found.Service))
			} else {
				res.Notes = append(res.Notes, fmt.Sprintf("cluster %s is not a failover target: %s (pass --failover-address HOST[:PORT] to set one)", o.Name, reason))
			}
		}
	}
	if o.Offline && failover == nil && old != nil && old.Spec.Failover != nil {
		failover = &Failover{Address: old.Spec.Failover.Address, Port: old.Spec.Failover.Port}
		res.Notes = append(res.Notes, fmt.Sprintf("--offline: kept failover address %s", failover.Address))
	}
	if o.Offline && failover == nil {
		res.Notes = append(res.Notes, fmt.Sprintf("cluster %s is not a failover target (pass --failover-address HOST[:PORT] to set one)", o.Name))
	}
	res.Failover = failover

	// The document.
	edit := docEdit{
		Name: o.Name, Labels: labelOps,
		Kubeconfig: o.Kubeconfig, Context: src.Context,
		Region: region, Zone: zone,
		Provider: provider, GatewayNamespace: gwNamespace, GatewayName: gwName,
		Failover: failover,
	}
	wasServiceAccount := old != nil && old.Metadata.Annotations[AnnotationAdminContext] != ""
	switch {
	case o.ServiceAccount:
		res.Credentials = CredentialsPath(o.CredentialsDir, o.Name)
		edit.Kubeconfig, edit.Context = withHome(res.Credentials), o.Name
		edit.AdminContext, edit.AdminKubeconfig = src.Context, o.Kubeconfig
	case wasServiceAccount && !o.DropServiceAccount:
		edit.Kubeconfig, edit.Context = old.Spec.Kubeconfig, old.Spec.Context
		edit.AdminContext, edit.AdminKubeconfig = old.Metadata.Annotations[AnnotationAdminContext], old.Metadata.Annotations[AnnotationAdminKubeconfig]
		res.Notes = append(res.Notes, fmt.Sprintf("kept the service-account credentials of cluster %s (%s); pass --service-account to mint a new token", o.Name, old.Spec.Kubeconfig))
	case wasServiceAccount:
		res.Warnings = append(res.Warnings, fmt.Sprintf("cluster %s now uses context %s; its service account, RBAC and kubeconfig stay until deregister --purge", o.Name, src.Context))
	}
	var doc *yamlDoc
	if existing != nil {
		doc = existing.Doc
	}
	text, err := edit.render(file, doc)
	if err != nil {
		return nil, err
	}
	res.Document = text
	var data []byte
	if doc != nil {
		data = file.replace(doc, text)
	} else {
		data = file.appendDoc(text)
	}

	if o.ServiceAccount {
		req := saRequest{Name: o.Name, Provider: provider, GatewayNamespace: effNamespace, ServiceNamespaces: ff.ServiceNamespaces, TLSSecrets: ff.TLSSecrets, TTL: o.TokenTTL}
		if o.DryRun {
			res.Objects = plannedObjects(req)
		} else if err := mintCredentials(ctx, cs, src, req, o, res); err != nil {
			return nil, err
		}
	}
	if o.DryRun {
		return res, nil
	}
	if err := writeFileAtomic(file.Path, data, file.Mode); err != nil {
		return nil, fmt.Errorf("write %s: %w", file.Path, err)
	}
	return res, nil
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
	gatewayOrder  = []string{"provider", "namespace", "name", "className"}
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
	Failover                      *Failover
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
