package check

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/fleet"
)

// servedTLSRoutes are the GlobalRoutes with tls that the cluster serves.
func servedTLSRoutes(env *clusterEnv) []*fleet.GlobalRoute {
	var out []*fleet.GlobalRoute
	for _, r := range env.input.Routes {
		if r.Spec.TLS != nil && r.Spec.TLS.SecretName != "" {
			out = append(out, r)
		}
	}
	return out
}

// tlsSecretState is what one TLS Secret read found. It holds no key material.
type tlsSecretState struct {
	err       error
	found     bool
	secretTyp corev1.SecretType
	// missing are the keys (tls.crt, tls.key) that are absent or empty.
	missing []string
}

// readTLSSecret gets a Secret by name (never lists) and keeps only its type
// and which of tls.crt and tls.key are empty: the data is dropped at once.
func readTLSSecret(ctx context.Context, env *clusterEnv, ns, name string) tlsSecretState {
	s, err := env.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if isNotFound(err) {
			return tlsSecretState{}
		}
		return tlsSecretState{err: err}
	}
	st := tlsSecretState{found: true, secretTyp: s.Type}
	for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
		if len(s.Data[k]) == 0 {
			st.missing = append(st.missing, k)
		}
	}
	return st
}

// checkTLSSecrets checks that the Secret of each TLS route the cluster
// serves exists in the gateway namespace, is a kubernetes.io/tls Secret and
// holds tls.crt and tls.key. Each Secret is read once.
func checkTLSSecrets(ctx context.Context, env *clusterEnv, res *result, routes []*fleet.GlobalRoute) {
	if len(routes) == 0 {
		return
	}
	ns, cl := env.gatewayNamespace(), env.cluster.Name()
	byName := map[string][]*fleet.GlobalRoute{}
	for _, r := range routes {
		byName[r.Spec.TLS.SecretName] = append(byName[r.Spec.TLS.SecretName], r)
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	steps := make([]func(*result), len(names))
	for i, name := range names {
		steps[i] = func(r *result) {
			st := readTLSSecret(ctx, env, ns, name)
			for _, route := range byName[name] {
				tlsSecretFinding(r, st, route, ns, name, cl)
			}
		}
	}
	res.inParallel(steps...)
}

func tlsSecretFinding(res *result, st tlsSecretState, route *fleet.GlobalRoute, ns, name, cl string) {
	ref := objRef("Secret", ns, name)
	what := fmt.Sprintf("GlobalRoute %s: TLS Secret %s/%s", route.Key(), ns, name)
	create := fmt.Sprintf("in cluster %s: kubectl -n %s create secret tls %s --cert=CERT_FILE --key=KEY_FILE (a certificate for %s)",
		cl, ns, name, strings.Join(route.Spec.Hosts, ", "))
	switch {
	case st.err != nil && apierrors.IsForbidden(st.err):
		res.objWarn(ref, fmt.Sprintf("%s in cluster %s could not be read: forbidden", what, cl),
			fmt.Sprintf("grant get on secrets named %s in namespace %s (re-run gatefed cluster register --service-account %s with this fleet)", name, ns, cl))
	case st.err != nil:
		res.objFail(ref, fmt.Sprintf("%s in cluster %s: read: %v", what, cl, st.err), rbacHint("get secrets", ns))
	case !st.found:
		res.objFail(ref, fmt.Sprintf("%s does not exist in cluster %s: the gateway cannot serve %s over HTTPS", what, cl, strings.Join(route.Spec.Hosts, ", ")), create)
	case st.secretTyp != corev1.SecretTypeTLS:
		res.objFail(ref, fmt.Sprintf("%s in cluster %s has type %s, want %s", what, cl, st.secretTyp, corev1.SecretTypeTLS),
			"delete it, then "+create)
	case len(st.missing) > 0:
		res.objFail(ref, fmt.Sprintf("%s in cluster %s has no %s", what, cl, strings.Join(st.missing, " and ")),
			"delete it, then "+create)
	default:
		res.objInfo(ref, fmt.Sprintf("%s exists in cluster %s with tls.crt and tls.key", what, cl))
	}
}
