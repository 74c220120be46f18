package check_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/cluster"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
)

// tlsFleet serves a TLS route on west from a gateway namespace of its own,
// so that the scenario's objects are not touched.
func tlsFleet(kubeconfig string) string {
	return fleettest.YAML(
		fleettest.Cluster("west", "envoy-gateway").Kubeconfig(kubeconfig).GatewayNamespace("tls-edge"),
		fleettest.Service("tls-app", "api", 8080).On("west"),
		fleettest.Route("tls-app", "api", "api.example.com").TLS("api-tls", true).To("api"),
	)
}

// keyMaterial stands in for a certificate and key: it must never be printed.
const keyMaterial = "KEY-MATERIAL-NEVER-PRINTED"

// The Secret of a TLS route must exist in the gateway namespace of every
// cluster that serves it, be a kubernetes.io/tls Secret and hold tls.crt and tls.key.
func TestCheckTLSSecret(t *testing.T) {
	tf := sharedFleet(t)
	ctx := context.Background()
	sim := tf.Cluster("west").Sim()
	for _, ns := range []string{"tls-edge", "tls-app"} {
		if err := sim.EnsureNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.Service(ctx, localfleet.Service{Namespace: "tls-app", Name: "api", Port: 8080, Ready: 1}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fleettest.Write(t, dir, tlsFleet(tf.Kubeconfig))
	secrets := sim.Kube.CoreV1().Secrets("tls-edge")
	put := func(typ corev1.SecretType, data map[string][]byte) {
		t.Helper()
		err := secrets.Delete(ctx, "api-tls", metav1.DeleteOptions{})
		if err != nil && !strings.Contains(err.Error(), "not found") {
			t.Fatal(err)
		}
		if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api-tls"}, Type: typ, Data: data}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	keys := map[string][]byte{"tls.crt": []byte(keyMaterial), "tls.key": []byte(keyMaterial)}

	for _, tc := range []struct {
		name    string
		setup   func()
		code    int
		status  string
		sev     check.Severity
		message []string
		hint    string
	}{
		{"missing", func() {}, 1, "fail", check.Failure,
			[]string{"GlobalRoute tls-app/api: TLS Secret tls-edge/api-tls does not exist in cluster west"},
			"in cluster west: kubectl -n tls-edge create secret tls api-tls --cert=CERT_FILE --key=KEY_FILE (a certificate for api.example.com)"},
		{"wrong type", func() { put(corev1.SecretTypeOpaque, keys) }, 1, "fail", check.Failure,
			[]string{"TLS Secret tls-edge/api-tls in cluster west has type Opaque, want kubernetes.io/tls"},
			"delete it, then in cluster west: kubectl -n tls-edge create secret tls api-tls"},
		{"empty key", func() {
			put(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte(keyMaterial), "tls.key": {}})
		}, 1, "fail", check.Failure,
			[]string{"TLS Secret tls-edge/api-tls in cluster west has no tls.key"}, "kubectl -n tls-edge create secret tls api-tls"},
		{"present", func() { put(corev1.SecretTypeTLS, keys) }, 0, "pass", check.Info,
			[]string{"TLS Secret tls-edge/api-tls exists in cluster west with tls.crt and tls.key"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			out, errOut, code := runCheckIn(t, dir, false, "-x", "gateway-install,config-status,drift,failover-readiness,sizing", "-o", "json")
			if code != tc.code {
				t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if strings.Contains(out+errOut, keyMaterial) {
				t.Fatalf("key material in the output:\n%s\n%s", out, errOut)
			}
			var rep jsonReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got := rep.grid()["west"][check.ServicePresence]; got != tc.status {
				t.Errorf("service-presence %s, want %s: %+v", got, tc.status, rep.findings("west", check.ServicePresence))
			}
			fs := rep.findings("west", check.ServicePresence)
			if !hasFinding(fs, tc.sev, tc.message...) {
				t.Errorf("no %s finding with %q: %+v", tc.sev, tc.message, fs)
			}
			for _, f := range fs {
				if strings.Contains(f.Message, "TLS Secret") {
					if f.Object != "Secret tls-edge/api-tls" {
						t.Errorf("finding object %q, want Secret tls-edge/api-tls", f.Object)
					}
					if !strings.Contains(f.Hint, tc.hint) {
						t.Errorf("hint %q, want it to hold %q", f.Hint, tc.hint)
					}
				}
			}
			// The service itself is still reported.
			if !hasFinding(fs, check.Info, "GlobalService tls-app/api: Service tls-app/api port 8080 has 1 ready endpoint") {
				t.Errorf("the GlobalService is not reported: %+v", fs)
			}
		})
	}

	// As the service account register creates: the TLS Secret is read by
	// name only; without that grant the check warns and says how to get it.
	const user = "gatefed-tls-checker"
	kc := sim.Kube
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	perms := cluster.PermissionsFor("envoy-gateway")
	if _, err := kc.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: perms.Cluster}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.RbacV1().RoleBindings("tls-edge").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := tf.FleetUserKubeconfig(user)
	if err != nil {
		t.Fatal(err)
	}
	userDir := t.TempDir()
	fleettest.Write(t, userDir, tlsFleet(kubeconfig))
	for _, tc := range []struct {
		name   string
		rules  []rbacv1.PolicyRule
		code   int
		status string
		sev    check.Severity
		msg    string
	}{
		{"forbidden", perms.GatewayNamespace, 0, "warn", check.Warning, "TLS Secret tls-edge/api-tls in cluster west could not be read: forbidden"},
		{"granted by name", perms.WithTLSSecrets([]string{"api-tls"}).GatewayNamespace, 0, "pass", check.Info, "TLS Secret tls-edge/api-tls exists in cluster west"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: "tls-edge"}, Rules: tc.rules}
			if _, err := kc.RbacV1().Roles("tls-edge").Update(ctx, role, metav1.UpdateOptions{}); err != nil {
				if _, err := kc.RbacV1().Roles("tls-edge").Create(ctx, role, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, code := runCheckIn(t, userDir, false, "-x", "gateway-install,config-status,drift,failover-readiness,sizing", "-o", "json")
			if code != tc.code {
				t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			var rep jsonReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			fs := rep.findings("west", check.ServicePresence)
			if got := rep.grid()["west"][check.ServicePresence]; got != tc.status || !hasFinding(fs, tc.sev, tc.msg) {
				t.Errorf("service-presence %s, want %s with a %s finding %q: %+v", got, tc.status, tc.sev, tc.msg, fs)
			}
		})
	}
}
