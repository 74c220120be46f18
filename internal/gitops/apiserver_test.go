package gitops

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// installCRD creates a CRD and waits until the API server serves it.
func installCRD(t *testing.T, client apiextclient.Interface, crd *apiextv1.CustomResourceDefinition) {
	t.Helper()
	ctx := context.Background()
	api := client.ApiextensionsV1().CustomResourceDefinitions()
	if _, err := api.Create(ctx, crd.DeepCopy(), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create CRD %s: %v", crd.Name, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		cur, err := api.Get(ctx, crd.Name, metav1.GetOptions{})
		if err == nil {
			for _, c := range cur.Status.Conditions {
				if c.Type == apiextv1.Established && c.Status == apiextv1.ConditionTrue {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD %s not established: %v", crd.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// strictApply server-side applies obj with unknown and duplicate fields rejected.
func strictApply(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) error {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	force := true
	_, err = dyn.Resource(gvr).Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: "gatefed", Force: &force, FieldValidation: metav1.FieldValidationStrict})
	return err
}

// The objects install into a real API server that serves the Argo CD and
// Flux CRDs, with strict field validation and the CRDs' CEL rules.
func TestObjectsApplyToAPIServer(t *testing.T) {
	fl := testfleet.StartT(t, localfleet.Options{Count: 1, CRDs: localfleet.NoCRDs})
	c := fl.Clusters[0]
	client, err := apiextclient.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	installCRD(t, client, argoCRD(t))
	installCRD(t, client, fluxCRD(t))
	dyn, err := c.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sim := c.Sim()
	for _, ns := range []string{DefaultArgoNamespace, DefaultFluxNamespace} {
		if err := sim.EnsureNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	appSets := schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applicationsets"}
	kustomizations := schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}

	f, clusters := testFleet(t)
	argo := &Options{Tool: ArgoCD, Dir: "manifests", Repo: "https://git.example.com/platform/gateways.git", LocalCluster: "hub", Server: fakeServers}
	flux := &Options{Tool: Flux, Dir: "manifests", LocalCluster: "hub"}
	// With waves: the RollingSync strategy, dependsOn and the health checks.
	argoWaves := &Options{Tool: ArgoCD, Dir: "manifests", Repo: argo.Repo, Server: fakeServers, Waves: testWaves}
	fluxWaves := &Options{Tool: Flux, Dir: "manifests", LocalCluster: "hub", Waves: testWaves}
	applied := 0
	for _, o := range []*Options{argoWaves, fluxWaves, argo, flux} {
		if err := o.Complete(f, clusters); err != nil {
			t.Fatal(err)
		}
		objs, err := Objects(clusters, o)
		if err != nil {
			t.Fatal(err)
		}
		gvr := appSets
		if o.Tool == Flux {
			gvr = kustomizations
		}
		for _, obj := range objs {
			if err := strictApply(ctx, dyn, gvr, obj); err != nil {
				t.Errorf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
				continue
			}
			applied++
		}
	}
	if applied != 8 {
		t.Errorf("applied %d objects, want 8 (one ApplicationSet, three Kustomizations, with and without waves)", applied)
	}
	got, err := dyn.Resource(kustomizations).Namespace(DefaultFluxNamespace).Get(ctx, "gatefed-us-east", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if secret, _, _ := unstructured.NestedString(got.Object, "spec", "kubeConfig", "secretRef", "name"); secret != "us-east-kubeconfig" {
		t.Errorf("stored kubeConfig secret = %q", secret)
	}

	// The server is strict: a misspelt field and a CEL violation are refused.
	objs, _ := Objects(clusters, flux)
	bad := objs[0].DeepCopy() // eu-west, a remote cluster: it has a secretRef
	unstructured.SetNestedField(bad.Object, "x", "spec", "kubeConfig", "configMapRef", "name")
	err = strictApply(ctx, dyn, kustomizations, bad)
	if err == nil || !strings.Contains(err.Error(), "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef") {
		t.Errorf("both kubeConfig references: err = %v", err)
	}
	bad = objs[0].DeepCopy()
	unstructured.SetNestedField(bad.Object, true, "spec", "prunee")
	if err := strictApply(ctx, dyn, kustomizations, bad); err == nil || !strings.Contains(err.Error(), ".spec.prunee: field not declared in schema") {
		t.Errorf("unknown field: err = %v", err)
	}
}
