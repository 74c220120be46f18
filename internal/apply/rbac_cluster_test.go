package apply

import (
	"context"
	"fmt"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/cluster"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/envoygateway"
)

// With exactly the permissions "gatefed cluster register --service-account"
// grants, apply creates, skips unchanged objects and prunes, including the
// ReferenceGrants it writes in service namespaces.
func TestApplyLeastPrivilege(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if cluster.ApplySetParentName != DefaultParentName {
		t.Fatalf("register grants ConfigMap %q, apply uses %q", cluster.ApplySetParentName, DefaultParentName)
	}
	user := "deployer-" + e.ns
	perms := cluster.PermissionsFor("envoy-gateway")
	for _, c := range tf.Clusters {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
		name := "gatefed-" + e.ns
		if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: perms.Cluster}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}, Subjects: subject}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for ns, rules := range map[string][]rbacv1.PolicyRule{e.ns: perms.GatewayNamespace, e.svcNS: perms.ServiceNamespace} {
			if _, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}, Subjects: subject}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	kubeconfig, err := tf.FleetUserKubeconfig(user)
	if err != nil {
		t.Fatal(err)
	}

	render.Register(envoygateway.New())
	targets := func(routes int) []Target {
		var docs []fleettest.Doc
		for i, c := range tf.Clusters {
			docs = append(docs, fleettest.Cluster(c.Name, "envoy-gateway").Kubeconfig(kubeconfig).
				Region(fmt.Sprintf("r%d", i/2)).GatewayNamespace(e.ns).Failover(fmt.Sprintf("192.0.2.%d", i+1), 0))
		}
		docs = append(docs, fleettest.Service(e.svcNS, "checkout", 8080).HealthCheck())
		for r := range routes {
			docs = append(docs, fleettest.Route(e.svcNS, fmt.Sprintf("shop-%d", r), fmt.Sprintf("shop%d.example.com", r)).To("checkout"))
		}
		f := fleettest.Load(t, fleettest.YAML(docs...))
		res, err := render.Render(f, render.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out []Target
		for _, co := range res.Clusters {
			out = append(out, Target{Cluster: co.Cluster, Objects: co.Objects})
		}
		return out
	}
	kinds := func(ts []Target) map[string]bool {
		m := map[string]bool{}
		for _, o := range ts[0].Objects {
			m[o.GetKind()+" in "+map[bool]string{true: "service", false: "gateway"}[o.GetNamespace() == e.svcNS]+" namespace"] = true
		}
		return m
	}
	two := targets(2)
	if k := kinds(two); !k["ReferenceGrant in service namespace"] || !k["HTTPRoute in gateway namespace"] {
		t.Fatalf("the render must write in both namespaces: %v", k)
	}
	total := len(two[0].Objects)

	_, res := e.apply(ctx, e.engine(), two)
	expectOK(t, res)
	expectCounts(t, res, [5]int{total, 0, 0, 0, 0})
	e.reqs.reset()
	_, res = e.apply(ctx, e.engine(), two)
	expectOK(t, res)
	expectCounts(t, res, [5]int{0, 0, 0, total, 0})
	if n := e.reqs.total(); n != 0 {
		t.Errorf("second apply sent %d writes: %v", n, e.reqs.log)
	}
	one := targets(1)
	_, res = e.apply(ctx, e.engine(), one)
	expectOK(t, res)
	pruned := total - len(one[0].Objects)
	if pruned == 0 {
		t.Fatal("dropping a route must leave objects to prune")
	}
	expectCounts(t, res, [5]int{0, 0, pruned, len(one[0].Objects), 0})
	// And diff (dry runs included) works with the same permissions.
	changed := targets(3)
	p := e.engine().Plan(ctx, changed)
	e.engine().Diff(ctx, p)
	if p.Failed() || !p.Pending() {
		t.Errorf("diff with least privilege: failed=%v pending=%v", p.Failed(), p.Pending())
		for _, cp := range p.Clusters {
			t.Logf("%s: %v %v", cp.Name, cp.Err, cp.Errors)
		}
	}
}
