package check_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/check"
	"github.com/gatefed/gatefed/internal/fleettest"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// gateway-install fails a gloo cluster whose routes fail over while Gloo's
// control plane runs the open-source image, and passes it on Gloo Edge
// Enterprise; a cluster whose routes do not fail over is not asked.
func TestGatewayInstallNeedsGlooEnterpriseToFailOver(t *testing.T) {
	tf := testfleet.StartT(t, localfleet.Options{Clusters: []localfleet.ClusterOptions{{Name: "g"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sim := tf.Cluster("g").Sim()
	findings := func(image string, failover bool) []check.Finding {
		t.Helper()
		if err := sim.Kube.AppsV1().Deployments("gloo-system").Delete(ctx, "gloo", metav1.DeleteOptions{}); err != nil && !strings.Contains(err.Error(), "not found") {
			t.Fatal(err)
		}
		if err := sim.Deployment(ctx, localfleet.Deployment{Namespace: "gloo-system", Name: "gloo", Available: true, Container: "gloo", Image: image}); err != nil {
			t.Fatal(err)
		}
		on := []string{"g"}
		if failover {
			on = append(on, "far")
		}
		f := fleettest.Load(t, fleettest.YAML(
			fleettest.Cluster("g", "gloo").Kubeconfig(tf.Kubeconfig).Region("r1"),
			fleettest.Cluster("far", "gloo").Kubeconfig(tf.Kubeconfig).Region("r2").Failover("192.0.2.20", 0),
			fleettest.Service("shop", "checkout", 8080).On(on...).HealthCheck(),
			fleettest.Route("shop", "web", "shop.example.com").On("g").To("checkout"),
		))
		rep, err := check.Run(ctx, f, check.Options{Clusters: []string{"g"}, Timeout: time.Minute,
			Exclude: []string{check.ConfigStatus, check.Drift, check.ServicePresence, check.FailoverReadiness, check.Sizing}})
		if err != nil {
			t.Fatal(err)
		}
		var out []check.Finding
		for _, fd := range rep.Clusters[0].Check(check.GatewayInstall).Findings {
			if strings.Contains(fd.Message, "Enterprise") {
				out = append(out, fd)
			}
		}
		return out
	}
	got := findings("quay.io/solo-io/gloo:1.19.6", true)
	if len(got) != 1 || got[0].Severity != check.Failure || !strings.Contains(got[0].Message, "routes of cluster g fail over, which needs Gloo Edge Enterprise, and Deployment gloo-system/gloo runs quay.io/solo-io/gloo:1.19.6") ||
		!strings.Contains(got[0].Hint, "open-source Gloo reports an error on an Upstream with failover") {
		t.Errorf("open source: %+v", got)
	}
	if got := findings("quay.io/solo-io/gloo-ee:1.19.6", true); len(got) != 1 || got[0].Severity != check.Info {
		t.Errorf("enterprise: %+v", got)
	}
	if got := findings("quay.io/solo-io/gloo:1.19.6", false); len(got) != 0 {
		t.Errorf("open source without failover: %+v, want nothing about the edition", got)
	}
}
