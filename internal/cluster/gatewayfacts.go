package cluster

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatefed/gatefed/internal/provider"
)

// gatewayFacts are the spec.gateway options register reads from the cluster,
// for a provider that takes them: the IP families of the gateway's Service
// and the gateway's version (an image tag). Empty when not read.
type gatewayFacts struct {
	IPFamilies []string
	Version    string
}

// readGatewayFacts reads the facts the provider takes; what it cannot read
// it leaves empty and says so in a note.
func readGatewayFacts(ctx context.Context, cs kubernetes.Interface, d *provider.Descriptor, ns, name string) (gatewayFacts, []string) {
	var f gatewayFacts
	var notes []string
	if d.Options.IPFamilies {
		svc, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			notes = append(notes, fmt.Sprintf("IP families not recorded: read Service %s/%s: %v", ns, name, err))
		} else {
			for _, fam := range svc.Spec.IPFamilies {
				f.IPFamilies = append(f.IPFamilies, string(fam))
			}
			notes = append(notes, fmt.Sprintf("IP families %s from Service %s/%s", strings.Join(f.IPFamilies, ", "), ns, name))
		}
	}
	if dep := d.Options.VersionDeployment; dep != "" {
		f.Version, notes = readVersion(ctx, cs, d, ns, dep, notes)
	}
	return f, notes
}

// readVersion is the tag of the first container image of a Deployment, when
// the provider takes it as a version.
func readVersion(ctx context.Context, cs kubernetes.Interface, d *provider.Descriptor, ns, name string, notes []string) (string, []string) {
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", append(notes, fmt.Sprintf("%s version not recorded: read Deployment %s/%s: %v", d.Title, ns, name, err))
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		v := strings.TrimPrefix(provider.ImageTag(c.Image), "v")
		if v == "" {
			continue
		}
		if msg := d.Options.Version(v); msg != "" {
			return "", append(notes, fmt.Sprintf("%s version not recorded: image %s: %s", d.Title, c.Image, msg))
		}
		return v, append(notes, fmt.Sprintf("%s version %s from Deployment %s/%s (image %s)", d.Title, v, ns, name, c.Image))
	}
	return "", append(notes, fmt.Sprintf("%s version not recorded: Deployment %s/%s has no image tag; set spec.gateway.version", d.Title, ns, name))
}
