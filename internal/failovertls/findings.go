package failovertls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Severity grades a finding.
type Severity string

// Severities.
const (
	Fail Severity = "fail"
	Warn Severity = "warn"
	Info Severity = "info"
)

// Finding is one thing seen in the failover certificates.
type Finding struct {
	Severity Severity
	Message  string
	Hint     string
}

// DefaultThreshold is how long before a certificate expires the findings warn.
const DefaultThreshold = 30 * 24 * time.Hour

// Role is what a failover Secret is for.
type Role int

// Roles: the client certificate a source presents (failover-upstream) and
// the certificate a target serves (failover-downstream).
const (
	Client Role = iota
	Server
)

func (r Role) String() string {
	if r == Client {
		return "client"
	}
	return "serving"
}

func (r Role) usage() x509.ExtKeyUsage {
	if r == Client {
		return x509.ExtKeyUsageClientAuth
	}
	return x509.ExtKeyUsageServerAuth
}

func usageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageAny:
		return "any"
	}
	return fmt.Sprintf("usage %d", u)
}

// CertInfo describes one certificate of a failover Secret, for reports.
type CertInfo struct {
	Secret    string    `json:"secret"`
	Key       string    `json:"key"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	SHA256    string    `json:"sha256"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	DaysLeft  int       `json:"daysLeft"`
	DNSNames  []string  `json:"dnsNames,omitempty"`
}

// DaysLeft is the whole days from now until t (negative once past).
func DaysLeft(t, now time.Time) int {
	d := t.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

// Fingerprint is the certificate's SHA-256 fingerprint, colon-separated hex.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

func info(m *Material, key string, c *x509.Certificate, now time.Time) CertInfo {
	return CertInfo{Secret: m.Name, Key: key, Subject: subject(c), Issuer: issuer(c), SHA256: Fingerprint(c),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), DaysLeft: DaysLeft(c.NotAfter, now), DNSNames: c.DNSNames}
}

func issuer(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return "CN=" + c.Issuer.CommonName
	}
	return c.Issuer.String()
}

// Judge returns the Secret's findings for its role: what parsing found,
// the validity of every certificate (expired, not yet valid, expiring
// within threshold) and the leaf's extended key usage. certs describe
// every certificate it holds.
func Judge(m *Material, role Role, now time.Time, threshold time.Duration) (fs []Finding, certs []CertInfo) {
	fs = append(fs, m.Problems...)
	for i, c := range m.Chain {
		what := fmt.Sprintf("the %s certificate in Secret %s %s", role, m.Name, CertKey)
		if i > 0 {
			what = fmt.Sprintf("intermediate %d (%s) in Secret %s %s", i, subject(c), m.Name, CertKey)
		}
		fs = append(fs, validity(c, what, now, threshold)...)
		certs = append(certs, info(m, CertKey, c, now))
	}
	for _, c := range m.CAs {
		fs = append(fs, validity(c, fmt.Sprintf("CA %s in Secret %s %s", subject(c), m.Name, CAKey), now, threshold)...)
		certs = append(certs, info(m, CAKey, c, now))
	}
	if len(m.CAs) > 1 {
		fs = append(fs, Finding{Severity: Info, Message: fmt.Sprintf("Secret %s %s holds %d CAs (%s): peers signed by any of them are trusted",
			m.Name, CAKey, len(m.CAs), subjects(m.CAs))})
	}
	if leaf := m.Leaf(); leaf != nil {
		fs = append(fs, usage(leaf, role, m.Name)...)
	}
	return fs, certs
}

func subjects(cs []*x509.Certificate) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = subject(c)
	}
	return strings.Join(out, ", ")
}

func date(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// validity fails a certificate outside its validity and warns within
// threshold of its end; a valid one gets an info finding with its days left.
func validity(c *x509.Certificate, what string, now time.Time, threshold time.Duration) []Finding {
	days := DaysLeft(c.NotAfter, now)
	switch {
	case now.After(c.NotAfter):
		ago := int(now.Sub(c.NotAfter) / (24 * time.Hour))
		return []Finding{{Severity: Fail, Message: fmt.Sprintf("%s expired on %s (%d days ago): handshakes with it fail", what, date(c.NotAfter), ago), Hint: fixHint}}
	case now.Before(c.NotBefore):
		return []Finding{{Severity: Fail, Message: fmt.Sprintf("%s is not valid before %s: handshakes with it fail until then", what, date(c.NotBefore)),
			Hint: "check the clock of whatever issued it; " + fixHint}}
	case c.NotAfter.Sub(now) < threshold:
		return []Finding{{Severity: Warn, Message: fmt.Sprintf("%s expires on %s: %d days left (warning at %d days)", what, date(c.NotAfter), days, int(threshold.Hours()/24)),
			Hint: "rotate it before then: " + fixHint}}
	}
	return []Finding{{Severity: Info, Message: fmt.Sprintf("%s is valid until %s (%d days left)", what, date(c.NotAfter), days)}}
}

// usage fails a leaf whose extended key usage, when present, lacks the role's.
func usage(leaf *x509.Certificate, role Role, name string) []Finding {
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		return nil
	}
	want := role.usage()
	if slices.Contains(leaf.ExtKeyUsage, want) || slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil
	}
	have := make([]string, 0, len(leaf.ExtKeyUsage))
	for _, u := range leaf.ExtKeyUsage {
		have = append(have, usageName(u))
	}
	if len(have) == 0 {
		have = append(have, "only unknown usages")
	}
	return []Finding{{Severity: Fail,
		Message: fmt.Sprintf("the %s certificate in Secret %s %s (%s) has extended key usage %s but not %s: the peer refuses it",
			role, name, CertKey, subject(leaf), strings.Join(have, ", "), usageName(want)),
		Hint: fmt.Sprintf("reissue it with usage %s (gatefed failover-certs issue does)", usageName(want))}}
}
