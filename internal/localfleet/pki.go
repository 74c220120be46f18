package localfleet

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
	"net"
	"os"
	"path/filepath"
	"time"
)

// ca is a cluster's certificate authority: it signs the serving certificate
// and every client certificate the API server accepts.
type ca struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

func newCA(name string) (*ca, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name + "-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &ca{cert: cert, key: key, certPEM: pemBlock("CERTIFICATE", der)}, nil
}

// keyPair is a PEM certificate and key.
type keyPair struct{ certPEM, keyPEM []byte }

// issue signs a certificate: a client certificate for user and groups, or a
// serving certificate when hosts is not empty.
func (c *ca) issue(commonName string, groups []string, hosts []string) (keyPair, error) {
	key, err := newKey()
	if err != nil {
		return keyPair{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: commonName, Organization: groups},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(hosts) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		return keyPair{}, err
	}
	keyPEM, err := ecKeyPEM(key)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{certPEM: pemBlock("CERTIFICATE", der), keyPEM: keyPEM}, nil
}

func ecKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pemBlock("EC PRIVATE KEY", der), nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// pkiFiles are the files a cluster's API server reads.
type pkiFiles struct {
	CACert, CAKey           string
	ServingCert, ServingKey string
	SAKey, SAPub            string
}

func pkiPaths(dir string) pkiFiles {
	p := func(n string) string { return filepath.Join(dir, n) }
	return pkiFiles{
		CACert: p("ca.crt"), CAKey: p("ca.key"),
		ServingCert: p("apiserver.crt"), ServingKey: p("apiserver.key"),
		SAKey: p("sa.key"), SAPub: p("sa.pub"),
	}
}

// writePKI creates a cluster's CA, serving certificate and service-account
// signing key in dir, and returns the CA.
func writePKI(dir, name string) (*CertAuthority, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	files := pkiPaths(dir)
	authority, err := NewCertAuthority(name)
	if err != nil {
		return nil, err
	}
	if err := authority.Save(files.CACert, files.CAKey); err != nil {
		return nil, err
	}
	servingCert, servingKey, err := authority.ServerCert("127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
	if err != nil {
		return nil, err
	}
	saKey, err := newKey()
	if err != nil {
		return nil, err
	}
	saKeyPEM, err := ecKeyPEM(saKey)
	if err != nil {
		return nil, err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, err
	}
	for path, data := range map[string][]byte{
		files.ServingCert: servingCert,
		files.ServingKey:  servingKey,
		files.SAKey:       saKeyPEM,
		files.SAPub:       pemBlock("PUBLIC KEY", saPubDER),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return authority, nil
}

// CertAuthority issues certificates for TLS material tests and the demo need
// besides the clusters' own (for example failover Secrets).
type CertAuthority struct{ ca *ca }

// NewCertAuthority creates a CA whose common name is name+"-ca".
func NewCertAuthority(name string) (*CertAuthority, error) {
	c, err := newCA(name)
	if err != nil {
		return nil, err
	}
	return &CertAuthority{ca: c}, nil
}

// Save writes the CA's certificate and key (PEM).
func (a *CertAuthority) Save(certFile, keyFile string) error {
	key, err := ecKeyPEM(a.ca.key.(*ecdsa.PrivateKey))
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, a.ca.certPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, key, 0o600)
}

// CertPEM is the CA's certificate.
func (a *CertAuthority) CertPEM() []byte { return a.ca.certPEM }

// ServerCert issues a serving certificate for hosts (DNS names, wildcards or IPs).
func (a *CertAuthority) ServerCert(hosts ...string) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, fmt.Errorf("a serving certificate needs at least one host")
	}
	kp, err := a.ca.issue(hosts[0], nil, hosts)
	return kp.certPEM, kp.keyPEM, err
}

// ClientCert issues a client certificate for commonName in groups (the organisations).
func (a *CertAuthority) ClientCert(commonName string, groups ...string) (certPEM, keyPEM []byte, err error) {
	kp, err := a.ca.issue(commonName, groups, nil)
	return kp.certPEM, kp.keyPEM, err
}
