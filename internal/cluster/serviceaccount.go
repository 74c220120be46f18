package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// MinTokenTTL is the shortest token lifetime the TokenRequest API grants.
const MinTokenTTL = 10 * time.Minute

// saRequest is what register asks of a cluster for --service-account.
type saRequest struct {
	Name             string // the registration (cluster) name
	Provider         string
	GatewayNamespace string
	// ServiceNamespaces get a Role for the provider's service-namespaced kinds.
	ServiceNamespaces []string
	// TLSSecrets are the fleet's route TLS Secrets, readable by name.
	TLSSecrets []string
	TTL        time.Duration
}

// saResult is the minted identity and what was created for it.
type saResult struct {
	Token string
	// Expires is when the token expires; zero for a Secret-based token.
	Expires time.Time
	// Objects are the objects created or updated, as "Kind namespace/name".
	Objects  []string
	Warnings []string
}

func registrationLabels(name string) map[string]string {
	return map[string]string{LabelRegistration: name, LabelManagedBy: ManagedByValue}
}

// RegistrationSelector selects the objects a registration created.
func RegistrationSelector(name string) string {
	return LabelRegistration + "=" + name + "," + LabelManagedBy + "=" + ManagedByValue
}

// plannedObjects lists what provisionServiceAccount creates, for --dry-run.
func plannedObjects(req saRequest) []string {
	role := RoleName(req.Name)
	out := []string{
		"Namespace " + SystemNamespace + " (unless it exists)",
		"ServiceAccount " + SystemNamespace + "/" + ServiceAccountName(req.Name),
		"ClusterRole " + role,
		"ClusterRoleBinding " + role,
		"Role " + req.GatewayNamespace + "/" + role,
		"RoleBinding " + req.GatewayNamespace + "/" + role,
	}
	if len(PermissionsFor(req.Provider).ServiceNamespace) > 0 {
		for _, ns := range req.ServiceNamespaces {
			if ns != req.GatewayNamespace {
				out = append(out, "Role "+ns+"/"+role, "RoleBinding "+ns+"/"+role)
			}
		}
	}
	return out
}

// provisionServiceAccount creates (or updates) the registration's service
// account and RBAC with server-side apply, removes Roles it no longer needs,
// and mints a token.
func provisionServiceAccount(ctx context.Context, cs kubernetes.Interface, req saRequest) (*saResult, error) {
	res := &saResult{}
	labels := registrationLabels(req.Name)
	apply := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	role, sa := RoleName(req.Name), ServiceAccountName(req.Name)
	perms := PermissionsFor(req.Provider).WithTLSSecrets(req.TLSSecrets)

	if _, err := cs.CoreV1().Namespaces().Get(ctx, req.GatewayNamespace, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("gateway namespace %s does not exist: install the gateway first, or pass --gateway-namespace", req.GatewayNamespace)
		}
		return nil, fmt.Errorf("read namespace %s: %w", req.GatewayNamespace, err)
	}
	_, err := cs.CoreV1().Namespaces().Get(ctx, SystemNamespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace, Labels: labels}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: FieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create namespace %s: %w", SystemNamespace, err)
		}
		res.Objects = append(res.Objects, "Namespace "+SystemNamespace)
	case err != nil:
		return nil, fmt.Errorf("read namespace %s: %w", SystemNamespace, err)
	}

	if _, err := cs.CoreV1().ServiceAccounts(SystemNamespace).Apply(ctx,
		corev1ac.ServiceAccount(sa, SystemNamespace).WithLabels(labels), apply); err != nil {
		return nil, fmt.Errorf("apply ServiceAccount %s/%s: %w", SystemNamespace, sa, err)
	}
	res.Objects = append(res.Objects, "ServiceAccount "+SystemNamespace+"/"+sa)

	subject := rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithName(sa).WithNamespace(SystemNamespace)
	if _, err := cs.RbacV1().ClusterRoles().Apply(ctx,
		rbacv1ac.ClusterRole(role).WithLabels(labels).WithRules(ruleConfigs(perms.Cluster)...), apply); err != nil {
		return nil, fmt.Errorf("apply ClusterRole %s: %w", role, err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx,
		rbacv1ac.ClusterRoleBinding(role).WithLabels(labels).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(role)).
			WithSubjects(subject), apply); err != nil {
		return nil, fmt.Errorf("apply ClusterRoleBinding %s: %w", role, err)
	}
	res.Objects = append(res.Objects, "ClusterRole "+role, "ClusterRoleBinding "+role)

	// Roles: the gateway namespace, then each existing service namespace.
	roles := map[string][]rbacv1.PolicyRule{req.GatewayNamespace: perms.GatewayNamespace}
	if len(perms.ServiceNamespace) > 0 {
		for _, ns := range req.ServiceNamespaces {
			if ns == req.GatewayNamespace {
				roles[ns] = append(roles[ns], perms.ServiceNamespace...)
				continue
			}
			if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					res.Warnings = append(res.Warnings, fmt.Sprintf("namespace %s (of a GlobalService) does not exist yet: no Role there; re-run register --service-account once it does", ns))
					continue
				}
				return nil, fmt.Errorf("read namespace %s: %w", ns, err)
			}
			roles[ns] = perms.ServiceNamespace
		}
	}
	for _, ns := range sortedKeys(roles) {
		if _, err := cs.RbacV1().Roles(ns).Apply(ctx,
			rbacv1ac.Role(role, ns).WithLabels(labels).WithRules(ruleConfigs(roles[ns])...), apply); err != nil {
			return nil, fmt.Errorf("apply Role %s/%s: %w", ns, role, err)
		}
		if _, err := cs.RbacV1().RoleBindings(ns).Apply(ctx,
			rbacv1ac.RoleBinding(role, ns).WithLabels(labels).
				WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("Role").WithName(role)).
				WithSubjects(subject), apply); err != nil {
			return nil, fmt.Errorf("apply RoleBinding %s/%s: %w", ns, role, err)
		}
		res.Objects = append(res.Objects, "Role "+ns+"/"+role, "RoleBinding "+ns+"/"+role)
	}
	pruned, err := pruneRoles(ctx, cs, req.Name, roles)
	if err != nil {
		return nil, err
	}
	for _, p := range pruned {
		res.Warnings = append(res.Warnings, "removed "+p+", which this registration no longer needs")
	}

	if err := mintToken(ctx, cs, req, res); err != nil {
		return nil, err
	}
	return res, nil
}

// pruneRoles deletes the registration's Roles and RoleBindings in namespaces
// it no longer needs (a service namespace removed from the fleet, a changed
// gateway namespace).
func pruneRoles(ctx context.Context, cs kubernetes.Interface, name string, keep map[string][]rbacv1.PolicyRule) ([]string, error) {
	sel := metav1.ListOptions{LabelSelector: RegistrationSelector(name)}
	var pruned []string
	bindings, err := cs.RbacV1().RoleBindings(metav1.NamespaceAll).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("list RoleBindings: %w", err)
	}
	for _, b := range bindings.Items {
		if _, ok := keep[b.Namespace]; !ok {
			if err := cs.RbacV1().RoleBindings(b.Namespace).Delete(ctx, b.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("delete RoleBinding %s/%s: %w", b.Namespace, b.Name, err)
			}
			pruned = append(pruned, "RoleBinding "+b.Namespace+"/"+b.Name)
		}
	}
	roles, err := cs.RbacV1().Roles(metav1.NamespaceAll).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("list Roles: %w", err)
	}
	for _, r := range roles.Items {
		if _, ok := keep[r.Namespace]; !ok {
			if err := cs.RbacV1().Roles(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("delete Role %s/%s: %w", r.Namespace, r.Name, err)
			}
			pruned = append(pruned, "Role "+r.Namespace+"/"+r.Name)
		}
	}
	sort.Strings(pruned)
	return pruned, nil
}

// mintToken gets a token through the TokenRequest API, or, when the cluster
// does not serve it, from a service-account-token Secret.
func mintToken(ctx context.Context, cs kubernetes.Interface, req saRequest, res *saResult) error {
	sa := ServiceAccountName(req.Name)
	secs := int64(req.TTL / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(SystemNamespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err == nil {
		res.Token = tr.Status.Token
		res.Expires = tr.Status.ExpirationTimestamp.Time
		if got := time.Until(res.Expires); got < req.TTL-time.Minute {
			res.Warnings = append(res.Warnings, fmt.Sprintf("the API server shortened the token's lifetime to %s (its --service-account-max-token-expiration); re-run register --service-account before %s",
				got.Round(time.Minute), res.Expires.UTC().Format(time.RFC3339)))
		}
		return nil
	}
	if !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
		return fmt.Errorf("request a token for ServiceAccount %s/%s: %w", SystemNamespace, sa, err)
	}
	return secretToken(ctx, cs, req, res)
}

// secretToken creates a service-account-token Secret and waits until the
// token controller fills it in.
func secretToken(ctx context.Context, cs kubernetes.Interface, req saRequest, res *saResult) error {
	name, sa := TokenSecretName(req.Name), ServiceAccountName(req.Name)
	secret := corev1ac.Secret(name, SystemNamespace).
		WithLabels(registrationLabels(req.Name)).
		WithAnnotations(map[string]string{corev1.ServiceAccountNameKey: sa}).
		WithType(corev1.SecretTypeServiceAccountToken)
	if _, err := cs.CoreV1().Secrets(SystemNamespace).Apply(ctx, secret, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return fmt.Errorf("the cluster does not serve the TokenRequest API, and creating token Secret %s/%s failed: %w", SystemNamespace, name, err)
	}
	res.Objects = append(res.Objects, "Secret "+SystemNamespace+"/"+name)
	for {
		s, err := cs.CoreV1().Secrets(SystemNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read token Secret %s/%s: %w", SystemNamespace, name, err)
		}
		if tok := s.Data[corev1.ServiceAccountTokenKey]; len(tok) > 0 {
			res.Token = string(tok)
			res.Warnings = append(res.Warnings, fmt.Sprintf("the cluster does not serve the TokenRequest API: using the long-lived token of Secret %s/%s (deregister --purge deletes it)", SystemNamespace, name))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("token Secret %s/%s: the token controller did not fill it in: %w", SystemNamespace, name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func ruleConfigs(rules []rbacv1.PolicyRule) []*rbacv1ac.PolicyRuleApplyConfiguration {
	out := make([]*rbacv1ac.PolicyRuleApplyConfiguration, 0, len(rules))
	for _, r := range rules {
		ac := rbacv1ac.PolicyRule().WithAPIGroups(r.APIGroups...).WithResources(r.Resources...).WithVerbs(r.Verbs...)
		if len(r.ResourceNames) > 0 {
			ac.WithResourceNames(r.ResourceNames...)
		}
		out = append(out, ac)
	}
	return out
}

// CredentialsPath is where a registration's service-account kubeconfig goes.
func CredentialsPath(dir, name string) string { return filepath.Join(dir, name+".kubeconfig") }

// serviceAccountKubeconfig is a kubeconfig for the token, with the server
// and CA of the source context; its one context is named after the cluster.
func serviceAccountKubeconfig(name string, entry *clientcmdapi.Cluster, token, namespace string) ([]byte, error) {
	ca := entry.CertificateAuthorityData
	if len(ca) == 0 && entry.CertificateAuthority != "" {
		data, err := os.ReadFile(entry.CertificateAuthority)
		if err != nil {
			return nil, fmt.Errorf("read the CA of the source context: %w", err)
		}
		ca = data
	}
	user := ServiceAccountName(name)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   entry.Server,
		CertificateAuthorityData: ca,
		TLSServerName:            entry.TLSServerName,
		InsecureSkipTLSVerify:    entry.InsecureSkipTLSVerify,
		ProxyURL:                 entry.ProxyURL,
	}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user, Namespace: namespace}
	cfg.CurrentContext = name
	return clientcmd.Write(*cfg)
}

// writeCredentials writes a kubeconfig readable by its owner only.
func writeCredentials(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
