package failovertls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"
)

// testCA signs certificates with any key type, validity and usage.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

type certOpts struct {
	cn        string
	dns       []string
	usage     []x509.ExtKeyUsage
	notBefore time.Time
	notAfter  time.Time
	keyType   string // rsa, ecdsa (default), ed25519
	isCA      bool
}

func newKeyOf(t testing.TB, typ string) crypto.Signer {
	t.Helper()
	switch typ {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (o certOpts) template() *x509.Certificate {
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serialNumber(),
		Subject:      pkix.Name{CommonName: o.cn},
		DNSNames:     o.dns,
		NotBefore:    o.notBefore,
		NotAfter:     o.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  o.usage,
	}
	if o.isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	return tmpl
}

func newTestCA(t testing.TB, cn string, o certOpts) *testCA {
	t.Helper()
	o.cn, o.isCA = cn, true
	key := newKeyOf(t, o.keyType)
	tmpl := o.template()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: key}
}

// sign returns a certificate signed by the CA, its PEM and its key's PEM.
func (ca *testCA) sign(t testing.TB, o certOpts) (*testCA, []byte, []byte) {
	t.Helper()
	key := newKeyOf(t, o.keyType)
	tmpl := o.template()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: key}, pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", kd)
}

func (ca *testCA) pem() []byte { return pemBlock("CERTIFICATE", ca.cert.Raw) }

func secretData(cert, key, ca []byte) map[string][]byte {
	return map[string][]byte{CertKey: cert, KeyKey: key, CAKey: ca}
}

func client(cn string) certOpts {
	return certOpts{cn: cn, usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
}

func server(dns ...string) certOpts {
	return certOpts{cn: "failover", dns: dns, usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
}
