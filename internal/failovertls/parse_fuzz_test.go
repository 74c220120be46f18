package failovertls

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary tls.crt, tls.key and ca.crt to Parse and every
// judgement: none may panic, and no finding may quote the key.
func FuzzParse(f *testing.F) {
	ca := newTestCA(f, "fleet-ca", certOpts{})
	_, cert, key := ca.sign(f, server(sni))
	_, rsaCert, rsaKey := ca.sign(f, certOpts{cn: "rsa", keyType: "rsa"})
	_, edCert, edKey := ca.sign(f, certOpts{cn: "ed", keyType: "ed25519"})
	f.Add(cert, key, ca.pem())
	f.Add(rsaCert, edKey, ca.pem())
	f.Add(append(edCert, rsaCert...), rsaKey, append(ca.pem(), ca.pem()...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("x"), []byte{})
	f.Fuzz(func(t *testing.T, certPEM, keyPEM, caPEM []byte) {
		m := Parse("gw/failover-downstream", SecretType, secretData(certPEM, keyPEM, caPEM))
		fs, _ := Judge(m, Server, time.Now(), DefaultThreshold)
		fs = append(fs, Coverage("eu-west", m, []SNI{{Name: sni, Services: []string{"shop/checkout"}, Verifying: []string{"us-east"}}})...)
		fs = append(fs, Pair{Source: "us-east", Target: "eu-west", Client: m, Server: m}.Trust(time.Now(), DefaultThreshold)...)
		_ = CASummary(map[string]*Material{"eu-west": m}, time.Now())
		secret := bytes.TrimSpace(keyPEM)
		if len(secret) < 24 || bytes.Contains(certPEM, secret) || bytes.Contains(caPEM, secret) {
			return
		}
		for _, f := range fs {
			if strings.Contains(f.Message+f.Hint, string(secret)) {
				t.Fatalf("a finding quotes tls.key: %s", f.Message)
			}
		}
	})
}
