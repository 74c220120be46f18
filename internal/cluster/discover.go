package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gatefed/gatefed/internal/fleet"
)

// ServerVersion asks the API server for its version and measures the round trip.
func ServerVersion(ctx context.Context, cfg *rest.Config) (string, time.Duration, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return "", 0, err
	}
	begin := time.Now()
	body, err := dc.RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	latency := time.Since(begin)
	if err != nil {
		return "", latency, err
	}
	var info version.Info
	if err := json.Unmarshal(body, &info); err != nil {
		return "", latency, fmt.Errorf("read /version: %w", err)
	}
	return info.GitVersion, latency, nil
}

// missingCRDs returns the provider's CRDs the cluster does not serve. It
// reads the CRDs, or, when that is forbidden, the discovery documents.
func missingCRDs(ctx context.Context, cfg *rest.Config, provider string) ([]resource, error) {
	spec := providerSpecs[provider]
	client, err := apiextclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var missing []resource
	for _, r := range spec.CRDs {
		_, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, r.CRDName(), metav1.GetOptions{})
		switch {
		case err == nil:
		case apierrors.IsNotFound(err):
			missing = append(missing, r)
		case apierrors.IsForbidden(err):
			return missingFromDiscovery(cfg, spec.CRDs)
		default:
			return nil, fmt.Errorf("read CRD %s: %w", r.CRDName(), err)
		}
	}
	return missing, nil
}

func missingFromDiscovery(cfg *rest.Config, want []resource) ([]resource, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	groups, err := dc.ServerGroups()
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	served := map[resource]bool{}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			list, err := dc.ServerResourcesForGroupVersion(v.GroupVersion)
			if err != nil {
				continue
			}
			for _, r := range list.APIResources {
				served[resource{g.Name, r.Name}] = true
			}
		}
	}
	var missing []resource
	for _, r := range want {
		if !served[r] {
			missing = append(missing, r)
		}
	}
	return missing, nil
}

// Failover is a discovered failover address.
type Failover struct {
	Address string
	Port    int32
	// Service is "namespace/name" of the Service it was found on.
	Service string
}

func (f Failover) String() string {
	return net.JoinHostPort(f.Address, strconv.Itoa(int(f.Port)))
}

// Envoy Gateway labels the Services it creates for a Gateway with the
// Gateway's namespace and name, and names their ports <protocol>-<port>.
const (
	egOwningGatewayName      = "gateway.envoyproxy.io/owning-gateway-name"
	egOwningGatewayNamespace = "gateway.envoyproxy.io/owning-gateway-namespace"
	egControllerNamespace    = "envoy-gateway-system"
	// egFailoverGateway is the Gateway gatefed renders on envoy-gateway
	// failover targets; its Service is the best candidate.
	egFailoverGateway = "gatefed-failover"
)

// discoverFailover finds the failover address as Gloo Federation does: the
// gateway's Service with a port named "failover" (on envoy-gateway clusters
// also a Gateway-owned Service's "tls-15443" port), at its load-balancer
// ingress IP or hostname. It returns nil and the reason when there is none.
func discoverFailover(ctx context.Context, cs kubernetes.Interface, provider, gwNamespace, gwName string) (*Failover, string, error) {
	namespaces := []string{gwNamespace}
	if provider == fleet.ProviderEnvoyGateway && gwNamespace != egControllerNamespace {
		namespaces = append(namespaces, egControllerNamespace)
	}
	var services []corev1.Service
	for _, ns := range namespaces {
		list, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			if apierrors.IsForbidden(err) {
				return nil, fmt.Sprintf("cannot list Services in %s (%v)", ns, err), nil
			}
			return nil, "", fmt.Errorf("list Services in %s: %w", ns, err)
		}
		services = append(services, list.Items...)
	}
	ownedBy := func(s *corev1.Service, gateway string) bool {
		return s.Labels[egOwningGatewayNamespace] == gwNamespace && s.Labels[egOwningGatewayName] == gateway
	}
	rank := func(s *corev1.Service) int {
		switch {
		case ownedBy(s, egFailoverGateway):
			return 0
		case s.Namespace == gwNamespace && s.Name == gwName, ownedBy(s, gwName):
			return 1
		case s.Namespace == gwNamespace:
			return 2
		}
		return 3
	}
	sort.SliceStable(services, func(i, j int) bool {
		ri, rj := rank(&services[i]), rank(&services[j])
		if ri != rj {
			return ri < rj
		}
		return services[i].Namespace+"/"+services[i].Name < services[j].Namespace+"/"+services[j].Name
	})
	egPortName := fmt.Sprintf("tls-%d", fleet.DefaultFailoverPort)
	var noAddress []string
	for i := range services {
		s := &services[i]
		if s.Namespace != gwNamespace && s.Labels[egOwningGatewayNamespace] != gwNamespace {
			continue // another namespace's gateway
		}
		var port *corev1.ServicePort
		for j := range s.Spec.Ports {
			p := &s.Spec.Ports[j]
			if p.Name == FailoverPortName || (provider == fleet.ProviderEnvoyGateway && s.Labels[egOwningGatewayName] != "" && p.Name == egPortName) {
				port = p
				break
			}
		}
		if port == nil {
			continue
		}
		ref := s.Namespace + "/" + s.Name
		if addr := serviceAddress(s); addr != "" {
			return &Failover{Address: addr, Port: port.Port, Service: ref}, "", nil
		}
		noAddress = append(noAddress, ref)
	}
	if len(noAddress) > 0 {
		return nil, fmt.Sprintf("Service %s has a port named %s but no load-balancer address yet", noAddress[0], FailoverPortName), nil
	}
	return nil, fmt.Sprintf("no Service in %s has a port named %s", gwNamespace, FailoverPortName), nil
}

// serviceAddress is a Service's first load-balancer ingress IP or hostname,
// else its first external IP.
func serviceAddress(s *corev1.Service) string {
	for _, in := range s.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return in.IP
		}
		if in.Hostname != "" {
			return in.Hostname
		}
	}
	if len(s.Spec.ExternalIPs) > 0 {
		return s.Spec.ExternalIPs[0]
	}
	return ""
}

// istioFailoverPortName is the name Istio's default ingress gateway Service
// gives its port 15443.
const istioFailoverPortName = "tls"

// discoverIstioFailover finds the failover address of an istio cluster: a
// Service in the gateway namespace that sends to the ingress gateway pods
// (its selector, or failing that its labels, hold every label of the
// cluster's gateway selector) with a port named "failover", or the port
// 15443 named "tls" of Istio's default istio-ingressgateway, at its
// load-balancer ingress IP or hostname. istio-ingressgateway comes first,
// then Services by name.
func discoverIstioFailover(ctx context.Context, cs kubernetes.Interface, gwNamespace string, selector map[string]string) (*Failover, string, error) {
	list, err := cs.CoreV1().Services(gwNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, fmt.Sprintf("cannot list Services in %s (%v)", gwNamespace, err), nil
		}
		return nil, "", fmt.Errorf("list Services in %s: %w", gwNamespace, err)
	}
	services := list.Items
	sort.SliceStable(services, func(i, j int) bool {
		ii, ij := services[i].Name == istioIngressGateway, services[j].Name == istioIngressGateway
		if ii != ij {
			return ii
		}
		return services[i].Name < services[j].Name
	})
	want := labelsText(selector)
	var noAddress []string
	for i := range services {
		s := &services[i]
		if !holds(s.Spec.Selector, selector) && !holds(s.Labels, selector) {
			continue // not the ingress gateway's
		}
		var port *corev1.ServicePort
		for j := range s.Spec.Ports {
			p := &s.Spec.Ports[j]
			if p.Name == FailoverPortName || (p.Name == istioFailoverPortName && p.Port == fleet.DefaultFailoverPort) {
				port = p
				break
			}
		}
		if port == nil {
			continue
		}
		ref := s.Namespace + "/" + s.Name
		if addr := serviceAddress(s); addr != "" {
			return &Failover{Address: addr, Port: port.Port, Service: ref}, "", nil
		}
		noAddress = append(noAddress, ref)
	}
	if len(noAddress) > 0 {
		return nil, fmt.Sprintf("Service %s of the ingress gateway has a failover port but no load-balancer address yet", noAddress[0]), nil
	}
	return nil, fmt.Sprintf("no Service in %s for the ingress gateway pods (%s) has a port named %s or port %d named %s",
		gwNamespace, want, FailoverPortName, fleet.DefaultFailoverPort, istioFailoverPortName), nil
}

// istioIngressGateway is the Service of Istio's default ingress gateway.
const istioIngressGateway = "istio-ingressgateway"

// holds reports whether labels has every key and value of want.
func holds(have, want map[string]string) bool {
	return len(want) > 0 && labels.SelectorFromSet(want).Matches(labels.Set(have))
}

// labelsText is a label selector as k=v,k=v, keys sorted.
func labelsText(m map[string]string) string { return labels.Set(m).String() }
