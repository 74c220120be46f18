package gloo

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatefed/gatefed/internal/fleet"
	"github.com/gatefed/gatefed/internal/provider"
)

// Gloo Edge versions gatefed renders for: the oldest and the newest whose
// objects it writes and tests.
const (
	OldestVersion = "1.17"
	NewestVersion = "1.22"
)

// shadowHostVersion is the first Gloo version with
// shadowing.disableShadowHostSuffixAppend.
const shadowHostVersion = "1.22"

// bindAddress is the address the failover Gateway listens on: every IPv4
// address on a cluster whose proxy Service is IPv4 only (Envoy cannot bind
// :: there), every address of both families otherwise, Gloo's own default.
func bindAddress(g fleet.GatewaySpec) string {
	if len(g.IPFamilies) > 0 && !slices.Contains(g.IPFamilies, "IPv6") {
		return "0.0.0.0"
	}
	return "::"
}

// atLeast reports whether the cluster's Gloo is version min or later; an
// unknown version counts as the newest.
func atLeast(g fleet.GatewaySpec, min string) bool {
	if g.Version == "" {
		return true
	}
	have, err := parseVersion(g.Version)
	if err != nil {
		return true // validation reports it
	}
	want, _ := parseVersion(min)
	return compareVersions(have, want) >= 0
}

// parseVersion reads "1.22", "v1.22.3" or "1.22.3-beta1" as major, minor, patch.
func parseVersion(v string) ([3]int, error) {
	var out [3]int
	s := strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return out, fmt.Errorf("%q is not a version (want MAJOR.MINOR[.PATCH])", v)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, fmt.Errorf("%q is not a version (want MAJOR.MINOR[.PATCH])", v)
		}
		out[i] = n
	}
	return out, nil
}

func compareVersions(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}

// CheckVersion says what is wrong with a Gloo version: not a version, or
// older than the oldest supported.
func CheckVersion(v string) string {
	have, err := parseVersion(v)
	if err != nil {
		return err.Error()
	}
	oldest, _ := parseVersion(OldestVersion)
	if compareVersions(have, oldest) < 0 {
		return fmt.Sprintf("Gloo %s is older than %s, the oldest gatefed supports", v, OldestVersion)
	}
	return ""
}

// EnterpriseImage reports whether an image of Gloo's control plane is Gloo
// Edge Enterprise's (gloo-ee), not open-source Gloo's (gloo).
func EnterpriseImage(image string) bool {
	return strings.HasSuffix(provider.ImageName(image), "-ee")
}
