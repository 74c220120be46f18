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
	"github.com/gatefed/gatefed/internal/provider"
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
func missingCRDs(ctx context.Context, cfg *rest.Config, providerName string) ([]provider.Kind, error) {
	crds := descriptor(providerName).CRDs
	client, err := apiextclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var missing []provider.Kind
	for _, r := range crds {
		_, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, r.CRDName(), metav1.GetOptions{})
		switch {
		case err == nil:
		case apierrors.IsNotFound(err):
			missing = append(missing, r)
		case apierrors.IsForbidden(err):
			return missingFromDiscovery(cfg, crds)
		default:
			return nil, fmt.Errorf("read CRD %s: %w", r.CRDName(), err)
		}
	}
	return missing, nil
}

func missingFromDiscovery(cfg *rest.Config, want []provider.Kind) ([]provider.Kind, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	groups, err := dc.ServerGroups()
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	type resource struct{ group, resource string }
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
	var missing []provider.Kind
	for _, r := range want {
		if !served[resource{r.Group, r.Resource}] {
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

// discoverFailoverOf finds the failover address the way the provider's
// descriptor says; selector is spec.gateway.selector, empty for the default.
func discoverFailoverOf(ctx context.Context, cs kubernetes.Interface, desc *provider.Descriptor, gwNamespace, gwName string, selector map[string]string) (*Failover, string, error) {
	if desc.Failover.Discovery != provider.DiscoverBySelector {
		return discoverFailover(ctx, cs, desc, gwNamespace, gwName)
	}
	if len(selector) == 0 {
		selector = desc.Defaults.Selector
	}
	return discoverSelectedFailover(ctx, cs, desc.Failover, gwNamespace, selector)
}

// discoverFailover finds the failover address as Gloo Federation does: the
// gateway's Service with a port named "failover" (or, where the provider's
// controller creates a Gateway's Service, its port provider.Failover.OwnedPortName),
// at its load-balancer ingress IP or hostname. It returns nil and the reason
// when there is none.
func discoverFailover(ctx context.Context, cs kubernetes.Interface, desc *provider.Descriptor, gwNamespace, gwName string) (*Failover, string, error) {
	fo := desc.Failover
	namespaces := []string{gwNamespace}
	for _, ns := range fo.ServiceNamespaces {
		if ns != gwNamespace {
			namespaces = append(namespaces, ns)
		}
	}
	var services []corev1.Service
	for _, ns := range namespaces {
		list, reason, err := listServices(ctx, cs, ns)
		if reason != "" || err != nil {
			return nil, reason, err
		}
		services = append(services, list...)
	}
	owned := fo.OwnerNameLabel != ""
	ownedBy := func(s *corev1.Service, gateway string) bool {
		return owned && gateway != "" && s.Labels[fo.OwnerNamespaceLabel] == gwNamespace && s.Labels[fo.OwnerNameLabel] == gateway
	}
	rank := func(s *corev1.Service) int {
		switch {
		case ownedBy(s, fo.OwnedGateway):
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
	found, noAddress := firstFailoverService(services, func(s *corev1.Service, p *corev1.ServicePort) bool {
		if s.Namespace != gwNamespace && (!owned || s.Labels[fo.OwnerNamespaceLabel] != gwNamespace) {
			return false // another namespace's gateway
		}
		return p.Name == FailoverPortName || (owned && s.Labels[fo.OwnerNameLabel] != "" && p.Name == fo.OwnedPortName)
	})
	if found != nil {
		return found, "", nil
	}
	if len(noAddress) > 0 {
		return nil, fmt.Sprintf("Service %s has a port named %s but no load-balancer address yet", noAddress[0], FailoverPortName), nil
	}
	return nil, fmt.Sprintf("no Service in %s has a port named %s", gwNamespace, FailoverPortName), nil
}

// listServices lists a namespace's Services; when that is forbidden it
// returns why instead.
func listServices(ctx context.Context, cs kubernetes.Interface, namespace string) ([]corev1.Service, string, error) {
	list, err := cs.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsForbidden(err):
		return nil, fmt.Sprintf("cannot list Services in %s (%v)", namespace, err), nil
	case err != nil:
		return nil, "", fmt.Errorf("list Services in %s: %w", namespace, err)
	}
	return list.Items, "", nil
}

// firstFailoverService returns the failover address of the first Service,
// in order, with a port failoverPort accepts and an address; else nil and
// the Services with such a port but no address yet.
func firstFailoverService(services []corev1.Service, failoverPort func(*corev1.Service, *corev1.ServicePort) bool) (*Failover, []string) {
	var noAddress []string
	for i := range services {
		s := &services[i]
		var port *corev1.ServicePort
		for j := range s.Spec.Ports {
			if failoverPort(s, &s.Spec.Ports[j]) {
				port = &s.Spec.Ports[j]
				break
			}
		}
		if port == nil {
			continue
		}
		ref := s.Namespace + "/" + s.Name
		if addr := serviceAddress(s); addr != "" {
			return &Failover{Address: addr, Port: port.Port, Service: ref}, nil
		}
		noAddress = append(noAddress, ref)
	}
	return nil, noAddress
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

// discoverSelectedFailover finds the failover address of a gateway found by
// its pods (Istio): a Service in the gateway namespace that sends to the
// gateway pods (its selector, or failing that its labels, hold every label
// of the cluster's gateway selector) with a port named "failover", or the
// port 15443 as the default install names it ("tls" of Istio's
// istio-ingressgateway), at its load-balancer ingress IP or hostname. The
// default install's Service comes first, then Services by name.
func discoverSelectedFailover(ctx context.Context, cs kubernetes.Interface, fo provider.Failover, gwNamespace string, selector map[string]string) (*Failover, string, error) {
	services, reason, err := listServices(ctx, cs, gwNamespace)
	if reason != "" || err != nil {
		return nil, reason, err
	}
	sort.SliceStable(services, func(i, j int) bool {
		ii, ij := services[i].Name == fo.InstalledService, services[j].Name == fo.InstalledService
		if ii != ij {
			return ii
		}
		return services[i].Name < services[j].Name
	})
	want := labelsText(selector)
	found, noAddress := firstFailoverService(services, func(s *corev1.Service, p *corev1.ServicePort) bool {
		if !holds(s.Spec.Selector, selector) && !holds(s.Labels, selector) {
			return false // not the ingress gateway's
		}
		return p.Name == FailoverPortName || (p.Name == fo.InstalledPortName && p.Port == fleet.DefaultFailoverPort)
	})
	if found != nil {
		return found, "", nil
	}
	if len(noAddress) > 0 {
		return nil, fmt.Sprintf("Service %s of the ingress gateway has a failover port but no load-balancer address yet", noAddress[0]), nil
	}
	return nil, fmt.Sprintf("no Service in %s for the ingress gateway pods (%s) has a port named %s or port %d named %s",
		gwNamespace, want, FailoverPortName, fleet.DefaultFailoverPort, fo.InstalledPortName), nil
}

// holds reports whether labels has every key and value of want.
func holds(have, want map[string]string) bool {
	return len(want) > 0 && labels.SelectorFromSet(want).Matches(labels.Set(have))
}

// labelsText is a label selector as k=v,k=v, keys sorted.
func labelsText(m map[string]string) string { return labels.Set(m).String() }
