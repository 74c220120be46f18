package failovertls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// Authority is a CA that issues failover certificates. Its key stays in memory.
type Authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// Format prints the CA's subject only.
func (a Authority) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "CA %s", subject(a.cert)) }

// Cert is the CA's certificate.
func (a *Authority) Cert() *x509.Certificate { return a.cert }

// CertPEM is the CA's certificate in PEM (what goes into ca.crt).
func (a *Authority) CertPEM() []byte { return pemBlock("CERTIFICATE", a.cert.Raw) }

// NewAuthorityPEM creates a self-signed ECDSA P-256 CA valid for validity
// and also returns its key in PEM, for a CA its owner keeps in files (the
// demo's).
func NewAuthorityPEM(commonName string, validity time.Duration) (*Authority, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	return &Authority{cert: cert, key: key}, pemBlock("PRIVATE KEY", kd), err
}

// LoadAuthority reads a CA from its certificate and key in PEM. certFile
// and keyFile name them in errors; no error quotes the key.
func LoadAuthority(certPEM, keyPEM []byte, certFile, keyFile string) (*Authority, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block first in the file", certFile)
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: the certificate does not parse: %v", certFile, err)
	}
	if !ca.IsCA {
		return nil, fmt.Errorf("%s: the certificate (%s) is not a CA (basic constraints CA:FALSE or absent)", certFile, subject(ca))
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, fmt.Errorf("%s: no PEM block", keyFile)
	}
	if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
		return nil, fmt.Errorf("%s: the key is encrypted; decrypt it into a file only you can read", keyFile)
	}
	key, ok := parsePrivateKey(b)
	if !ok {
		return nil, fmt.Errorf("%s: PEM block %q is not an RSA, ECDSA or Ed25519 private key", keyFile, b.Type)
	}
	if !keyMatches(ca, key) {
		return nil, fmt.Errorf("%s: the key does not belong to the CA certificate in %s (%s)", keyFile, certFile, subject(ca))
	}
	return &Authority{cert: ca, key: key}, nil
}

// Issued is one failover certificate with its key, ready for a Secret.
// It formats as its name only.
type Issued struct {
	// Name is the Secret's name; Role what it is for.
	Name       string
	Role       Role
	CommonName string
	DNSNames   []string
	NotAfter   time.Time

	certPEM, keyPEM, caPEM []byte
}

// Format prints the Secret's name only.
func (i Issued) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "Secret %s", i.Name) }

// Data is the Secret's data: tls.crt, tls.key and ca.crt. It is for a
// Secret sent to the API server and nowhere else.
func (i *Issued) Data() map[string][]byte {
	return map[string][]byte{CertKey: i.certPEM, KeyKey: i.keyPEM, CAKey: i.caPEM}
}

// Issue signs a new ECDSA P-256 certificate for role: a client certificate
// (CN commonName, clientAuth) or a serving certificate (CN commonName, DNS
// names dnsNames, serverAuth), valid from an hour ago for validity, capped
// at the CA's own end. A new key every time: issuing again rotates.
func (a *Authority) Issue(name string, role Role, commonName string, dnsNames []string, validity time.Duration) (*Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	notAfter := now.Add(validity)
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serialNumber(),
		Subject:      pkix.Name{CommonName: commonName},
		DNSNames:     dnsNames,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{role.usage()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, fmt.Errorf("sign %s certificate %s: %w", role, name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode the key of %s", name)
	}
	return &Issued{Name: name, Role: role, CommonName: commonName, DNSNames: dnsNames, NotAfter: notAfter.UTC(),
		certPEM: pemBlock("CERTIFICATE", der), keyPEM: pemBlock("PRIVATE KEY", keyDER), caPEM: a.CertPEM()}, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func serialNumber() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}
