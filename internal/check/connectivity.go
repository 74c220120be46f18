package check

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SlowLatency is the /version round trip above which connectivity warns.
const SlowLatency = 2 * time.Second

// ConnectivityDetails is what the connectivity check measured.
type ConnectivityDetails struct {
	ServerVersion string `json:"serverVersion,omitempty"`
	LatencyMS     int64  `json:"latencyMs"`
}

func checkConnectivity(ctx context.Context, env *clusterEnv, res *result) {
	if env.configErr == nil {
		_ = env.probe(ctx) // sets env.apiErr
	}
	if env.apiErr != nil {
		res.fail(apiFailure(env))
		return
	}
	d := &ConnectivityDetails{ServerVersion: env.version.GitVersion, LatencyMS: env.latency.Milliseconds()}
	res.setDetails(d)
	msg := fmt.Sprintf("API reachable in %s, server %s", env.latency.Round(time.Millisecond), env.version.GitVersion)
	if env.latency > SlowLatency {
		res.warn(msg+" (slow)", "the API answers slowly from this host; checks may time out (raise --timeout)")
		return
	}
	res.info(msg)
}

var minorDigits = regexp.MustCompile(`^\d+`)

// minorOf returns the minor version of a server ("1.37.2" or Minor "37+").
func minorOf(gitVersion, minor string) (int, bool) {
	if m := minorDigits.FindString(minor); m != "" {
		n, err := strconv.Atoi(m)
		return n, err == nil
	}
	parts := strings.Split(strings.TrimPrefix(gitVersion, "v"), ".")
	if len(parts) < 2 {
		return 0, false
	}
	n, err := strconv.Atoi(minorDigits.FindString(parts[1]))
	return n, err == nil
}

// versionSkew warns, on the connectivity check of every cluster more than
// one minor version behind the newest cluster, about the skew.
func versionSkew(rep *Report, envs []*clusterEnv) {
	type server struct {
		name    string
		version string
		minor   int
	}
	var servers []server
	newest := -1
	newestName := ""
	for _, e := range envs {
		if e == nil || e.version == nil {
			continue
		}
		m, ok := minorOf(e.version.GitVersion, e.version.Minor)
		if !ok {
			continue
		}
		servers = append(servers, server{e.cluster.Name(), e.version.GitVersion, m})
		if m > newest {
			newest, newestName = m, e.cluster.Name()
		}
	}
	if len(servers) < 2 {
		return
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].name < servers[j].name })
	for _, s := range servers {
		if newest-s.minor <= 1 {
			continue
		}
		for _, c := range rep.Clusters {
			if c.Name != s.name {
				continue
			}
			r := c.Check(Connectivity)
			if r == nil {
				continue
			}
			r.Findings = append(r.Findings, Finding{
				Severity: Warning,
				Message: fmt.Sprintf("server %s is %d minor versions behind %s (%s runs 1.%d); the fleet spans more than one minor version",
					s.version, newest-s.minor, newestName, newestName, newest),
				Hint: "upgrade this cluster: gateway CRDs and API versions gatefed writes are tested against one minor version of skew",
			})
			if r.Status != Fail {
				r.Status = Warn
			}
			sortFindings(r.Findings)
		}
	}
}
