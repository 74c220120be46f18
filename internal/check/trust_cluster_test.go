package check_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/cluster"
	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// pki signs the test's failover certificates, broken on purpose where asked.
type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newPKI(t *testing.T, cn string) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &pki{cert: c, key: key}
}

func (p *pki) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw})
}

// leaf is one certificate to issue: its names, usage and validity.
type leaf struct {
	cn             string
	dns            []string
	usage          x509.ExtKeyUsage
	from, until    time.Time
	signer         *pki
	caBundle       *pki
	mismatchingKey bool
}

func (p *pki) issue(t *testing.T, l leaf) map[string][]byte {
	t.Helper()
	if l.from.IsZero() {
		l.from = time.Now().Add(-time.Hour)
	}
	if l.until.IsZero() {
		l.until = time.Now().AddDate(1, 0, 0)
	}
	signer, bundle := p, p
	if l.signer != nil {
		signer = l.signer
	}
	if l.caBundle != nil {
		bundle = l.caBundle
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: l.cn}, DNSNames: l.dns,
		NotBefore: l.from, NotAfter: l.until, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{l.usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer.cert, key.Public(), signer.key)
	if err != nil {
		t.Fatal(err)
	}
	if l.mismatchingKey {
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return map[string][]byte{
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}),
		"ca.crt":  bundle.pem(),
	}
}

const (
	trustNS  = "trust-edge"
	trustSNI = "checkout-8080.shop.failover.gatefed.internal"
)

// trustCase writes east's client Secret and west's serving Secret (east
// and west each send shop/checkout to the other; only the east -> west
// path is broken), starts each cluster's failover listener from its
// serving Secret and checks.
type trustCase struct {
	name                   string
	eastClient, westServer func(ca *pki) map[string][]byte
	code                   int
	finding                []string
	sev                    check.Severity
	probe                  failovertls.Outcome
}

func TestCheckFailoverTrust(t *testing.T) {
	// Two clusters of their own, without CRDs: failover-trust reads Secrets only.
	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{{Name: "east"}, {Name: "west"}}, CRDs: localfleet.NoCRDs})
	ctx := context.Background()
	ca, rogue := newPKI(t, "fleet-failover-ca"), newPKI(t, "rogue-ca")
	goodClient := func(ca *pki) map[string][]byte {
		return ca.issue(t, leaf{cn: "east", usage: x509.ExtKeyUsageClientAuth})
	}
	goodServer := func(ca *pki) map[string][]byte {
		return ca.issue(t, leaf{cn: "west", dns: []string{trustSNI}, usage: x509.ExtKeyUsageServerAuth})
	}
	now := time.Now()
	cases := []trustCase{
		{"correct", goodClient, goodServer, 0, []string{"failover east -> west (services shop/checkout): each side trusts the other's certificate"}, check.Info, failovertls.Healthy},
		{"expired", goodClient, func(ca *pki) map[string][]byte {
			return ca.issue(t, leaf{cn: "west", dns: []string{trustSNI}, usage: x509.ExtKeyUsageServerAuth, from: now.AddDate(0, -2, 0), until: now.AddDate(0, 0, -3)})
		}, 1, []string{"the serving certificate in Secret trust-edge/failover-downstream tls.crt expired on", "(3 days ago)"}, check.Failure, failovertls.ServerNotTrusted},
		{"expiring in 5 days", goodClient, func(ca *pki) map[string][]byte {
			return ca.issue(t, leaf{cn: "west", dns: []string{trustSNI}, usage: x509.ExtKeyUsageServerAuth, until: now.Add(5*24*time.Hour + time.Hour)})
		}, 0, []string{"the serving certificate in Secret trust-edge/failover-downstream tls.crt expires on", "5 days left (warning at 30 days)"}, check.Warning, failovertls.Healthy},
		{"missing SAN", goodClient, func(ca *pki) map[string][]byte {
			return ca.issue(t, leaf{cn: "west", dns: []string{"cart-80.shop.failover.gatefed.internal"}, usage: x509.ExtKeyUsageServerAuth})
		}, 1, []string{"of cluster west does not carry SNI " + trustSNI + " (services shop/checkout): east checks that name"}, check.Failure, failovertls.ServerNotTrusted},
		{"client from another CA", func(*pki) map[string][]byte {
			return ca.issue(t, leaf{cn: "east", usage: x509.ExtKeyUsageClientAuth, signer: rogue})
		}, goodServer, 1, []string{"failover east -> west (services shop/checkout): west does not trust east's client certificate", "issued by CN=rogue-ca"}, check.Failure, failovertls.ClientRefused},
		{"serving from another CA", goodClient, func(*pki) map[string][]byte {
			return ca.issue(t, leaf{cn: "west", dns: []string{trustSNI}, usage: x509.ExtKeyUsageServerAuth, signer: rogue})
		}, 1, []string{"failover east -> west (services shop/checkout): east does not trust west's serving certificate", "issued by CN=rogue-ca"}, check.Failure, failovertls.ServerNotTrusted},
		{"key does not match", func(ca *pki) map[string][]byte {
			return ca.issue(t, leaf{cn: "east", usage: x509.ExtKeyUsageClientAuth, mismatchingKey: true})
		}, goodServer, 1, []string{"Secret trust-edge/failover-upstream tls.key does not match the certificate in tls.crt"}, check.Failure, failovertls.NoClientCertificate},
		{"client without clientAuth", func(ca *pki) map[string][]byte {
			return ca.issue(t, leaf{cn: "east", usage: x509.ExtKeyUsageServerAuth})
		}, goodServer, 1, []string{"the client certificate in Secret trust-edge/failover-upstream tls.crt (CN=east) has extended key usage serverAuth but not clientAuth"}, check.Failure, failovertls.ClientRefused},
	}
	for _, ns := range []string{trustNS, "shop"} {
		for _, c := range []string{"east", "west"} {
			if err := tf.Cluster(c).Sim().EnsureNamespace(ctx, ns); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runTrustCase(t, ctx, tf, tf.Kubeconfig, ca, tc) })
	}
	t.Run("rbac", func(t *testing.T) { trustForbidden(t, tf, ca) })
}

func runTrustCase(t *testing.T, ctx context.Context, tf *testfleet.Fleet, kubeconfig string, ca *pki, tc trustCase) {
	dir, keys := trustSetup(t, ctx, tf, kubeconfig, ca, tc)
	out, errOut, code := runCheckIn(t, dir, false, "-x", "gateway-install,config-status,drift,service-presence,failover-readiness,sizing", "-o", "json")
	if code != tc.code {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
	}
	for _, body := range keys {
		if strings.Contains(out+errOut, body) {
			t.Fatalf("a failover key is in the output")
		}
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	all := append(rep.findings("east", check.FailoverTrust), rep.findings("west", check.FailoverTrust)...)
	if !hasFinding(all, tc.sev, tc.finding...) {
		t.Fatalf("no %s finding with %q:\n%s", tc.sev, tc.finding, out)
	}
	probes := trustProbes(t, &rep, "east")
	if len(probes) != 1 || probes[0].Outcome != tc.probe || probes[0].Target != "west" || probes[0].SNI != trustSNI {
		t.Fatalf("probe east -> west: %+v, want %s", probes, tc.probe)
	}
	t.Logf("%s: exit %d; probe east -> west: %s %s", tc.name, code, probes[0].Outcome, probes[0].Detail)
	for _, f := range all {
		if f.Severity != check.Info {
			t.Logf("%s: %s: %s", tc.name, f.Severity, f.Message)
		}
	}
}

// trustSetup writes the case's Secrets, starts both failover listeners
// and writes the fleet; it returns the fleet's directory and a line of
// each key, which no output may hold.
func trustSetup(t *testing.T, ctx context.Context, tf *testfleet.Fleet, kubeconfig string, ca *pki, tc trustCase) (string, []string) {
	t.Helper()
	east := map[string]map[string][]byte{
		"failover-upstream":   tc.eastClient(ca),
		"failover-downstream": ca.issue(t, leaf{cn: "east", dns: []string{trustSNI}, usage: x509.ExtKeyUsageServerAuth}),
	}
	west := map[string]map[string][]byte{
		"failover-upstream":   ca.issue(t, leaf{cn: "west", usage: x509.ExtKeyUsageClientAuth}),
		"failover-downstream": tc.westServer(ca),
	}
	var keys []string
	for cl, secrets := range map[string]map[string]map[string][]byte{"east": east, "west": west} {
		kube := tf.Cluster(cl).Sim().Kube.CoreV1().Secrets(trustNS)
		for name, data := range secrets {
			keys = append(keys, strings.Split(string(data["tls.key"]), "\n")[1])
			_ = kube.Delete(ctx, name, metav1.DeleteOptions{})
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeTLS, Data: data}
			if _, err := kube.Create(ctx, s, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	eastPort, westPort := failoverListener(t, east["failover-downstream"]), failoverListener(t, west["failover-downstream"])
	dir := t.TempDir()
	fleettest.Write(t, dir, fleettest.YAML(
		fleettest.Cluster("east", "envoy-gateway").Kubeconfig(kubeconfig).GatewayNamespace(trustNS).Failover("127.0.0.1", eastPort),
		fleettest.Cluster("west", "envoy-gateway").Kubeconfig(kubeconfig).GatewayNamespace(trustNS).Failover("127.0.0.1", westPort),
		fleettest.Service("shop", "checkout", 8080).On("east", "west").HealthCheck(),
		fleettest.Route("shop", "web", "shop.example.com").To("checkout"),
	))
	return dir, keys
}

// trustForbidden: as the service account register creates, the failover
// Secrets are read by name; without that grant failover-trust warns and
// says how to get it.
func trustForbidden(t *testing.T, tf *testfleet.Fleet, ca *pki) {
	ctx := context.Background()
	const user = "gatefed-trust-checker"
	perms := cluster.PermissionsFor("envoy-gateway")
	var withoutSecrets []rbacv1.PolicyRule
	for _, r := range perms.GatewayNamespace {
		if !slices.Contains(r.Resources, "secrets") {
			withoutSecrets = append(withoutSecrets, r)
		}
	}
	kubeconfig, err := tf.FleetUserKubeconfig(user)
	if err != nil {
		t.Fatal(err)
	}
	good := trustCase{eastClient: func(ca *pki) map[string][]byte {
		return ca.issue(t, leaf{cn: "east", usage: x509.ExtKeyUsageClientAuth})
	},
		westServer: func(ca *pki) map[string][]byte {
			return ca.issue(t, leaf{cn: "west", dns: []string{trustSNI}, usage: x509.ExtKeyUsageServerAuth})
		}}
	for _, tc := range []struct {
		name  string
		rules []rbacv1.PolicyRule
		code  int
		sev   check.Severity
		msg   string
	}{
		{"forbidden", withoutSecrets, 0, check.Warning, "Secret trust-edge/failover-upstream in cluster east could not be read: forbidden"},
		{"granted by name", perms.GatewayNamespace, 0, check.Info, "each side trusts the other's certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []string{"east", "west"} {
				grantRole(t, ctx, tf.Cluster(c).Sim().Kube, user, trustNS, tc.rules)
			}
			dir, _ := trustSetup(t, ctx, tf, kubeconfig, ca, good)
			out, errOut, code := runCheckIn(t, dir, false, "-x", "gateway-install,config-status,drift,service-presence,failover-readiness,sizing", "-o", "json", "--failover-probe=false")
			if code != tc.code {
				t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			var rep jsonReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			fs := rep.findings("east", check.FailoverTrust)
			if !hasFinding(fs, tc.sev, tc.msg) {
				t.Fatalf("no %s finding %q: %+v", tc.sev, tc.msg, fs)
			}
			if tc.sev == check.Warning {
				for _, f := range fs {
					if strings.Contains(f.Message, "forbidden") && !strings.Contains(f.Hint, "grant get on secrets named failover-upstream and failover-downstream in namespace trust-edge (gatefed cluster register --service-account east grants exactly that)") {
						t.Errorf("hint: %s", f.Hint)
					}
				}
			}
		})
	}
}

// grantRole gives user the rules in namespace ns (a Role and its binding).
func grantRole(t *testing.T, ctx context.Context, kc kubernetes.Interface, user, ns string, rules []rbacv1.PolicyRule) {
	t.Helper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns}, Rules: rules}
	if _, err := kc.RbacV1().Roles(ns).Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		if _, err := kc.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user}}
	if _, err := kc.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// failoverListener serves a cluster's failover port from its serving
// Secret's data as the gateway does (mutual TLS, the service's SNI only)
// and answers the health path; it returns the port.
func failoverListener(t *testing.T, data map[string][]byte) int {
	t.Helper()
	m := failovertls.Parse("listener", failovertls.SecretType, data)
	cfg, err := failovertls.ServerConfig(m, []string{trustSNI})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go failovertls.Serve(ln, cfg, 200)
	return ln.Addr().(*net.TCPAddr).Port
}

func trustProbes(t *testing.T, rep *jsonReport, cluster string) []check.PathProbe {
	t.Helper()
	for _, c := range rep.Clusters {
		for _, ch := range c.Checks {
			if c.Name == cluster && ch.Name == check.FailoverTrust {
				var d check.TrustDetails
				if err := json.Unmarshal(ch.Details, &d); err != nil {
					t.Fatalf("details: %v: %s", err, ch.Details)
				}
				return d.Probes
			}
		}
	}
	return nil
}
