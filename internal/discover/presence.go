package discover

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatefed/gatefed/internal/fleet"
)

// Endpoints is what a Service and its EndpointSlices say about one port:
// the one reading of service presence that render --discover and check share.
type Endpoints struct {
	// Found is false when the Service does not exist.
	Found bool
	// PortFound is false when the Service has no such port.
	PortFound bool
	// ExternalName is set for a Service served by DNS, not endpoints.
	ExternalName bool
	// Ready and NotReady count the port's endpoints (ready: conditions.ready
	// true or unset); an endpoint is one backend, its addresses interchangeable.
	Ready, NotReady int
}

// CountEndpoints reads one port of svc (nil when it does not exist) from
// its EndpointSlices: those of a port of the same name ("" for an unnamed
// port).
func CountEndpoints(svc *corev1.Service, slices []discoveryv1.EndpointSlice, port int32) Endpoints {
	var ec Endpoints
	if svc == nil {
		return ec
	}
	ec.Found = true
	ec.ExternalName = svc.Spec.Type == corev1.ServiceTypeExternalName
	portName := ""
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			ec.PortFound, portName = true, p.Name
			break
		}
	}
	if !ec.PortFound {
		return ec
	}
	for _, s := range slices {
		if !slicePort(s.Ports, portName) {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ec.Ready++
			} else {
				ec.NotReady++
			}
		}
	}
	return ec
}

// slicePort reports whether an EndpointSlice carries the Service port named name.
func slicePort(ports []discoveryv1.EndpointPort, name string) bool {
	for _, p := range ports {
		pn := ""
		if p.Name != nil {
			pn = *p.Name
		}
		if pn == name {
			return true
		}
	}
	return false
}

// Presence reads one service in one cluster and returns why it cannot
// serve, or "" when it can.
func Presence(ctx context.Context, client kubernetes.Interface, s *fleet.GlobalService) (string, error) {
	ns, name := s.Metadata.Namespace, s.ServiceName()
	svc, err := client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("service %s/%s not found", ns, name), nil
	}
	if err != nil {
		return "", err
	}
	switch ec := CountEndpoints(svc, nil, s.Spec.Port); {
	case !ec.PortFound:
		return fmt.Sprintf("service has no port %d", s.Spec.Port), nil
	case ec.ExternalName:
		return "", nil // served by DNS, not endpoints
	}
	slices, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + name,
	})
	if err != nil {
		return "", err
	}
	if CountEndpoints(svc, slices.Items, s.Spec.Port).Ready == 0 {
		return ReasonNoEndpoints, nil
	}
	return "", nil
}
