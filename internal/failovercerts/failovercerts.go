// Package failovercerts issues the failover wire contract's two Secrets
// for every cluster of a fleet from a CA the user holds, and applies them
// server-side. Keys go from memory to the API server and nowhere else.
package failovercerts

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/kube"
	"github.com/gatefed/gatefed/internal/render"
)

// IssuedByLabel marks the Secrets this package issued. It is not
// gatefed's managed-by label: apply never prunes them.
const IssuedByLabel = "gatefed.dev/issued-by"

// FieldManager owns the Secrets' fields in server-side apply.
const FieldManager = "gatefed-failover-certs"

// DefaultValidity is how long issued certificates last (cert-manager's default too).
const DefaultValidity = 90 * 24 * time.Hour

// Want is one Secret to issue.
type Want struct {
	Cluster, Namespace, Name string
	Role                     failovertls.Role
	CommonName               string
	DNSNames                 []string
}

// Plan lists both Secrets of every cluster (or of the named ones): the
// client certificate (CN the cluster's name, clientAuth) and the serving
// certificate (the SNIs it serves, serverAuth), in its gateway namespace.
func Plan(f *fleet.Fleet, only []string) ([]Want, error) {
	pick := map[string]bool{}
	for _, n := range only {
		if f.Cluster(n) == nil {
			return nil, fmt.Errorf("unknown cluster %q", n)
		}
		pick[n] = true
	}
	var out []Want
	for _, c := range f.Clusters {
		if len(pick) > 0 && !pick[c.Name()] {
			continue
		}
		ns := c.Spec.Gateway.Namespace
		out = append(out,
			Want{Cluster: c.Name(), Namespace: ns, Name: render.FailoverUpstreamSecret, Role: failovertls.Client, CommonName: c.Name()},
			Want{Cluster: c.Name(), Namespace: ns, Name: render.FailoverDownstreamSecret, Role: failovertls.Server, CommonName: c.Name(),
				DNSNames: render.FailoverDNSNames(render.Input(f, c, nil))})
	}
	return out, nil
}

// Options steer Issue.
type Options struct {
	Validity   time.Duration
	DryRun     bool
	Kubeconfig string
}

// Result is one Secret issued (or, in a dry run, to be issued): names,
// SANs and NotAfter, never data.
type Result struct {
	Cluster    string    `json:"cluster"`
	Namespace  string    `json:"namespace"`
	Name       string    `json:"name"`
	Usage      string    `json:"usage"`
	CommonName string    `json:"commonName"`
	DNSNames   []string  `json:"dnsNames,omitempty"`
	NotAfter   time.Time `json:"notAfter"`
	Applied    bool      `json:"applied"`
}

// Issue signs each wanted Secret with ca and applies it server-side,
// cluster by cluster; a run again issues new keys (rotation). With DryRun
// it signs nothing and says what it would issue. The results made so far
// come back with an error.
func Issue(ctx context.Context, f *fleet.Fleet, wants []Want, ca *failovertls.Authority, o Options) ([]Result, error) {
	clients := map[string]kubernetes.Interface{}
	var out []Result
	for _, w := range wants {
		r := Result{Cluster: w.Cluster, Namespace: w.Namespace, Name: w.Name, Usage: usage(w.Role), CommonName: w.CommonName, DNSNames: w.DNSNames,
			NotAfter: time.Now().Add(o.Validity).UTC()}
		if ca.Cert().NotAfter.Before(r.NotAfter) {
			r.NotAfter = ca.Cert().NotAfter.UTC()
		}
		if o.DryRun {
			out = append(out, r)
			continue
		}
		iss, err := ca.Issue(w.Name, w.Role, w.CommonName, w.DNSNames, o.Validity)
		if err != nil {
			return out, fmt.Errorf("cluster %s: %w", w.Cluster, err)
		}
		kc := clients[w.Cluster]
		if kc == nil {
			if kc, err = client(f.Cluster(w.Cluster), o.Kubeconfig); err != nil {
				return out, fmt.Errorf("cluster %s: %w", w.Cluster, err)
			}
			clients[w.Cluster] = kc
		}
		if err := apply(ctx, kc, w, iss); err != nil {
			return out, fmt.Errorf("cluster %s: apply Secret %s/%s: %w", w.Cluster, w.Namespace, w.Name, err)
		}
		r.NotAfter, r.Applied = iss.NotAfter, true
		out = append(out, r)
	}
	return out, nil
}

func usage(r failovertls.Role) string {
	if r == failovertls.Client {
		return "clientAuth"
	}
	return "serverAuth"
}

// String is the result's line for people.
func (r Result) String() string {
	verb := "would issue"
	if r.Applied {
		verb = "issued"
	}
	s := fmt.Sprintf("%s: %s Secret %s/%s (%s, CN %s", r.Cluster, verb, r.Namespace, r.Name, r.Usage, r.CommonName)
	if len(r.DNSNames) > 0 {
		s += ", DNS names " + strings.Join(r.DNSNames, " ")
	}
	return s + ", not after " + r.NotAfter.Format(time.RFC3339) + ")"
}

func client(c *fleet.Cluster, kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := kube.RESTConfig(c, kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// apply writes the Secret with server-side apply, owning its type and data.
func apply(ctx context.Context, kc kubernetes.Interface, w Want, iss *failovertls.Issued) error {
	s := applycorev1.Secret(w.Name, w.Namespace).
		WithLabels(map[string]string{IssuedByLabel: "failover-certs"}).
		WithType("kubernetes.io/tls").
		WithData(iss.Data())
	_, err := kc.CoreV1().Secrets(w.Namespace).Apply(ctx, s, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	return err
}
