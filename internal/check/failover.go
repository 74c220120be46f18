package check

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// FailoverPortName is the name of the gateway Service port that carries
// failover traffic on a failover target whose provider reads it there
// (provider.PortOnGatewayService: Gloo).
const FailoverPortName = "failover"

// ProbeOutcome classifies a failover endpoint probe.
type ProbeOutcome string

// Probe outcomes.
const (
	// TLSAnswered: TCP connected and the endpoint answered the TLS handshake
	// (possibly refusing it, for example for want of a client certificate).
	TLSAnswered ProbeOutcome = "tls-answered"
	// NotTLS: TCP connected but what answered is not TLS, or it hung up.
	NotTLS ProbeOutcome = "not-tls"
	// Refused: nothing listens (connection refused or reset).
	Refused ProbeOutcome = "refused"
	// Timeout: no answer in time.
	Timeout ProbeOutcome = "timeout"
	// Unreachable: the address does not resolve or has no route.
	Unreachable ProbeOutcome = "unreachable"
)

// ProbeResult is what a failover endpoint probe found.
type ProbeResult struct {
	Outcome ProbeOutcome
	// Detail is the TLS version and the server's alert, or the error.
	Detail string
}

// ProbeFailover opens a TCP connection to addr from this host and starts a
// TLS handshake with SNI sni, without a client certificate and without
// verifying the server (the failover CA is not at hand). A server that
// answers the handshake, even to refuse it for want of a client
// certificate, counts as TLSAnswered.
func ProbeFailover(ctx context.Context, addr, sni string) ProbeResult {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return ProbeResult{Outcome: dialOutcome(err), Detail: failovertls.DialText(err)}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	tc := tls.Client(conn, &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true, // reachability only: the failover CA is not available here
		MinVersion:         tls.VersionTLS12,
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		var rhe tls.RecordHeaderError
		switch {
		case failovertls.RemoteAlert(err) != "":
			return ProbeResult{Outcome: TLSAnswered, Detail: "the handshake ended with the server's alert: " + failovertls.RemoteAlert(err)}
		case errors.As(err, &rhe):
			return ProbeResult{Outcome: NotTLS, Detail: "what answered is not TLS"}
		case failovertls.IsTimeout(err):
			return ProbeResult{Outcome: Timeout, Detail: "no TLS answer in time"}
		case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
			return ProbeResult{Outcome: NotTLS, Detail: "the connection was closed during the TLS handshake (unknown SNI, or not a TLS listener)"}
		default:
			return ProbeResult{Outcome: NotTLS, Detail: "TLS handshake failed: " + err.Error()}
		}
	}
	detail := tls.VersionName(tc.ConnectionState().Version)
	// With TLS 1.3 a server that needs a client certificate says so after
	// the handshake: read briefly to tell.
	_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var one [1]byte
	if _, err := tc.Read(one[:]); err != nil {
		if a := failovertls.RemoteAlert(err); a != "" {
			detail += ", then the server's alert: " + a
		}
	}
	return ProbeResult{Outcome: TLSAnswered, Detail: detail}
}

func dialOutcome(err error) ProbeOutcome {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET):
		return Refused
	case failovertls.IsTimeout(err):
		return Timeout
	}
	return Unreachable
}

// sendsFailover reports whether the cluster's routes use a remote tier.
func sendsFailover(env *clusterEnv) bool {
	for _, sp := range env.input.Used {
		for _, t := range sp.Tiers {
			if !t.Local {
				return true
			}
		}
	}
	return false
}

// receivesFailover reports whether the cluster accepts failover traffic for a service.
func receivesFailover(env *clusterEnv) bool {
	return env.cluster.FailoverTarget() && len(env.input.Served) > 0
}

func checkFailoverReadiness(ctx context.Context, env *clusterEnv, res *result) {
	c := env.cluster
	sends, receives := sendsFailover(env), receivesFailover(env)
	if !c.FailoverTarget() && !sends {
		res.skip("this cluster neither is a failover target nor sends to one")
		return
	}
	var steps []func(*result)
	if c.FailoverTarget() {
		steps = append(steps, func(r *result) { probeEndpoint(ctx, env, r) })
	}
	switch {
	case env.apiErr != nil:
		steps = append(steps, func(r *result) {
			r.info("the cluster's API is unreachable: its gateway Service and failover Secrets were not read")
		})
	default:
		if receives {
			if l := env.provider().Failover.Listener; l != nil {
				steps = append(steps, func(r *result) { checkFailoverListener(ctx, env, r, l) })
			}
			switch env.provider().Failover.PortCheck {
			case provider.PortOnGatewayService:
				steps = append(steps, func(r *result) { gatewayServicePort(ctx, env, r) })
			case provider.PortOnSelectedService:
				steps = append(steps, func(r *result) { selectedServicePort(ctx, env, r) })
			}
		}
		if sends {
			steps = append(steps, func(r *result) {
				secretExists(ctx, env, r, render.FailoverUpstreamSecret, "holds the client certificate this cluster presents to failover targets")
			})
			if env.provider().Failover.DNSInControlPlane {
				steps = append(steps, func(r *result) { controlPlaneDNS(ctx, env, r) })
			}
		}
		if receives {
			steps = append(steps, func(r *result) {
				secretExists(ctx, env, r, render.FailoverDownstreamSecret, "holds the certificate this cluster serves failover traffic with and the CA that verifies other clusters")
			})
		}
	}
	res.inParallel(steps...)
	healthSignals(env, res)
}

// probeEndpoint dials the cluster's failover address from this host.
func probeEndpoint(ctx context.Context, env *clusterEnv, res *result) {
	c := env.cluster
	addr := net.JoinHostPort(c.Spec.Failover.Address, strconv.Itoa(int(c.FailoverPort())))
	sni := render.FailoverDomain
	if len(env.input.Served) > 0 {
		sni = render.FailoverSNI(env.input.Served[0])
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout(ctx))
	defer cancel()
	p := ProbeFailover(pctx, addr, sni)
	switch p.Outcome {
	case TLSAnswered:
		res.info(fmt.Sprintf("failover endpoint %s: listening, TLS answered from this host (%s)", addr, p.Detail))
	case NotTLS:
		res.fail(fmt.Sprintf("failover endpoint %s: listening from this host, but TLS did not answer: %s", addr, p.Detail),
			fmt.Sprintf("the failover port must be the gateway's mutual-TLS failover listener; check that the failover Gateway is accepted (config-status) and that spec.failover of Cluster %s names its load balancer", c.Name()))
	default:
		res.fail(fmt.Sprintf("failover endpoint %s: not reachable from this host: %s", addr, p.Detail),
			fmt.Sprintf("other clusters connect to spec.failover (%s) of Cluster %s: expose the gateway's failover port there (a LoadBalancer Service port), and open firewalls between clusters", addr, c.Name()))
	}
}

// probeTimeout leaves the check time to report after the probe.
func probeTimeout(ctx context.Context) time.Duration {
	const most = 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) / 2; left < most {
			return left
		}
	}
	return most
}

// gatewayServicePort needs the gateway proxy's Service to expose a port named
// failover with the registered port.
func gatewayServicePort(ctx context.Context, env *clusterEnv, res *result) {
	c := env.cluster
	ns, name := env.gatewayNamespace(), c.Spec.Gateway.Name
	ref := objRef("Service", ns, name)
	svc, err := env.kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if isNotFound(err) {
			res.objFail(ref, fmt.Sprintf("the gateway Service %s/%s does not exist", ns, name),
				fmt.Sprintf("install %s's gateway proxy, or correct spec.gateway.name", env.provider().Title))
			return
		}
		res.objFail(ref, fmt.Sprintf("read Service %s/%s: %v", ns, name, err), rbacHint("get services", ns))
		return
	}
	want := c.FailoverPort()
	for _, p := range svc.Spec.Ports {
		if p.Name != FailoverPortName {
			continue
		}
		if p.Port != want {
			res.objFail(ref, fmt.Sprintf("the gateway Service %s/%s exposes port %q as %d, but Cluster %s registers %d", ns, name, FailoverPortName, p.Port, c.Name(), want),
				fmt.Sprintf("make the Service port %q %d, or set spec.failover.port of Cluster %s to %d", FailoverPortName, want, c.Name(), p.Port))
			return
		}
		res.objInfo(ref, fmt.Sprintf("the gateway Service %s/%s exposes port %q %d", ns, name, FailoverPortName, want))
		return
	}
	res.objFail(ref, fmt.Sprintf("the gateway Service %s/%s has no port named %q", ns, name, FailoverPortName),
		fmt.Sprintf("add a port named %q, port %d, targetPort the proxy's failover listener%s", FailoverPortName, want, exposeHint(env, name)))
}

// exposeHint is " (where the install exposes the failover port)", or "".
func exposeHint(env *clusterEnv, gatewayName string) string {
	if expose := env.provider().Failover.ExposePort; expose != nil {
		return " (" + expose(gatewayName) + ")"
	}
	return ""
}

// checkFailoverListener needs the object gatefed renders to take failover
// traffic (an Istio Gateway) to be in the cluster, listening on the
// failover port.
func checkFailoverListener(ctx context.Context, env *clusterEnv, res *result, l *provider.Listener) {
	ns, k := env.gatewayNamespace(), l.Kind
	ref := objRef(k.Kind, ns, l.Name)
	m := env.mapping(k.GroupKind())
	if m == nil {
		res.objFail(ref, fmt.Sprintf("the cluster does not serve %s %ss: the failover %s cannot exist", k.Group, k.Kind, k.Kind), "see gateway-install")
		return
	}
	got, err := env.resource(m, ns).Get(ctx, l.Name, metav1.GetOptions{})
	switch {
	case isNotFound(err):
		res.objFail(ref, fmt.Sprintf("the failover %s %s/%s does not exist: no failover traffic is accepted", k.Kind, ns, l.Name),
			"run gatefed apply")
		return
	case err != nil:
		res.objFail(ref, fmt.Sprintf("read %s %s/%s: %v", k.Kind, ns, l.Name, err), rbacHint("get "+k.CRDName(), ns))
		return
	}
	want := env.cluster.FailoverPort()
	n := l.OnPort(got, want)
	if n == 0 {
		res.objFail(ref, fmt.Sprintf("the failover %s %s/%s has no %s on port %d", k.Kind, ns, l.Name, l.Unit, want), "run gatefed apply (see drift)")
		return
	}
	res.objInfo(ref, fmt.Sprintf("the failover %s %s/%s exists with %s on port %d", k.Kind, ns, l.Name, plural(n, l.Unit, l.Units), want))
}

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// secretExists reads a Secret's metadata only, so that its data never
// leaves the cluster, unless failover-trust runs: then both share its one
// read of the whole Secret.
func secretExists(ctx context.Context, env *clusterEnv, res *result, name, role string) {
	ns := env.gatewayNamespace()
	ref := objRef("Secret", ns, name)
	var err error
	if env.run.enabled(FailoverTrust) {
		_, err = env.failoverSecret(ctx, name)
	} else {
		_, err = env.meta.Resource(secretsGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	}
	switch {
	case err == nil:
		res.objInfo(ref, fmt.Sprintf("Secret %s/%s exists", ns, name))
	case isNotFound(err):
		res.objFail(ref, fmt.Sprintf("Secret %s/%s is missing; it %s", ns, name, role),
			fmt.Sprintf("create it in namespace %s (tls.crt, tls.key and ca.crt from the fleet's failover CA); see docs/checks.md", ns))
	default:
		res.objFail(ref, fmt.Sprintf("read Secret %s/%s (metadata only): %v", ns, name, err), rbacHint("get secrets", ns))
	}
}

// healthSignals warns about each failover path the render gives no health
// signal: without an active health check or outlier detection, Envoy never
// moves traffic to the next tier.
func healthSignals(env *clusterEnv, res *result) {
	var hs provider.HealthSignals
	if read := env.provider().Failover.HealthSignals; read != nil {
		hs = read(env.objects)
	} else {
		hs = serviceHealthSignals(env)
	}
	if hs.Paths == 0 {
		return
	}
	for _, m := range hs.Missing {
		res.warn(fmt.Sprintf("%s can fail over but has no health check or outlier detection in what was rendered: failover never triggers", m),
			"set spec.healthCheck or spec.outlierDetection on the GlobalService")
	}
	if len(hs.Missing) == 0 {
		res.info(fmt.Sprintf("every failover path (%d) has a health signal", hs.Paths))
	}
}

// serviceHealthSignals reads each GlobalService the cluster routes to with
// more than one tier, for a provider whose render carries the service's
// healthCheck and outlierDetection as they are.
func serviceHealthSignals(env *clusterEnv) provider.HealthSignals {
	var hs provider.HealthSignals
	for _, key := range sortedUsed(env) {
		sp := env.input.Used[key]
		if len(sp.Tiers) < 2 {
			continue
		}
		hs.Paths++
		if !sp.Service.HasHealthSignal() {
			hs.Missing = append(hs.Missing, "GlobalService "+key)
		}
	}
	return hs
}

func sortedUsed(env *clusterEnv) []string {
	keys := make([]string, 0, len(env.input.Used))
	for k := range env.input.Used {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
