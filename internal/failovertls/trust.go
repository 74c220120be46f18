package failovertls

import (
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// SNI is one name a target serves failover traffic under, with the
// services behind it and the clusters that send to it.
type SNI struct {
	Name     string
	Services []string
	// Verifying are the source clusters whose gateways check that the
	// target's certificate carries the SNI; Chain are those that check
	// only that a CA they trust signed it.
	Verifying, Chain []string
}

// Covers reports whether the certificate carries name as a DNS SAN (an
// equal name, or a wildcard standing for its first label).
func Covers(leaf *x509.Certificate, name string) bool {
	return leaf != nil && leaf.VerifyHostname(name) == nil
}

// Coverage checks that the target's serving certificate carries each SNI
// it serves: a failure where a source verifies the name, an info finding
// where none does.
func Coverage(target string, server *Material, snis []SNI) []Finding {
	leaf := server.Leaf()
	if leaf == nil {
		return nil
	}
	var fs []Finding
	covered := 0
	for _, s := range snis {
		if Covers(leaf, s.Name) {
			covered++
			continue
		}
		what := fmt.Sprintf("the serving certificate in Secret %s (%s) of cluster %s does not carry SNI %s (services %s)",
			server.Name, subject(leaf), target, s.Name, strings.Join(s.Services, ", "))
		if len(s.Verifying) > 0 {
			fs = append(fs, Finding{Severity: Fail,
				Message: fmt.Sprintf("%s: %s %s that name, so failover to %s fails the handshake", what, strings.Join(s.Verifying, ", "), verbFor(len(s.Verifying), "checks", "check"), target),
				Hint:    fmt.Sprintf("reissue it with DNS name %s (or *.%s): gatefed failover-certs issue computes them", s.Name, parentDomain(s.Name))})
			continue
		}
		if len(s.Chain) == 0 {
			fs = append(fs, Finding{Severity: Info, Message: what + "; no cluster fails over to it now, but a source that verifies names would refuse it"})
			continue
		}
		fs = append(fs, Finding{Severity: Info,
			Message: fmt.Sprintf("%s; its sources (%s) check only the CA, so failover works, but a source that verifies names would refuse it", what, strings.Join(s.Chain, ", "))})
	}
	if covered == len(snis) && covered > 0 {
		fs = append(fs, Finding{Severity: Info, Message: fmt.Sprintf("the serving certificate in Secret %s carries all %d SNIs cluster %s serves", server.Name, covered, target)})
	}
	return fs
}

func parentDomain(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// Pair is one failover path: a source cluster's client Secret and the
// target cluster's serving Secret, with the services sent that way.
type Pair struct {
	Source, Target string
	Client, Server *Material
	Services       []string
}

// Trust checks both directions of a pair's mutual TLS at now and at
// now+threshold: the target's ca.crt verifies the source's client
// certificate (clientAuth), and the source's ca.crt verifies the target's
// serving certificate (serverAuth; names are Coverage's concern).
func (p Pair) Trust(now time.Time, threshold time.Duration) []Finding {
	if p.Client.Leaf() == nil || p.Server.Leaf() == nil {
		return nil
	}
	path := fmt.Sprintf("failover %s -> %s (services %s)", p.Source, p.Target, strings.Join(p.Services, ", "))
	var fs []Finding
	client := fmt.Sprintf("%s does not trust %s's client certificate (Secret %s)", p.Target, p.Source, p.Client.Name)
	fs = append(fs, direction(path, client, p.Client, p.Server, x509.ExtKeyUsageClientAuth, now, threshold)...)
	server := fmt.Sprintf("%s does not trust %s's serving certificate (Secret %s)", p.Source, p.Target, p.Server.Name)
	fs = append(fs, direction(path, server, p.Server, p.Client, x509.ExtKeyUsageServerAuth, now, threshold)...)
	if len(fs) == 0 {
		fs = append(fs, Finding{Severity: Info, Message: fmt.Sprintf("%s: each side trusts the other's certificate, now and in %d days", path, int(threshold.Hours()/24))})
	}
	return fs
}

// direction verifies leaf's Secret against the roots of the other side.
func direction(path, what string, leaf, roots *Material, u x509.ExtKeyUsage, now time.Time, threshold time.Duration) []Finding {
	if err := verify(leaf, roots, u, now); err != nil {
		return []Finding{{Severity: Fail,
			Message: fmt.Sprintf("%s: %s: %s", path, what, reason(err, leaf, roots, now)),
			Hint:    fmt.Sprintf("issue both from one CA, or add the issuing CA to ca.crt of Secret %s (docs/failover-certificates.md)", roots.Name)}}
	}
	later := now.Add(threshold)
	if err := verify(leaf, roots, u, later); err != nil {
		return []Finding{{Severity: Warn,
			Message: fmt.Sprintf("%s: trust ends within %d days: on %s %s: %s", path, int(threshold.Hours()/24), date(later), what, reason(err, leaf, roots, later)),
			Hint:    "rotate the certificate or CA before then: " + fixHint}}
	}
	return nil
}

func verify(leaf, roots *Material, u x509.ExtKeyUsage, at time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range leaf.Chain[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Leaf().Verify(x509.VerifyOptions{Roots: roots.Pool(), Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{u}})
	return err
}

// reason says why verification failed in the fleet's words.
func reason(err error, leaf, roots *Material, at time.Time) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		held := "no CA"
		if len(roots.CAs) > 0 {
			held = subjects(roots.CAs)
		}
		return fmt.Sprintf("it is issued by %s, a CA that ca.crt of Secret %s does not hold (it holds %s)", issuer(leaf.Leaf()), roots.Name, held)
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return fmt.Sprintf("a certificate of its chain is outside its validity on %s", date(at))
	case errors.As(err, &ci) && ci.Reason == x509.IncompatibleUsage:
		return "its extended key usage does not allow this use"
	case errors.As(err, &ci) && ci.Reason == x509.NotAuthorizedToSign:
		return "a certificate of its chain is not a CA but signed the next"
	}
	return err.Error()
}

// CA is one CA of the fleet's failover Secrets, with where it is held.
type CA struct {
	Subject  string    `json:"subject"`
	SHA256   string    `json:"sha256"`
	NotAfter time.Time `json:"notAfter"`
	DaysLeft int       `json:"daysLeft"`
	// HeldBy are "cluster: namespace/name" of the Secrets whose ca.crt holds it.
	HeldBy []string `json:"heldBy"`
}

// CASummary lists the CAs of the given Secrets' ca.crt bundles, once each
// by fingerprint, sorted by subject; held maps a label ("cluster:
// namespace/name") to a parsed Secret.
func CASummary(held map[string]*Material, now time.Time) []CA {
	byFP := map[string]*CA{}
	for label, m := range held {
		for _, c := range m.CAs {
			fp := Fingerprint(c)
			ca := byFP[fp]
			if ca == nil {
				ca = &CA{Subject: subject(c), SHA256: fp, NotAfter: c.NotAfter.UTC(), DaysLeft: DaysLeft(c.NotAfter, now)}
				byFP[fp] = ca
			}
			ca.HeldBy = append(ca.HeldBy, label)
		}
	}
	out := make([]CA, 0, len(byFP))
	for _, ca := range byFP {
		sort.Strings(ca.HeldBy)
		out = append(out, *ca)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].SHA256 < out[j].SHA256
	})
	return out
}

func verbFor(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
