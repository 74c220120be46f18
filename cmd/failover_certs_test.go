package cmd_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/fleettest"
)

// caFiles writes a CA's certificate and key to a directory of the test's
// own (the user's files) and returns their paths.
func caFiles(t *testing.T, cn string) (certFile, keyFile string, ca *failovertls.Authority) {
	t.Helper()
	dir := t.TempDir()
	ca, keyPEM, err := failovertls.NewAuthorityPEM(cn, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if err := os.WriteFile(certFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, ca
}

// failover-certs issue refuses bad input with exit status 2 before any
// cluster is touched (the fleet's clusters are unreachable here), and a dry
// run lists names, DNS names and NotAfter only.
func TestFailoverCertsIssueInput(t *testing.T) {
	dir := t.TempDir()
	fleettest.Write(t, dir, clusters+svc)
	certFile, keyFile, _ := caFiles(t, "fleet-failover-ca")
	otherCert, otherKey, _ := caFiles(t, "other-ca")
	notPEM := filepath.Join(dir, "notpem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--kubeconfig", filepath.Join(dir, "none"), "failover-certs", "issue"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no CA", nil, "--ca-cert and --ca-key are required"},
		{"missing file", []string{"--ca-cert", filepath.Join(dir, "nope.crt"), "--ca-key", keyFile}, "--ca-cert: open " + filepath.Join(dir, "nope.crt")},
		{"not PEM", []string{"--ca-cert", notPEM, "--ca-key", keyFile}, notPEM + ": no PEM CERTIFICATE block first in the file"},
		{"key of another CA", []string{"--ca-cert", certFile, "--ca-key", otherKey}, otherKey + ": the key does not belong to the CA certificate in " + certFile + " (CN=fleet-failover-ca)"},
		{"key not PEM", []string{"--ca-cert", otherCert, "--ca-key", notPEM}, notPEM + ": no PEM block"},
		{"unknown cluster", []string{"--ca-cert", certFile, "--ca-key", keyFile, "--cluster", "mars"}, `unknown cluster "mars"`},
		{"bad validity", []string{"--ca-cert", certFile, "--ca-key", keyFile, "--validity", "-1h"}, "--validity must be positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runGatefed(t, dir, append(base, c.args...)...)
			if code != 2 || !strings.Contains(errOut, c.want) || out != "" {
				t.Fatalf("exit %d, want 2 and %q\nstdout:\n%s\nstderr:\n%s", code, c.want, out, errOut)
			}
			if strings.Contains(errOut, "PRIVATE KEY") {
				t.Fatalf("an error shows a key:\n%s", errOut)
			}
		})
	}
	t.Run("dry run", func(t *testing.T) {
		code, out, errOut := runGatefed(t, dir, append(base, "--ca-cert", certFile, "--ca-key", keyFile, "--dry-run")...)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{
			"us-east: would issue Secret gloo-system/failover-upstream (clientAuth, CN us-east, not after ",
			"eu-west: would issue Secret envoy-gateway-system/failover-downstream (serverAuth, CN eu-west, DNS names checkout-8080.shop.failover.gatefed.internal, not after ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("dry run: no %q in:\n%s", want, out)
			}
		}
		if strings.Contains(out, "BEGIN") || len(strings.Split(strings.TrimSpace(out), "\n")) != 4 {
			t.Errorf("dry run output:\n%s", out)
		}
	})
}

// failover-certs issue applies both Secrets in each cluster's gateway
// namespace with the SNIs it serves and the right usages; a rerun rotates;
// check's failover-trust passes with what it issued.
func TestFailoverCertsIssue(t *testing.T) {
	f, err := sharedTestFleet()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "failover-certs"
	if err := testFleetNamespace(f, ns); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fleettest.Write(t, dir, fleettest.YAML(
		fleettest.Cluster("east", "envoy-gateway").Kubeconfig(f.Kubeconfig).Context("c1").GatewayNamespace(ns).Failover("127.0.0.1", 1),
		fleettest.Cluster("west", "gloo").Kubeconfig(f.Kubeconfig).Context("c2").GatewayNamespace(ns).GatewayName("gateway-proxy").Failover("127.0.0.1", 2),
		fleettest.Service("shop", "checkout", 8080).On("east", "west").HealthCheck(),
		fleettest.Service("shop", "cart", 80).On("west"),
		fleettest.Route("shop", "web", "shop.example.com").To("checkout"),
	))
	certFile, keyFile, ca := caFiles(t, "fleet-failover-ca")
	issue := func() map[string]*failovertls.Material {
		t.Helper()
		code, out, errOut := runGatefed(t, dir, "failover-certs", "issue", "--ca-cert", certFile, "--ca-key", keyFile)
		if code != 0 || strings.Count(out, ": issued Secret ") != 4 || strings.Contains(out+errOut, "BEGIN") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		got := map[string]*failovertls.Material{}
		for _, c := range []string{"c1", "c2"} {
			cs, err := f.Cluster(c).Clientset()
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"failover-upstream", "failover-downstream"} {
				s, err := cs.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if s.Labels["gatefed.dev/issued-by"] != "failover-certs" || s.ManagedFields[0].Manager != "gatefed-failover-certs" || s.ManagedFields[0].Operation != "Apply" {
					t.Errorf("%s %s: labels %v, managed fields %+v", c, name, s.Labels, s.ManagedFields)
				}
				got[c+"/"+name] = failovertls.Parse(ns+"/"+name, string(s.Type), s.Data)
			}
		}
		return got
	}
	first := issue()
	for key, m := range first {
		if len(m.Problems) > 0 || !m.Usable() || !m.CAs[0].Equal(ca.Cert()) {
			t.Fatalf("%s: %+v", key, m.Problems)
		}
		want := x509.ExtKeyUsageServerAuth
		if strings.HasSuffix(key, "upstream") {
			want = x509.ExtKeyUsageClientAuth
		}
		if !slices.Equal(m.Leaf().ExtKeyUsage, []x509.ExtKeyUsage{want}) {
			t.Errorf("%s: usage %v", key, m.Leaf().ExtKeyUsage)
		}
	}
	if got := first["c1/failover-downstream"].Leaf().DNSNames; !slices.Equal(got, []string{"checkout-8080.shop.failover.gatefed.internal"}) {
		t.Errorf("east serves checkout: DNS names %v", got)
	}
	if got := first["c2/failover-downstream"].Leaf().DNSNames; !slices.Equal(got, []string{"cart-80.shop.failover.gatefed.internal", "checkout-8080.shop.failover.gatefed.internal"}) {
		t.Errorf("west serves cart and checkout: DNS names %v", got)
	}
	if cn := first["c1/failover-upstream"].Leaf().Subject.CommonName; cn != "east" {
		t.Errorf("east's client certificate: CN %q", cn)
	}
	second := issue()
	for key := range first {
		if first[key].Leaf().Equal(second[key].Leaf()) || first[key].Leaf().PublicKey.(*ecdsa.PublicKey).Equal(second[key].Leaf().PublicKey) {
			t.Errorf("%s: a rerun did not rotate the certificate and key", key)
		}
	}
	code, out, errOut := runGatefed(t, dir, "check", "-x", "gateway-install,config-status,drift,service-presence,failover-readiness,sizing", "--failover-probe=false")
	if code != 0 || !strings.Contains(out, "CN=fleet-failover-ca") {
		t.Fatalf("check after issuing: exit %d\n%s\n%s", code, out, errOut)
	}
}
