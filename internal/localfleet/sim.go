package localfleet

// No controller runs in the test fleet. The helpers here write what the
// controllers would write, so tests see realistic objects and statuses:
//
//   - Service: a Service and an EndpointSlice with ready and not-ready endpoints
//     (what the endpointslice controller writes for pods).
//   - Deployment: a Deployment and its status subresource with Available
//     True or False (what the deployment controller writes).
//   - MergeStatus: a status body in a gateway's own shape, which its
//     provider package builds, merged into the object's status.
//   - Conditions: Gateway API style status.conditions on GatewayClass,
//     Gateway and other objects with a status subresource.
//   - RouteStatus: status.parents[] of HTTPRoute, TLSRoute, GRPCRoute (one entry
//     per parent Gateway and controllerName, each with conditions).
//   - PolicyStatus: status.ancestors[] of policies attached to Gateways.

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"encoding/json"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// Field managers of the simulated controllers.
const (
	endpointSliceManager = "endpointslice-controller.k8s.io"
	deploymentManager    = "deployment-controller"
	simManager           = "testfleet-sim"
)

// Sim writes controller output into one cluster.
type Sim struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
}

// NewSim returns a Sim for a cluster's client configuration.
func NewSim(cfg *rest.Config) (*Sim, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Sim{Kube: kube, Dynamic: dyn}, nil
}

// Sim returns a Sim acting as the cluster's admin.
func (c *Cluster) Sim() *Sim {
	s, err := NewSim(c.Config)
	if err != nil {
		panic(fmt.Sprintf("cluster %s: admin config: %v", c.Name, err)) // the config is built by the fleet and always valid
	}
	return s
}

// EnsureNamespace creates a namespace unless it exists.
func (s *Sim) EnsureNamespace(ctx context.Context, name string) error {
	_, err := s.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Service is a Service with simulated endpoints.
type Service struct {
	Namespace string
	Name      string
	// Port is the Service's port, named "http", and its endpoints' port (default 8080).
	Port int32
	// Ready and NotReady are the numbers of endpoints in each state.
	Ready, NotReady int
	Labels          map[string]string
}

// Service creates or updates a Service (selector app=<name>) and one
// EndpointSlice <name>-sim with the requested endpoints, as the
// endpointslice controller would for matching pods. Calling it again
// replaces the endpoints. The namespace is created if needed.
func (s *Sim) Service(ctx context.Context, svc Service) error {
	if svc.Port == 0 {
		svc.Port = 8080
	}
	if err := s.EnsureNamespace(ctx, svc.Namespace); err != nil {
		return err
	}
	service := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name, Labels: svc.Labels},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": svc.Name},
			Ports: []corev1.ServicePort{{
				Name: "http", Protocol: corev1.ProtocolTCP, Port: svc.Port, TargetPort: intstr.FromInt32(svc.Port),
			}},
		},
	}
	if err := s.apply(ctx, corev1.SchemeGroupVersion.WithResource("services"), service, simManager); err != nil {
		return fmt.Errorf("service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	slice := &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: svc.Namespace,
			Name:      svc.Name + "-sim",
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   endpointSliceManager,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{
			Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(svc.Port),
		}},
		Endpoints: []discoveryv1.Endpoint{},
	}
	base := addressBase(svc.Namespace + "/" + svc.Name)
	for i := range svc.Ready + svc.NotReady {
		ready := i < svc.Ready
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{fmt.Sprintf("10.%d.%d.%d", base, i/250, i%250+1)},
			Conditions: discoveryv1.EndpointConditions{
				Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false),
			},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: svc.Namespace, Name: fmt.Sprintf("%s-%d", svc.Name, i)},
		})
	}
	if err := s.apply(ctx, discoveryv1.SchemeGroupVersion.WithResource("endpointslices"), slice, endpointSliceManager); err != nil {
		return fmt.Errorf("endpointslice %s/%s: %w", svc.Namespace, slice.Name, err)
	}
	return nil
}

func addressBase(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return 100 + int(h.Sum32()%100)
}

// Deployment is a Deployment with a simulated status.
type Deployment struct {
	Namespace string
	Name      string
	// Replicas wanted (default 1).
	Replicas int32
	// Available sets condition Available True (all replicas ready) or False (none ready).
	Available bool
	// Labels of the Deployment, besides app=<name>.
	Labels map[string]string
	// Container is the name of its one container (default "app").
	Container string
	// Image is its container's image (default registry.k8s.io/pause:3.10).
	Image string
}

// Deployment creates the Deployment unless it exists (selector
// app=<name>), then writes its status
// subresource as the deployment controller would.
func (s *Sim) Deployment(ctx context.Context, d Deployment) error {
	if d.Replicas == 0 {
		d.Replicas = 1
	}
	if err := s.EnsureNamespace(ctx, d.Namespace); err != nil {
		return err
	}
	if d.Container == "" {
		d.Container = "app"
	}
	if d.Image == "" {
		d.Image = "registry.k8s.io/pause:3.10"
	}
	api := s.Kube.AppsV1().Deployments(d.Namespace)
	labels := map[string]string{"app": d.Name}
	objLabels := map[string]string{"app": d.Name}
	for k, v := range d.Labels {
		objLabels[k] = v
	}
	obj := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: d.Name, Labels: objLabels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(d.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: d.Container, Image: d.Image}}},
			},
		},
	}
	if _, err := api.Create(ctx, obj, metav1.CreateOptions{FieldManager: simManager}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := ptr.Deref(cur.Spec.Replicas, 1)
		ready := int32(0)
		cond := appsv1.DeploymentCondition{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse,
			Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability.",
		}
		if d.Available {
			ready = want
			cond.Status, cond.Reason, cond.Message = corev1.ConditionTrue, "MinimumReplicasAvailable", "Deployment has minimum availability."
		}
		now := metav1.Now()
		cond.LastUpdateTime, cond.LastTransitionTime = now, now
		cur.Status = appsv1.DeploymentStatus{
			ObservedGeneration:  cur.Generation,
			Replicas:            want,
			UpdatedReplicas:     want,
			ReadyReplicas:       ready,
			AvailableReplicas:   ready,
			UnavailableReplicas: want - ready,
			Conditions: []appsv1.DeploymentCondition{cond, {
				Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
				Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", d.Name+"-sim"), LastUpdateTime: now, LastTransitionTime: now,
			}},
		}
		_, err = api.UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: deploymentManager})
		return err
	})
}

// MergeStatus merges body into the object's status, as a controller
// writing its own status shape does: through the status subresource, or,
// for a kind without one, the object itself. Fields body does not
// name are kept.
func (s *Sim) MergeStatus(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, body map[string]any) error {
	patch, err := json.Marshal(map[string]any{"status": body})
	if err != nil {
		return err
	}
	api := s.Dynamic.Resource(gvr).Namespace(namespace)
	opts := metav1.PatchOptions{FieldManager: simManager}
	_, err = api.Patch(ctx, name, types.MergePatchType, patch, opts, "status")
	if apierrors.IsNotFound(err) {
		_, err = api.Patch(ctx, name, types.MergePatchType, patch, opts)
	}
	if err != nil {
		return fmt.Errorf("status of %s %s: %w", gvr.Resource, joinName(namespace, name), err)
	}
	return nil
}

// Condition is a Gateway API style status condition.
type Condition struct {
	Type    string
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// True is a condition with status True; the reason defaults to the type.
func True(typ, reason string) Condition {
	if reason == "" {
		reason = typ
	}
	return Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: reason}
}

func (c Condition) object(generation int64, now string) map[string]any {
	status := c.Status
	if status == "" {
		status = metav1.ConditionUnknown
	}
	reason := c.Reason
	if reason == "" {
		reason = "Pending"
	}
	return map[string]any{
		"type": c.Type, "status": string(status), "reason": reason, "message": c.Message,
		"lastTransitionTime": now, "observedGeneration": generation,
	}
}

// mergeConditions replaces conditions of the same type and keeps the others.
func mergeConditions(existing []any, conds []Condition, generation int64) []any {
	now := time.Now().UTC().Format(time.RFC3339)
	out := []any{}
	replaced := map[string]bool{}
	for _, c := range conds {
		replaced[c.Type] = true
	}
	for _, e := range existing {
		if m, ok := e.(map[string]any); ok && !replaced[fmt.Sprint(m["type"])] {
			out = append(out, m)
		}
	}
	for _, c := range conds {
		out = append(out, c.object(generation, now))
	}
	return out
}

// Conditions sets status.conditions through the status subresource, as a
// controller does on GatewayClass (namespace ""), Gateway or a gateway's
// own kinds. Conditions of other types are kept.
func (s *Sim) Conditions(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, conds ...Condition) error {
	return s.updateStatus(ctx, gvr, namespace, name, func(obj *unstructured.Unstructured) error {
		existing, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		return unstructured.SetNestedSlice(obj.Object, mergeConditions(existing, conds, obj.GetGeneration()), "status", "conditions")
	})
}

// ParentStatus is a route's status for one parent Gateway, or a policy's for one ancestor.
type ParentStatus struct {
	// ControllerName is the controller reporting the status (required).
	ControllerName string
	// Gateway is "namespace/name", or "name" in the object's namespace.
	Gateway     string
	SectionName string
	Conditions  []Condition
}

func (p ParentStatus) ref(namespace string) map[string]any {
	ns, name := namespace, p.Gateway
	if i := strings.IndexByte(p.Gateway, '/'); i >= 0 {
		ns, name = p.Gateway[:i], p.Gateway[i+1:]
	}
	ref := map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": ns, "name": name}
	if p.SectionName != "" {
		ref["sectionName"] = p.SectionName
	}
	return ref
}

// RouteStatus sets status.parents[] of an HTTPRoute, TLSRoute or GRPCRoute:
// the entry for each given parent and controller is replaced, others are kept.
func (s *Sim) RouteStatus(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, parents ...ParentStatus) error {
	return s.parentStatus(ctx, gvr, namespace, name, "parents", "parentRef", parents)
}

// PolicyStatus sets status.ancestors[] of a policy attached to Gateways,
// like RouteStatus.
func (s *Sim) PolicyStatus(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, ancestors ...ParentStatus) error {
	return s.parentStatus(ctx, gvr, namespace, name, "ancestors", "ancestorRef", ancestors)
}

func (s *Sim) parentStatus(ctx context.Context, gvr schema.GroupVersionResource, namespace, name, listField, refField string, parents []ParentStatus) error {
	return s.updateStatus(ctx, gvr, namespace, name, func(obj *unstructured.Unstructured) error {
		existing, _, _ := unstructured.NestedSlice(obj.Object, "status", listField)
		key := func(ref any, controller any) string {
			b, _ := json.Marshal(ref)
			return string(b) + "|" + fmt.Sprint(controller)
		}
		entries := map[string]map[string]any{}
		var order []string
		for _, e := range existing {
			if m, ok := e.(map[string]any); ok {
				k := key(m[refField], m["controllerName"])
				if _, seen := entries[k]; !seen {
					order = append(order, k)
				}
				entries[k] = m
			}
		}
		for _, p := range parents {
			controller := p.ControllerName
			if controller == "" {
				return fmt.Errorf("%s %s: parent %s has no controller name", gvr.Resource, joinName(namespace, name), p.Gateway)
			}
			ref := p.ref(namespace)
			k := key(ref, controller)
			var prev []any
			if old, ok := entries[k]; ok {
				prev, _, _ = unstructured.NestedSlice(old, "conditions")
			} else {
				order = append(order, k)
			}
			entries[k] = map[string]any{
				refField:         ref,
				"controllerName": controller,
				"conditions":     mergeConditions(prev, p.Conditions, obj.GetGeneration()),
			}
		}
		list := make([]any, 0, len(order))
		for _, k := range order {
			list = append(list, entries[k])
		}
		return unstructured.SetNestedSlice(obj.Object, list, "status", listField)
	})
}

func (s *Sim) updateStatus(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, mutate func(*unstructured.Unstructured) error) error {
	api := s.Dynamic.Resource(gvr).Namespace(namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := mutate(obj); err != nil {
			return err
		}
		_, err = api.UpdateStatus(ctx, obj, metav1.UpdateOptions{FieldManager: simManager})
		return err
	})
	if err != nil {
		return fmt.Errorf("status of %s %s: %w", gvr.Resource, joinName(namespace, name), err)
	}
	return nil
}

func joinName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// apply server-side applies a typed object (with TypeMeta set) as manager.
func (s *Sim) apply(ctx context.Context, gvr schema.GroupVersionResource, obj any, manager string) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	var meta struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return err
	}
	_, err = s.Dynamic.Resource(gvr).Namespace(meta.Metadata.Namespace).Patch(ctx, meta.Metadata.Name, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: manager, Force: ptr.To(true)})
	return err
}
