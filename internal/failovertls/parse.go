// Package failovertls reads the failover wire contract's Secrets
// (failover-upstream and failover-downstream: tls.crt, tls.key, ca.crt),
// judges their certificates (validity, key, usage, names, trust between
// clusters), probes failover paths with them over mutual TLS, and issues
// them from a CA. Key material stays in memory: no function here returns,
// formats or logs it.
package failovertls

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// Keys of a failover Secret and the type it must have.
const (
	CertKey    = "tls.crt"
	KeyKey     = "tls.key"
	CAKey      = "ca.crt"
	SecretType = "kubernetes.io/tls"
)

// Material is one failover Secret, parsed. Its private key is unexported
// and Material formats as its name only, so printing one never shows a key.
type Material struct {
	// Name is "namespace/name" of the Secret.
	Name string
	// Chain is tls.crt in file order (leaf first when well formed).
	Chain []*x509.Certificate
	// CAs is the ca.crt bundle.
	CAs []*x509.Certificate
	// Problems are what parsing found wrong (severity Fail or Warn).
	Problems []Finding

	key crypto.Signer
}

// Format prints the Secret's name whatever the verb: a Material never
// shows its key, even with %#v.
func (m Material) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "Secret %s", m.Name) }

// Leaf is the first certificate of tls.crt, or nil.
func (m *Material) Leaf() *x509.Certificate {
	if m == nil || len(m.Chain) == 0 {
		return nil
	}
	return m.Chain[0]
}

// Usable reports whether the Secret has a leaf certificate and a key that
// belongs to it.
func (m *Material) Usable() bool {
	return m.Leaf() != nil && m.key != nil && keyMatches(m.Leaf(), m.key)
}

// TLSCertificate is the certificate and key for a TLS handshake, held in memory.
func (m *Material) TLSCertificate() (tls.Certificate, bool) {
	if !m.Usable() {
		return tls.Certificate{}, false
	}
	c := tls.Certificate{PrivateKey: m.key, Leaf: m.Leaf()}
	for _, x := range m.Chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, true
}

// Pool is the ca.crt bundle as a certificate pool.
func (m *Material) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range m.CAs {
		p.AddCert(c)
	}
	return p
}

// Parse reads one failover Secret's type and data. It never fails: what is
// wrong becomes a Problem naming the key and, for PEM, the block.
func Parse(name, secretType string, data map[string][]byte) *Material {
	m := &Material{Name: name}
	if secretType != SecretType {
		m.fail(fmt.Sprintf("Secret %s has type %s, want %s", name, typeText(secretType), SecretType),
			"recreate it as a TLS Secret (kubectl create secret tls, or gatefed failover-certs issue)")
	}
	m.Chain = m.certs(CertKey, data[CertKey])
	m.CAs = m.certs(CAKey, data[CAKey])
	m.checkOrder()
	m.parseKey(data[KeyKey])
	return m
}

func typeText(t string) string {
	if t == "" {
		return "(none)"
	}
	return t
}

func (m *Material) fail(msg, hint string) {
	m.Problems = append(m.Problems, Finding{Severity: Fail, Message: msg, Hint: hint})
}

func (m *Material) warn(msg, hint string) {
	m.Problems = append(m.Problems, Finding{Severity: Warn, Message: msg, Hint: hint})
}

// certs parses every PEM block of one key as a certificate.
func (m *Material) certs(key string, raw []byte) []*x509.Certificate {
	where := fmt.Sprintf("Secret %s %s", m.Name, key)
	if len(bytes.TrimSpace(raw)) == 0 {
		m.fail(where+" is missing or empty", fixHint)
		return nil
	}
	var out []*x509.Certificate
	rest, blocks := raw, 0
	for i := 1; ; i++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		if b.Type != "CERTIFICATE" {
			m.fail(fmt.Sprintf("%s: PEM block %d is %q, not a CERTIFICATE", where, i, b.Type), fixHint)
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			m.fail(fmt.Sprintf("%s: certificate %d does not parse: %v", where, i, err), fixHint)
			continue
		}
		out = append(out, c)
	}
	switch {
	case blocks == 0:
		m.fail(where+" holds no PEM certificate", fixHint)
	case len(bytes.TrimSpace(rest)) > 0:
		m.warn(where+" has data after its last PEM block that is not PEM", "remove it; gateways may refuse the file")
	}
	return out
}

const fixHint = "reissue the Secret (gatefed failover-certs issue, or your cert-manager Certificate); docs/failover-certificates.md"

// checkOrder wants tls.crt leaf first, each certificate signed by the next.
func (m *Material) checkOrder() {
	for i := 0; i+1 < len(m.Chain); i++ {
		child, parent := m.Chain[i], m.Chain[i+1]
		if child.CheckSignatureFrom(parent) == nil {
			continue
		}
		m.fail(fmt.Sprintf("Secret %s %s is out of order: certificate %d (%s) is not signed by certificate %d (%s)",
			m.Name, CertKey, i+1, subject(child), i+2, subject(parent)),
			"put the leaf certificate first, then each issuer in turn; leave the root CA to ca.crt")
		return
	}
}

// parseKey reads tls.key (PKCS#8, PKCS#1 or SEC 1) and matches it with the leaf.
func (m *Material) parseKey(raw []byte) {
	where := fmt.Sprintf("Secret %s %s", m.Name, KeyKey)
	if len(bytes.TrimSpace(raw)) == 0 {
		m.fail(where+" is missing or empty", fixHint)
		return
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		m.fail(where+" holds no PEM block", fixHint)
		return
	}
	if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
		m.fail(where+" is encrypted; gateways need an unencrypted key", fixHint)
		return
	}
	key, ok := parsePrivateKey(b)
	if !ok {
		m.fail(fmt.Sprintf("%s: PEM block %q is not an RSA, ECDSA or Ed25519 private key", where, b.Type), fixHint)
		return
	}
	m.key = key
	if leaf := m.Leaf(); leaf != nil && !keyMatches(leaf, key) {
		m.fail(keyMismatchText(where, leaf, key), "put the key that belongs to the certificate in tls.key: "+fixHint)
	}
}

// parsePrivateKey never returns the parser's error: it may quote the input.
func parsePrivateKey(b *pem.Block) (crypto.Signer, bool) {
	var (
		k   any
		err error
	)
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	default:
		return nil, false
	}
	if err != nil {
		return nil, false
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, true
	case *ecdsa.PrivateKey:
		return k, true
	case ed25519.PrivateKey:
		return k, true
	}
	return nil, false
}

func keyMatches(leaf *x509.Certificate, key crypto.Signer) bool {
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key.Public())
}

func keyMismatchText(where string, leaf *x509.Certificate, key crypto.Signer) string {
	if kt, ct := keyType(key.Public()), keyType(leaf.PublicKey); kt != ct {
		return fmt.Sprintf("%s is an %s key but the certificate in %s has an %s key", where, kt, CertKey, ct)
	}
	return fmt.Sprintf("%s does not match the certificate in %s (%s)", where, CertKey, subject(leaf))
}

func keyType(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return "unknown"
}

// subject names a certificate in messages: its common name, else its subject.
func subject(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return "CN=" + c.Subject.CommonName
	}
	if s := c.Subject.String(); s != "" {
		return s
	}
	return "serial " + c.SerialNumber.String()
}
