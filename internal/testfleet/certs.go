package testfleet

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
)

// FailoverSecrets are the two Secrets of the failover wire contract for one
// cluster, in namespace, issued by ca: failover-upstream, the client
// certificate it presents (common name cluster), and failover-downstream,
// the serving certificate of its failover listener for hosts; each of type
// kubernetes.io/tls with the CA in ca.crt.
func FailoverSecrets(ca *localfleet.CertAuthority, cluster, namespace string, hosts ...string) ([]*corev1.Secret, error) {
	clientCert, clientKey, err := ca.ClientCert(cluster)
	if err != nil {
		return nil, err
	}
	serverCert, serverKey, err := ca.ServerCert(hosts...)
	if err != nil {
		return nil, err
	}
	return []*corev1.Secret{
		TLSSecret(ca, namespace, render.FailoverUpstreamSecret, clientCert, clientKey),
		TLSSecret(ca, namespace, render.FailoverDownstreamSecret, serverCert, serverKey),
	}, nil
}

// TLSSecret is a kubernetes.io/tls Secret holding cert, key and ca's
// certificate in ca.crt.
func TLSSecret(ca *localfleet.CertAuthority, namespace, name string, cert, key []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key, "ca.crt": ca.CertPEM()},
	}
}
