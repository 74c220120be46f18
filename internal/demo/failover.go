package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gatefed/gatefed/internal/failovercerts"
	"github.com/gatefed/gatefed/internal/failovertls"
	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/render"
)

// The demo's failover TLS material lives in <state>/failover.
const failoverDir = "failover"

type failoverFiles struct{ caCert, caKey, serverCert, serverKey string }

func (o *Options) failoverFiles() failoverFiles {
	p := func(n string) string { return filepath.Join(o.StateDir, failoverDir, n) }
	return failoverFiles{p("ca.crt"), p("ca.key"), p("server.crt"), p("server.key")}
}

// failoverHosts are the names a failover serving certificate covers: the
// SNIs of the fleet's services (<service>-<port>.<namespace>.<domain>).
func failoverHosts(f *fleet.Fleet) []string {
	hosts := []string{render.FailoverDomain}
	seen := map[string]bool{}
	for _, s := range f.Services {
		if ns := s.Metadata.Namespace; !seen[ns] {
			seen[ns] = true
			hosts = append(hosts, "*."+ns+"."+render.FailoverDomain)
		}
	}
	return hosts
}

// failoverCAValidity is how long the demo's failover CA lasts.
const failoverCAValidity = 10 * 365 * 24 * time.Hour

// newFailoverCA creates the fleet's failover CA and the listener's serving
// certificate, as failover-certs issue signs a target's, and keeps them in
// the demo's state directory.
func (o *Options) newFailoverCA(f *fleet.Fleet) error {
	files := o.failoverFiles()
	if err := os.MkdirAll(filepath.Dir(files.caCert), 0o700); err != nil {
		return err
	}
	ca, caKey, err := failovertls.NewAuthorityPEM("gatefed-demo-failover-ca", failoverCAValidity)
	if err != nil {
		return err
	}
	hosts := failoverHosts(f)
	server, err := ca.Issue("failover-listener", failovertls.Server, hosts[0], hosts, failoverCAValidity)
	if err != nil {
		return err
	}
	data := server.Data()
	for _, w := range []struct {
		file string
		data []byte
		perm os.FileMode
	}{{files.caCert, ca.CertPEM(), 0o644}, {files.caKey, caKey, 0o600}, {files.serverCert, data[failovertls.CertKey], 0o644}, {files.serverKey, data[failovertls.KeyKey], 0o600}} {
		if err := os.WriteFile(w.file, w.data, w.perm); err != nil {
			return err
		}
	}
	return nil
}

// issueFailoverSecrets issues both failover Secrets of every cluster from
// the demo's CA files, as gatefed failover-certs issue does.
func (o *UpOptions) issueFailoverSecrets(ctx context.Context, f *fleet.Fleet) error {
	files := o.failoverFiles()
	certPEM, err := os.ReadFile(files.caCert)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(files.caKey)
	if err != nil {
		return err
	}
	ca, err := failovertls.LoadAuthority(certPEM, keyPEM, files.caCert, files.caKey)
	if err != nil {
		return err
	}
	wants, err := failovercerts.Plan(f, nil)
	if err != nil {
		return err
	}
	_, err = failovercerts.Issue(ctx, f, wants, ca, failovercerts.Options{Validity: failovercerts.DefaultValidity, Kubeconfig: o.Kubeconfig()})
	return err
}

// ServeFailover listens on every demo cluster's failover port (127.0.0.1)
// with mutual TLS from the demo's failover CA, standing in for the gateways'
// failover listeners so the endpoints answer: it requires a client
// certificate from that CA and answers every request through the tunnel
// with 200, as a healthy service would. It runs until ctx ends.
func ServeFailover(ctx context.Context, opts Options) error {
	st, err := opts.LoadState()
	if err != nil {
		return err
	}
	cfg, err := opts.listenerTLS()
	if err != nil {
		return err
	}
	var listeners []net.Listener
	for _, c := range st.Clusters {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(c.FailoverPort))))
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("cluster %s failover port: %w", c.Name, err)
		}
		listeners = append(listeners, l)
	}
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Go(func() {
			failovertls.Serve(l, cfg, http.StatusOK)
		})
	}
	fmt.Fprintf(opts.IO.Out, "failover listener serving %d ports\n", len(listeners))
	<-ctx.Done()
	for _, l := range listeners {
		l.Close()
	}
	wg.Wait()
	return nil
}

// listenerTLS is the failover listener's TLS, as a gateway's failover
// listener serves it: the demo's serving certificate, and client
// certificates from its failover CA required.
func (o *Options) listenerTLS() (*tls.Config, error) {
	files := o.failoverFiles()
	data := map[string][]byte{}
	for key, file := range map[string]string{failovertls.CertKey: files.serverCert, failovertls.KeyKey: files.serverKey, failovertls.CAKey: files.caCert} {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		data[key] = b
	}
	return failovertls.ServerConfig(failovertls.Parse("failover-listener", "kubernetes.io/tls", data), nil)
}

// startFailoverListener runs "gatefed demo failover-listener" detached and
// waits until every port accepts connections.
func startFailoverListener(opts UpOptions, st *State) (localfleet.ProcessState, error) {
	exe, err := os.Executable()
	if err != nil {
		return localfleet.ProcessState{}, err
	}
	log := filepath.Join(opts.StateDir, "logs", "failover-listener.log")
	args := []string{"demo", "failover-listener", "--state-dir", opts.StateDir}
	pid, err := localfleet.StartProcess(exe, args, log, !opts.Attached, opts.StateDir)
	if err != nil {
		return localfleet.ProcessState{}, err
	}
	ps := localfleet.ProcessState{Pid: pid, Exe: exe, Log: log, Args: args}
	// Wait until every port answers with a certificate from this demo's CA:
	// only then is it this listener that answers, not another one.
	caPEM, err := os.ReadFile(opts.failoverFiles().caCert)
	if err != nil {
		return ps, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	deadline := time.Now().Add(15 * time.Second)
	for _, c := range st.Clusters {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(c.FailoverPort)))
		var last error
		for {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{ServerName: render.FailoverDomain, RootCAs: pool})
			if err == nil {
				conn.Close()
				break
			}
			last = err
			if localfleet.ProcessGone(pid) || time.Now().After(deadline) {
				_ = localfleet.Terminate(pid, exe, time.Second)
				return ps, fmt.Errorf("the failover listener does not answer on %s (%v); last lines of %s:\n%s", addr, last, log, tail(log))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return ps, nil
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return string(data)
}
