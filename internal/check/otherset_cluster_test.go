package check_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/apply"
	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/render"
	"github.com/gatefed/gatefed/internal/render/gloo"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// otherNamespace is the gateway namespace of another fleet that shares the
// scenario's clusters and names them the same.
const otherNamespace = "other-gateway"

// otherSetObject is an object of the other fleet's ApplySet: gatefed's
// labels for the same cluster name, the other gateway namespace's set.
func otherSetObject(apiVersion, kind, namespace, name, cluster string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{
			"name": name, "namespace": namespace,
			"labels": map[string]any{
				render.LabelManagedBy: render.ManagedByValue,
				render.LabelCluster:   cluster,
				apply.LabelPartOf:     apply.DefaultApplySetID(otherNamespace),
			},
		},
		"spec": spec,
	}}
}

// sizingOf is a cluster's sizing details in a JSON report.
func sizingOf(t *testing.T, rep *jsonReport, cluster string) check.SizingDetails {
	t.Helper()
	var d check.SizingDetails
	for _, c := range rep.Clusters {
		for _, ch := range c.Checks {
			if c.Name == cluster && ch.Name == check.Sizing {
				if err := json.Unmarshal(ch.Details, &d); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return d
}

// TestCheckLeavesOtherApplySetsOut puts another fleet's objects on east and
// west: gatefed's labels with the same cluster names, but members of the
// ApplySet of another gateway namespace. East's VirtualService is Rejected,
// west's HTTPRoute has no verdict and attaches to the other gateway, and a
// ReferenceGrant sits in west's service namespace shop, where gatefed renders
// one too. config-status and sizing must report exactly what they reported
// before, with the lists shared by both checks and without sizing.
func TestCheckLeavesOtherApplySetsOut(t *testing.T) {
	s := setupScenario(t)
	ctx := context.Background()
	runs := [][]string{
		{"--cluster", "east", "--cluster", "west", "-x", "gateway-install,drift,service-presence,failover-readiness", "-o", "json"},
		{"--cluster", "east", "--cluster", "west", "-x", "gateway-install,drift,service-presence,failover-readiness,sizing", "-o", "json"},
	}
	report := func(args []string) *jsonReport {
		t.Helper()
		out, errOut, code := runCheck(t, s, false, args...)
		if code != 0 && code != 1 {
			t.Fatalf("%v: exit status %d\n%s\n%s", args, code, out, errOut)
		}
		var rep jsonReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: stdout is not JSON: %v\n%s", args, err, out)
		}
		return &rep
	}
	before := make([]*jsonReport, len(runs))
	for i, args := range runs {
		before[i] = report(args)
	}

	east, west := s.tf.Cluster("east").Sim(), s.tf.Cluster("west").Sim()
	type placed struct {
		sim *testfleet.Sim
		gvr schema.GroupVersionResource
		obj *unstructured.Unstructured
	}
	others := []placed{
		{east, testfleet.UpstreamGVR, otherSetObject("gloo.solo.io/v1", "Upstream", otherNamespace, "gatefed-shop-checkout", "east", map[string]any{
			"static": map[string]any{"hosts": []any{
				map[string]any{"addr": "10.9.0.1", "port": int64(8080)},
				map[string]any{"addr": "10.9.0.2", "port": int64(8080)},
			}},
		})},
		{east, testfleet.VirtualServiceGVR, otherSetObject("gateway.solo.io/v1", "VirtualService", otherNamespace, "gatefed-shop-web", "east", map[string]any{
			"virtualHost": map[string]any{
				"domains": []any{"other.example.com"},
				"routes": []any{map[string]any{
					"matchers":    []any{map[string]any{"prefix": "/"}},
					"routeAction": map[string]any{"single": map[string]any{"upstream": map[string]any{"name": "gatefed-shop-checkout", "namespace": otherNamespace}}},
				}},
			},
		})},
		{west, testfleet.HTTPRouteGVR, otherSetObject("gateway.networking.k8s.io/v1", "HTTPRoute", otherNamespace, "gatefed-shop-web", "west", map[string]any{
			"parentRefs": []any{map[string]any{"name": "eg", "namespace": otherNamespace}},
			"hostnames":  []any{"other.example.com"},
			"rules": []any{map[string]any{
				"backendRefs": []any{map[string]any{"name": "checkout", "namespace": "shop", "port": int64(8080)}},
			}},
		})},
		{west, testfleet.ReferenceGrantGVR, otherSetObject("gateway.networking.k8s.io/v1", "ReferenceGrant", "shop", "gatefed-other-gateway", "west", map[string]any{
			"from": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": otherNamespace}},
			"to":   []any{map[string]any{"group": "", "kind": "Service"}},
		})},
	}
	for _, o := range others {
		if err := o.sim.EnsureNamespace(ctx, o.obj.GetNamespace()); err != nil {
			t.Fatal(err)
		}
		gvr := o.gvr
		if _, err := o.sim.Dynamic.Resource(gvr).Namespace(o.obj.GetNamespace()).Create(ctx, o.obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s %s/%s: %v", o.obj.GetKind(), o.obj.GetNamespace(), o.obj.GetName(), err)
		}
		t.Cleanup(func() {
			err := o.sim.Dynamic.Resource(gvr).Namespace(o.obj.GetNamespace()).Delete(context.Background(), o.obj.GetName(), metav1.DeleteOptions{})
			if err != nil {
				t.Errorf("delete %s %s/%s: %v", o.obj.GetKind(), o.obj.GetNamespace(), o.obj.GetName(), err)
			}
		})
	}
	if err := east.GlooStatus(ctx, testfleet.VirtualServiceGVR, otherNamespace, "gatefed-shop-web",
		testfleet.GlooStatus{State: gloo.StateRejected, Reason: "the other fleet's route is broken"}); err != nil {
		t.Fatal(err)
	}
	// By gatefed's labels alone, the other fleet's objects are east's and west's.
	for _, o := range others {
		sel := render.LabelManagedBy + "=" + render.ManagedByValue + "," + render.LabelCluster + "=" + o.obj.GetLabels()[render.LabelCluster]
		list, err := o.sim.Dynamic.Resource(o.gvr).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, it := range list.Items {
			found = found || (it.GetNamespace() == o.obj.GetNamespace() && it.GetName() == o.obj.GetName())
		}
		if !found {
			t.Fatalf("%s %s/%s is not selected by %s", o.obj.GetKind(), o.obj.GetNamespace(), o.obj.GetName(), sel)
		}
	}

	for i, args := range runs {
		after := report(args)
		if strings.Contains(jsonText(t, after), otherNamespace) {
			t.Errorf("%v: the report mentions the other fleet's objects:\n%s", args, jsonText(t, after))
		}
		for _, cluster := range []string{"east", "west"} {
			for _, name := range []string{check.ConfigStatus, check.Sizing} {
				b, a := before[i].findings(cluster, name), after.findings(cluster, name)
				if !reflect.DeepEqual(b, a) {
					t.Errorf("%v: %s %s findings changed with another fleet's objects on the cluster:\nbefore %+v\nafter  %+v", args, cluster, name, b, a)
				}
				if bs, as := before[i].grid()[cluster][name], after.grid()[cluster][name]; bs != as {
					t.Errorf("%v: %s %s status %q, before %q", args, cluster, name, as, bs)
				}
			}
			if bd, ad := sizingOf(t, before[i], cluster), sizingOf(t, after, cluster); !reflect.DeepEqual(bd, ad) {
				t.Errorf("%v: %s sizing changed with another fleet's objects on the cluster:\nbefore %+v\nafter  %+v", args, cluster, bd, ad)
			}
		}
	}
}

func jsonText(t *testing.T, rep *jsonReport) string {
	t.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
