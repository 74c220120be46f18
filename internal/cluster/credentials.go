package cluster

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
)

// CredentialsError is an API server's 401 to one of the fleet's clusters:
// the credentials of the cluster's kubeconfig context are expired, revoked
// (deregister --purge deletes a service account, and its tokens with it) or
// wrong. It says which context and what to do.
type CredentialsError struct {
	Cluster    string
	Context    string
	Kubeconfig string // "" for the default kubeconfig
	// AdminContext and AdminKubeconfig are set when the cluster was
	// registered with --service-account: register rotates its token.
	AdminContext, AdminKubeconfig string
	Err                           error
}

// Rejected returns err as a *CredentialsError when it is an API server's
// 401 Unauthorized, else nil. kubeconfig is the --kubeconfig fallback of
// documents that name none.
func Rejected(c *fleet.Cluster, kubeconfig string, err error) *CredentialsError {
	if err == nil || !apierrors.IsUnauthorized(err) {
		var ce *CredentialsError
		if errors.As(err, &ce) {
			return ce
		}
		return nil
	}
	e := &CredentialsError{
		Cluster: c.Name(), Context: c.Context(), Kubeconfig: kube.KubeconfigPath(c, kubeconfig), Err: err,
	}
	if a := c.Metadata.Annotations; a[AnnotationAdminContext] != "" {
		e.AdminContext, e.AdminKubeconfig = a[AnnotationAdminContext], a[AnnotationAdminKubeconfig]
	}
	return e
}

func (e *CredentialsError) Error() string {
	return e.Message() + "; " + e.Hint()
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// Message says what happened, without the cluster's name.
func (e *CredentialsError) Message() string {
	kc := e.Kubeconfig
	if kc == "" {
		kc = "the default kubeconfig"
	}
	if e.AdminContext != "" {
		return fmt.Sprintf("the API server rejected the service-account token of context %q in %s (401 Unauthorized): it expired or was revoked (deregister --purge revokes it)", e.Context, kc)
	}
	return fmt.Sprintf("the API server rejected the credentials of context %q in %s (401 Unauthorized): they expired, were revoked or are wrong", e.Context, kc)
}

// Hint says what to do.
func (e *CredentialsError) Hint() string {
	if e.AdminContext != "" {
		args := []string{"gatefed", "cluster", "register", e.Cluster, "--context", e.AdminContext}
		if e.AdminKubeconfig != "" {
			args = append(args, "--kubeconfig", e.AdminKubeconfig)
		}
		args = append(args, "--service-account")
		return "mint a new token with: " + strings.Join(args, " ")
	}
	return fmt.Sprintf("renew them, or give gatefed a service account of its own: gatefed cluster register %s --context %s --service-account", e.Cluster, e.Context)
}
