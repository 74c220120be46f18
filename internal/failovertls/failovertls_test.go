package failovertls

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"
)

const sni = "checkout-8080.shop.failover.gatefed.internal"

func messages(fs []Finding, sev Severity) []string {
	var out []string
	for _, f := range fs {
		if f.Severity == sev {
			out = append(out, f.Message)
		}
	}
	return out
}

func wantOne(t *testing.T, fs []Finding, sev Severity, substr string) {
	t.Helper()
	for _, m := range messages(fs, sev) {
		if strings.Contains(m, substr) {
			return
		}
	}
	t.Fatalf("no %s finding containing %q in:\n%s", sev, substr, dump(fs))
}

func wantNone(t *testing.T, fs []Finding, sev Severity) {
	t.Helper()
	if ms := messages(fs, sev); len(ms) > 0 {
		t.Fatalf("unexpected %s findings:\n%s", sev, dump(fs))
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s: %s\n", f.Severity, f.Message)
	}
	return b.String()
}

func TestParseKeyTypes(t *testing.T) {
	for _, kt := range []string{"rsa", "ecdsa", "ed25519"} {
		t.Run(kt, func(t *testing.T) {
			ca := newTestCA(t, "fleet-ca", certOpts{keyType: kt})
			o := server(sni)
			o.keyType = kt
			_, cert, key := ca.sign(t, o)
			m := Parse("gw/failover-downstream", SecretType, secretData(cert, key, ca.pem()))
			if len(m.Problems) > 0 || !m.Usable() {
				t.Fatalf("problems: %s", dump(m.Problems))
			}
			fs, certs := Judge(m, Server, time.Now(), DefaultThreshold)
			wantNone(t, fs, Fail)
			wantNone(t, fs, Warn)
			if len(certs) != 2 || certs[0].DaysLeft < 360 || certs[1].Key != CAKey {
				t.Fatalf("certs: %+v", certs)
			}
		})
	}
}

func TestParseBadInput(t *testing.T) {
	ca := newTestCA(t, "fleet-ca", certOpts{})
	inter := newTestCA(t, "unused", certOpts{})
	_ = inter
	interCA, interPEM, _ := ca.sign(t, certOpts{cn: "intermediate", isCA: true})
	_, leafPEM, leafKey := interCA.sign(t, client("us-east"))
	_, _, otherKey := ca.sign(t, client("other"))
	_, _, rsaKey := ca.sign(t, certOpts{cn: "rsa", keyType: "rsa"})
	cases := []struct {
		name, typ string
		data      map[string][]byte
		want      string
	}{
		{"wrong type", "Opaque", secretData(leafPEM, leafKey, ca.pem()), "has type Opaque, want kubernetes.io/tls"},
		{"no type", "", secretData(leafPEM, leafKey, ca.pem()), "has type (none)"},
		{"not PEM", SecretType, secretData([]byte("not a certificate at all"), leafKey, ca.pem()), "tls.crt holds no PEM certificate"},
		{"missing cert", SecretType, secretData(nil, leafKey, ca.pem()), "tls.crt is missing or empty"},
		{"missing ca", SecretType, secretData(leafPEM, leafKey, nil), "ca.crt is missing or empty"},
		{"key block in cert", SecretType, secretData(leafKey, leafKey, ca.pem()), `tls.crt: PEM block 1 is "PRIVATE KEY", not a CERTIFICATE`},
		{"bad DER", SecretType, secretData(pemBlock("CERTIFICATE", []byte{0x30, 0x03, 1, 2, 3}), leafKey, ca.pem()), "tls.crt: certificate 1 does not parse"},
		{"out of order", SecretType, secretData(append(append([]byte{}, interPEM...), leafPEM...), leafKey, ca.pem()), "tls.crt is out of order: certificate 1 (CN=intermediate) is not signed by certificate 2 (CN=us-east)"},
		{"key mismatch", SecretType, secretData(leafPEM, otherKey, ca.pem()), "tls.key does not match the certificate in tls.crt"},
		{"key type mix", SecretType, secretData(leafPEM, rsaKey, ca.pem()), "tls.key is an RSA key but the certificate in tls.crt has an ECDSA key"},
		{"key not PEM", SecretType, secretData(leafPEM, []byte("secret-key-material-never-shown"), ca.pem()), "tls.key holds no PEM block"},
		{"encrypted key", SecretType, secretData(leafPEM, pemBlock("ENCRYPTED PRIVATE KEY", []byte{1, 2}), ca.pem()), "tls.key is encrypted"},
		{"cert in key", SecretType, secretData(leafPEM, leafPEM, ca.pem()), `tls.key: PEM block "CERTIFICATE" is not an RSA, ECDSA or Ed25519 private key`},
		{"trailing garbage", SecretType, secretData(append(append([]byte{}, leafPEM...), "garbage"...), leafKey, ca.pem()), "data after its last PEM block"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := Parse("gw/failover-upstream", c.typ, c.data)
			found := false
			for _, p := range m.Problems {
				found = found || strings.Contains(p.Message, c.want)
				if bytes.Contains([]byte(p.Message), []byte("PRIVATE KEY-----")) {
					t.Fatalf("a finding quotes a key: %s", p.Message)
				}
			}
			if !found {
				t.Fatalf("want a problem containing %q, got:\n%s", c.want, dump(m.Problems))
			}
		})
	}
	t.Run("chain in order with intermediate", func(t *testing.T) {
		m := Parse("gw/failover-upstream", SecretType, secretData(append(append([]byte{}, leafPEM...), interPEM...), leafKey, ca.pem()))
		if len(m.Problems) > 0 || len(m.Chain) != 2 {
			t.Fatalf("problems: %s", dump(m.Problems))
		}
	})
}

func TestJudge(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "fleet-ca", certOpts{})
	other := newTestCA(t, "other-ca", certOpts{})
	cases := []struct {
		name string
		role Role
		opts certOpts
		sev  Severity
		want string
	}{
		{"expired", Client, certOpts{cn: "a", usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-24 * time.Hour)}, Fail, "expired on"},
		{"not yet valid", Client, certOpts{cn: "a", notBefore: now.Add(24 * time.Hour), notAfter: now.Add(48 * time.Hour)}, Fail, "is not valid before"},
		{"expiring", Server, certOpts{cn: "a", dns: []string{sni}, notAfter: now.Add(5*24*time.Hour + time.Hour)}, Warn, "5 days left (warning at 30 days)"},
		{"client without clientAuth", Client, server(sni), Fail, "has extended key usage serverAuth but not clientAuth"},
		{"server without serverAuth", Server, client("a"), Fail, "has extended key usage clientAuth but not serverAuth"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, cert, key := ca.sign(t, c.opts)
			m := Parse("gw/s", SecretType, secretData(cert, key, append(ca.pem(), other.pem()...)))
			fs, _ := Judge(m, c.role, now, DefaultThreshold)
			wantOne(t, fs, c.sev, c.want)
			wantOne(t, fs, Info, "holds 2 CAs (CN=fleet-ca, CN=other-ca)")
		})
	}
	t.Run("no extended key usage passes", func(t *testing.T) {
		_, cert, key := ca.sign(t, certOpts{cn: "plain"})
		fs, _ := Judge(Parse("gw/s", SecretType, secretData(cert, key, ca.pem())), Client, now, DefaultThreshold)
		wantNone(t, fs, Fail)
	})
}

func TestCoverage(t *testing.T) {
	ca := newTestCA(t, "fleet-ca", certOpts{})
	_, cert, key := ca.sign(t, server("*.shop.failover.gatefed.internal", "cart-80.web.failover.gatefed.internal"))
	m := Parse("gw/failover-downstream", SecretType, secretData(cert, key, ca.pem()))
	fs := Coverage("eu-west", m, []SNI{
		{Name: sni, Services: []string{"shop/checkout"}, Verifying: []string{"us-east"}},
		{Name: "cart-80.web.failover.gatefed.internal", Services: []string{"web/cart"}, Verifying: []string{"us-east"}},
		{Name: "search-80.web.failover.gatefed.internal", Services: []string{"web/search"}, Verifying: []string{"us-east", "ap-south"}},
		{Name: "ads-80.web.failover.gatefed.internal", Services: []string{"web/ads"}, Chain: []string{"gloo-1"}},
	})
	wantOne(t, fs, Fail, "does not carry SNI search-80.web.failover.gatefed.internal (services web/search): us-east, ap-south check that name, so failover to eu-west fails the handshake")
	wantOne(t, fs, Info, "does not carry SNI ads-80.web.failover.gatefed.internal (services web/ads); its sources (gloo-1) check only the CA")
	if n := len(messages(fs, Fail)); n != 1 {
		t.Fatalf("want 1 failure, got:\n%s", dump(fs))
	}
}

func TestPairTrust(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "fleet-ca", certOpts{})
	other := newTestCA(t, "rogue-ca", certOpts{})
	shortCA := newTestCA(t, "short-ca", certOpts{notAfter: now.Add(10 * 24 * time.Hour)})
	mat := func(a *testCA, o certOpts, roots ...*testCA) *Material {
		_, cert, key := a.sign(t, o)
		var bundle []byte
		for _, r := range roots {
			bundle = append(bundle, r.pem()...)
		}
		return Parse("gw/"+o.cn, SecretType, secretData(cert, key, bundle))
	}
	goodClient := mat(ca, client("us-east"), ca)
	goodServer := mat(ca, server(sni), ca)
	cases := []struct {
		name           string
		client, server *Material
		sev            Severity
		want           string
	}{
		{"client from another CA", mat(other, client("us-east"), ca), goodServer, Fail, "eu-west does not trust us-east's client certificate (Secret gw/us-east): it is issued by CN=rogue-ca, a CA that ca.crt of Secret gw/failover does not hold (it holds CN=fleet-ca)"},
		{"server from another CA", goodClient, mat(other, server(sni), ca), Fail, "us-east does not trust eu-west's serving certificate (Secret gw/failover): it is issued by CN=rogue-ca"},
		{"client without clientAuth", mat(ca, certOpts{cn: "us-east", usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca), goodServer, Fail, "its extended key usage does not allow this use"},
		{"trust ends within threshold", mat(shortCA, client("us-east"), ca), mat(ca, server(sni), ca, shortCA), Warn, "trust ends within 30 days"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Pair{Source: "us-east", Target: "eu-west", Client: c.client, Server: c.server, Services: []string{"shop/checkout"}}
			fs := p.Trust(now, DefaultThreshold)
			wantOne(t, fs, c.sev, c.want)
			wantOne(t, fs, c.sev, "failover us-east -> eu-west (services shop/checkout)")
		})
	}
	t.Run("good pair", func(t *testing.T) {
		fs := Pair{Source: "us-east", Target: "eu-west", Client: goodClient, Server: goodServer, Services: []string{"shop/checkout"}}.Trust(now, DefaultThreshold)
		wantNone(t, fs, Fail)
		wantNone(t, fs, Warn)
		wantOne(t, fs, Info, "each side trusts the other's certificate")
	})
	t.Run("CA summary", func(t *testing.T) {
		cas := CASummary(map[string]*Material{"us-east: gw/failover-upstream": goodClient, "eu-west: gw/failover-downstream": mat(ca, server(sni), ca, other)}, now)
		if len(cas) != 2 || cas[0].Subject != "CN=fleet-ca" || len(cas[0].HeldBy) != 2 || cas[1].Subject != "CN=rogue-ca" || cas[0].SHA256 != Fingerprint(ca.cert) {
			t.Fatalf("summary: %+v", cas)
		}
	})
}

func TestNeverPrintsKeys(t *testing.T) {
	a, _, err := NewAuthorityPEM("fleet-ca", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := a.Issue("failover-upstream", Client, "us-east", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m := Parse("gw/failover-upstream", SecretType, iss.Data())
	key := string(iss.Data()[KeyKey])
	for _, v := range []any{m, *m, iss, *iss, a, *a} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, key[40:80]) {
				t.Fatalf("%s of %T shows the key: %s", verb, v, out)
			}
		}
	}
}
