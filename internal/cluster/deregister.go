package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
)

// DeregisterOptions are the inputs of Deregister.
type DeregisterOptions struct {
	Name       string
	FleetPaths []string
	File       string
	// Purge deletes what register created in the cluster (by the
	// registration label) and the minted kubeconfig.
	Purge bool
	// Kubeconfig is the global --kubeconfig: the fallback for a document
	// that names none, and the kubeconfig of Context.
	Kubeconfig string
	// Context overrides the context purge connects with (default: the one
	// register was run with, else the document's).
	Context        string
	Timeout        time.Duration
	CredentialsDir string
}

// DeregisterResult is what Deregister did.
type DeregisterResult struct {
	File string
	// Deleted are the cluster objects deleted, as "Kind namespace/name".
	Deleted []string
	// Credentials is the minted kubeconfig that was removed, if any.
	Credentials string
	Warnings    []string
}

// Deregister removes a Cluster document (keeping every other byte of its
// file) and, with Purge, first deletes what register created. When the
// purge fails, the document stays so that it can be retried.
func Deregister(ctx context.Context, o DeregisterOptions) (*DeregisterResult, error) {
	if err := validateName(o.Name); err != nil {
		return nil, err
	}
	if o.Purge && o.Timeout <= 0 {
		return nil, fmt.Errorf("invalid --timeout %s: must be positive", o.Timeout)
	}
	ff, err := readFleetFiles(o.FleetPaths)
	if err != nil {
		return nil, err
	}
	var found *clusterDoc
	if o.File != "" {
		f, err := ff.fileFor(o.File)
		if err != nil {
			return nil, err
		}
		if d := f.findCluster(o.Name); d != nil {
			found = &clusterDoc{File: f, Doc: d, Name: o.Name}
		}
	} else if found, err = ff.find(o.Name); err != nil {
		return nil, err
	}
	if found == nil {
		where := strings.Join(o.FleetPaths, ", ")
		if o.File != "" {
			where = o.File
		}
		var known []string
		for _, c := range ff.clusters() {
			known = append(known, c.Name)
		}
		return nil, fmt.Errorf("cluster %q is not registered in %s%s", o.Name, where, fleet.DidYouMean(o.Name, known))
	}
	res := &DeregisterResult{File: found.File.Path}

	if o.Purge {
		cfg, err := purgeConfig(found, o)
		if err != nil {
			return nil, err
		}
		cs, err := kubernetes.NewForConfig(clientConfig(cfg, o.Timeout))
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		deleted, warnings, err := Purge(cctx, cs, o.Name)
		res.Deleted, res.Warnings = deleted, warnings
		if err != nil {
			if apierrors.IsForbidden(err) {
				err = fmt.Errorf("%w\npurge needs the credentials register was run with: pass --context (and --kubeconfig) of an admin of the cluster", err)
			}
			return res, fmt.Errorf("cluster %s: purge: %w; the Cluster document was kept", o.Name, err)
		}
		if o.CredentialsDir != "" {
			path := CredentialsPath(o.CredentialsDir, o.Name)
			switch err := os.Remove(path); {
			case err == nil:
				res.Credentials = path
			case !errors.Is(err, fs.ErrNotExist):
				return res, fmt.Errorf("remove %s: %w; the Cluster document was kept", path, err)
			}
		}
	}

	data := found.File.remove(found.Doc)
	if err := writeFileAtomic(found.File.Path, data, found.File.Mode); err != nil {
		return res, fmt.Errorf("write %s: %w", found.File.Path, err)
	}
	return res, nil
}

// purgeConfig picks the credentials purge connects with: --context, else the
// admin context recorded at registration, else the document's own.
func purgeConfig(c *clusterDoc, o DeregisterOptions) (*rest.Config, error) {
	doc := c.Cluster()
	if o.Context != "" {
		src, err := loadSource(o.Kubeconfig, o.Context)
		if err != nil {
			return nil, err
		}
		return src.Config, nil
	}
	if ctxName := doc.Metadata.Annotations[AnnotationAdminContext]; ctxName != "" {
		kc := doc.Metadata.Annotations[AnnotationAdminKubeconfig]
		if kc == "" {
			kc = o.Kubeconfig
		}
		src, err := loadSource(kc, ctxName)
		if err != nil {
			return nil, fmt.Errorf("%w (the context cluster %s was registered with; pass --context to use another)", err, c.Name)
		}
		return src.Config, nil
	}
	return kube.RESTConfig(doc, o.Kubeconfig)
}

// Purge deletes every object carrying the registration's labels: bindings,
// roles, token Secrets and service accounts; then the gatefed-system
// namespace when a registration created it and no other still uses it.
// Objects without the labels, even with similar names, are left alone.
func Purge(ctx context.Context, cs kubernetes.Interface, name string) (deleted, warnings []string, err error) {
	sel := metav1.ListOptions{LabelSelector: RegistrationSelector(name)}
	del := func(kind, ns, n string, f func() error) error {
		if err := f(); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s: %w", kind, qualified(ns, n), err)
		}
		deleted = append(deleted, kind+" "+qualified(ns, n))
		return nil
	}
	opts := metav1.DeleteOptions{}

	crbs, err := cs.RbacV1().ClusterRoleBindings().List(ctx, sel)
	if err != nil {
		return deleted, nil, fmt.Errorf("list ClusterRoleBindings: %w", err)
	}
	for _, o := range crbs.Items {
		if err := del("ClusterRoleBinding", "", o.Name, func() error { return cs.RbacV1().ClusterRoleBindings().Delete(ctx, o.Name, opts) }); err != nil {
			return deleted, nil, err
		}
	}
	crs, err := cs.RbacV1().ClusterRoles().List(ctx, sel)
	if err != nil {
		return deleted, nil, fmt.Errorf("list ClusterRoles: %w", err)
	}
	for _, o := range crs.Items {
		if err := del("ClusterRole", "", o.Name, func() error { return cs.RbacV1().ClusterRoles().Delete(ctx, o.Name, opts) }); err != nil {
			return deleted, nil, err
		}
	}
	rbs, err := cs.RbacV1().RoleBindings(metav1.NamespaceAll).List(ctx, sel)
	if err != nil {
		return deleted, nil, fmt.Errorf("list RoleBindings: %w", err)
	}
	for _, o := range rbs.Items {
		if err := del("RoleBinding", o.Namespace, o.Name, func() error { return cs.RbacV1().RoleBindings(o.Namespace).Delete(ctx, o.Name, opts) }); err != nil {
			return deleted, nil, err
		}
	}
	roles, err := cs.RbacV1().Roles(metav1.NamespaceAll).List(ctx, sel)
	if err != nil {
		return deleted, nil, fmt.Errorf("list Roles: %w", err)
	}
	for _, o := range roles.Items {
		if err := del("Role", o.Namespace, o.Name, func() error { return cs.RbacV1().Roles(o.Namespace).Delete(ctx, o.Name, opts) }); err != nil {
			return deleted, nil, err
		}
	}
	secrets, err := cs.CoreV1().Secrets(SystemNamespace).List(ctx, sel)
	if err != nil {
		return deleted, nil, fmt.Errorf("list Secrets in %s: %w", SystemNamespace, err)
	}
	for _, o := range secrets.Items {
		if err := del("Secret", o.Namespace, o.Name, func() error { return cs.CoreV1().Secrets(o.Namespace).Delete(ctx, o.Name, opts) }); err != nil {
			return deleted, nil, err
		}
	}
	sas, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceAll).List(ctx, sel)
	if err != nil {
		return deleted, nil, fmt.Errorf("list ServiceAccounts: %w", err)
	}
	for _, o := range sas.Items {
		if err := del("ServiceAccount", o.Namespace, o.Name, func() error { return cs.CoreV1().ServiceAccounts(o.Namespace).Delete(ctx, o.Name, opts) }); err != nil {
			return deleted, nil, err
		}
	}

	ns, err := cs.CoreV1().Namespaces().Get(ctx, SystemNamespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return deleted, nil, nil
	case err != nil:
		return deleted, nil, fmt.Errorf("read namespace %s: %w", SystemNamespace, err)
	case ns.Labels[LabelRegistration] == "" || ns.Labels[LabelManagedBy] != ManagedByValue || ns.DeletionTimestamp != nil:
		return deleted, nil, nil // not created by a registration, or already going
	}
	left, err := cs.CoreV1().ServiceAccounts(SystemNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return deleted, nil, fmt.Errorf("list ServiceAccounts in %s: %w", SystemNamespace, err)
	}
	var others []string
	for _, sa := range left.Items {
		if sa.Name != "default" {
			others = append(others, sa.Name)
		}
	}
	if len(others) > 0 {
		warnings = append(warnings, fmt.Sprintf("kept namespace %s: it still holds ServiceAccounts %s", SystemNamespace, strings.Join(others, ", ")))
		return deleted, warnings, nil
	}
	if err := del("Namespace", "", SystemNamespace, func() error { return cs.CoreV1().Namespaces().Delete(ctx, SystemNamespace, opts) }); err != nil {
		return deleted, warnings, err
	}
	return deleted, warnings, nil
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}
