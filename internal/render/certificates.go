package render

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// cert-manager's Certificate, as the failover Secrets' issuer.
const (
	CertManagerAPIVersion = "cert-manager.io/v1"
	KindCertificate       = "Certificate"
	// FailoverCertificatePrefix names the Certificates: gatefed-failover-upstream, gatefed-failover-downstream.
	FailoverCertificatePrefix = "gatefed-"
)

// failoverCertificates are cert-manager Certificates for the cluster's two
// failover Secrets when spec.failoverCertificates names an issuer: the
// client certificate (CN the cluster, client auth) and the serving
// certificate (DNS names FailoverDNSNames, server auth), each with a new
// ECDSA key at every renewal.
func failoverCertificates(in *ClusterInput) []*unstructured.Unstructured {
	fc := in.Cluster.Spec.FailoverCertificates
	if fc == nil {
		return nil
	}
	name := in.Cluster.Name()
	issuer := map[string]any{"name": fc.IssuerRef.Name}
	if fc.IssuerRef.Kind != "" {
		issuer["kind"] = fc.IssuerRef.Kind
	}
	if fc.IssuerRef.Group != "" {
		issuer["group"] = fc.IssuerRef.Group
	}
	cert := func(secret string, usages []any, dnsNames []string) *unstructured.Unstructured {
		spec := map[string]any{
			"secretName": secret,
			"commonName": name,
			"usages":     usages,
			"issuerRef":  issuer,
			"privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(256), "rotationPolicy": "Always"},
		}
		if len(dnsNames) > 0 {
			names := make([]any, len(dnsNames))
			for i, n := range dnsNames {
				names[i] = n
			}
			spec["dnsNames"] = names
		}
		if fc.Duration != "" {
			spec["duration"] = string(fc.Duration)
		}
		if fc.RenewBefore != "" {
			spec["renewBefore"] = string(fc.RenewBefore)
		}
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": CertManagerAPIVersion,
			"kind":       KindCertificate,
			"metadata":   map[string]any{"name": FailoverCertificatePrefix + secret, "namespace": in.Cluster.Spec.Gateway.Namespace},
			"spec":       spec,
		}}
		Stamp(obj, name, "Cluster", "", name)
		return obj
	}
	return []*unstructured.Unstructured{
		cert(FailoverUpstreamSecret, []any{"digital signature", "key encipherment", "client auth"}, nil),
		cert(FailoverDownstreamSecret, []any{"digital signature", "key encipherment", "server auth"}, FailoverDNSNames(in)),
	}
}
