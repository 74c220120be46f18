package cmd_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatefed/gatefed/cmd"
	"github.com/gatefed/gatefed/internal/iostreams"
)

// Documents the invalid cases build on.
const (
	hdr      = "apiVersion: gatefed.dev/v1alpha1\n"
	east     = hdr + "kind: Cluster\nmetadata: {name: us-east, labels: {env: prod}}\nspec:\n  region: us-east-1\n  gateway: {provider: gloo}\n  failover: {address: 203.0.113.10}\n"
	west     = hdr + "kind: Cluster\nmetadata: {name: eu-west}\nspec:\n  region: eu-west-1\n  gateway: {provider: envoy-gateway}\n  failover: {address: 203.0.113.20}\n"
	svc      = hdr + "kind: GlobalService\nmetadata: {name: checkout, namespace: shop}\nspec:\n  port: 8080\n  healthCheck: {path: /healthz, interval: 5s, timeout: 1s}\n"
	clusters = east + "---\n" + west + "---\n"
)

func route(spec string) string {
	return hdr + "kind: GlobalRoute\nmetadata: {name: shop, namespace: shop}\nspec:\n" + spec
}

func service(spec string) string {
	return hdr + "kind: GlobalService\nmetadata: {name: checkout, namespace: shop}\nspec:\n" + spec
}

func extension(spec string) string {
	return hdr + "kind: GlobalExtension\nmetadata: {name: geo, namespace: shop}\nspec:\n" + spec
}

// westOnly is a route spec served by the envoy-gateway cluster only.
const westOnly = "  hosts: [a.example.com]\n  clusters: {names: [eu-west]}\n  rules:\n  - {backends: [{service: checkout}]}\n"

// digest is a well-formed module digest.
const digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func cluster(name, spec string) string {
	return hdr + "kind: Cluster\nmetadata: {name: " + name + "}\nspec:\n" + spec
}

// TestValidateInvalid runs gatefed validate on invalid fleets: each must exit
// 2 and print exactly the expected error lines.
func TestValidateInvalid(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"yaml syntax", "apiVersion: gatefed.dev/v1alpha1\nkind: [Cluster\n",
			[]string{"fleet.yaml:2:7: invalid YAML: did not find expected ',' or ']': the [ opened here is not closed on this line\n  2 | kind: [Cluster\n    |       ^"}},
		{"not a mapping", "- a\n- b\n",
			[]string{"fleet.yaml:1: document 1: must be a mapping with apiVersion and kind, not a list"}},
		{"missing apiVersion", "kind: Cluster\n",
			[]string{"fleet.yaml:1: apiVersion: document 1: required (want gatefed.dev/v1alpha1)"}},
		{"wrong apiVersion", "apiVersion: gatefed.dev/v1\nkind: Cluster\n",
			[]string{`fleet.yaml:1: apiVersion: document 1: unsupported "gatefed.dev/v1" (want gatefed.dev/v1alpha1)`}},
		{"missing kind", hdr + "metadata: {name: a}\n",
			[]string{"fleet.yaml:1: kind: document 1: required (want one of Cluster, GlobalService, GlobalRoute, GlobalExtension)"}},
		{"unknown kind", hdr + "kind: GlobalServce\n",
			[]string{`fleet.yaml:2: kind: document 1: unknown kind "GlobalServce" (did you mean "GlobalService"?) (want one of Cluster, GlobalService, GlobalRoute, GlobalExtension)`}},
		{"unknown field with suggestion", cluster("a", "  gateway: {provider: gloo}\n  regoin: x\n"),
			[]string{`fleet.yaml:6: Cluster a: spec.regoin: unknown field (did you mean "region"?) (fields here: clusterDomain, context, failover, failoverCertificates, gateway, kubeconfig, region, zone)`}},
		{"unknown field far from any", cluster("a", "  gateway: {provider: gloo}\n  colour: blue\n"),
			[]string{`fleet.yaml:6: Cluster a: spec.colour: unknown field (fields here: clusterDomain, context, failover, failoverCertificates, gateway, kubeconfig, region, zone)`}},
		{"duplicate key", cluster("a", "  gateway: {provider: gloo}\n  region: x\n  region: y\n"),
			[]string{`fleet.yaml:7: Cluster a: spec.region: duplicate key`}},
		{"string for int", clusters + service("  port: \"8080\"\n  outlierDetection: {consecutive5xx: 3}\n"),
			[]string{`fleet.yaml:21: GlobalService shop/checkout: spec.port: must be a whole number, not a string`}},
		{"int for string", clusters + service("  port: 8080\n  serviceName: 5\n  outlierDetection: {consecutive5xx: 3}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.serviceName: must be a string, not a number (quote it: "5")`}},
		{"number for duration", clusters + service("  port: 8080\n  healthCheck: {path: /h, interval: 5, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.healthCheck.interval: must be a duration string such as "5s", not a number (quote it: "5")`}},
		{"list for mapping", cluster("a", "  gateway: [gloo]\n"),
			[]string{`fleet.yaml:5: Cluster a: spec.gateway: must be a mapping, not a list`}},
		{"port out of int32", clusters + service("  port: 99999999999\n  outlierDetection: {consecutive5xx: 3}\n"),
			[]string{`fleet.yaml:21: GlobalService shop/checkout: spec.port: number 99999999999 is out of range`}},
		{"missing name", hdr + "kind: Cluster\nmetadata: {}\nspec: {gateway: {provider: gloo}}\n",
			[]string{`fleet.yaml:3: Cluster (unnamed): metadata.name: required`}},
		{"bad cluster name", cluster("US_East", "  gateway: {provider: gloo}\n"),
			[]string{`fleet.yaml:3: Cluster US_East: metadata.name: invalid name "US_East": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{"cluster with namespace", hdr + "kind: Cluster\nmetadata: {name: a, namespace: x}\nspec: {gateway: {provider: gloo}}\n",
			[]string{`fleet.yaml:3: Cluster a: metadata.namespace: a Cluster has no namespace`}},
		{"bad label value", hdr + "kind: Cluster\nmetadata: {name: a, labels: {env: \"no spaces\"}}\nspec: {gateway: {provider: gloo}}\n",
			[]string{`fleet.yaml:3: Cluster a: metadata.labels.env: invalid label value "no spaces": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"duplicate cluster", east + "---\n" + east,
			[]string{`fleet.yaml:11: Cluster us-east: metadata.name: duplicate Cluster "us-east" (also defined at fleet.yaml:1)`}},
		{"missing provider", cluster("a", "  gateway: {}\n"),
			[]string{`fleet.yaml:5: Cluster a: spec.gateway.provider: required (want gloo, envoy-gateway or istio)`}},
		{"unknown provider", cluster("a", "  gateway: {provider: envoygateway}\n"),
			[]string{`fleet.yaml:5: Cluster a: spec.gateway.provider: unknown provider "envoygateway" (did you mean "envoy-gateway"?) (want gloo, envoy-gateway or istio)`}},
		{"className on gloo", cluster("a", "  gateway: {provider: gloo, className: eg}\n"),
			[]string{`fleet.yaml:5: Cluster a: spec.gateway.className: only for provider envoy-gateway`}},
		{"strictTiers on gloo", cluster("a", "  gateway: {provider: gloo, strictTiers: true}\n"),
			[]string{`fleet.yaml:5: Cluster a: spec.gateway.strictTiers: only for provider envoy-gateway`}},
		{"ipFamilies and version on istio", cluster("a", "  gateway: {provider: istio, ipFamilies: [IPv4], version: \"1.22\"}\n"),
			[]string{`fleet.yaml:5: Cluster a: spec.gateway.ipFamilies: only for provider gloo`, `fleet.yaml:5: Cluster a: spec.gateway.version: only for provider gloo`}},
		{"bad gloo version and ip family", cluster("a", "  gateway: {provider: gloo, ipFamilies: [ipv4], version: \"1.16.2\"}\n"),
			[]string{`fleet.yaml:5: Cluster a: spec.gateway.ipFamilies[0]: "ipv4" is not an IP family (want IPv4 or IPv6, as in the Service's spec.ipFamilies)`, `fleet.yaml:5: Cluster a: spec.gateway.version: Gloo 1.16.2 is older than 1.17, the oldest gatefed supports`}},
		{"bad gateway namespace", cluster("a", "  gateway: {provider: gloo, namespace: Gloo}\n"),
			[]string{`fleet.yaml:5: Cluster a: spec.gateway.namespace: invalid namespace "Gloo": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{"failover without address", cluster("a", "  gateway: {provider: gloo}\n  failover: {port: 15443}\n"),
			[]string{`fleet.yaml:6: Cluster a: spec.failover.address: required: the IP or DNS name other clusters reach this one on`}},
		{"bad failover address", cluster("a", "  gateway: {provider: gloo}\n  failover: {address: \"not an address\"}\n"),
			[]string{`fleet.yaml:6: Cluster a: spec.failover.address: "not an address" is neither an IP address nor a DNS name`}},
		{"failover port out of range", cluster("a", "  gateway: {provider: gloo}\n  failover: {address: 10.0.0.1, port: 70000}\n"),
			[]string{`fleet.yaml:6: Cluster a: spec.failover.port: port 70000 out of range 1-65535`}},
		{"failover certificates without an issuer", cluster("a", "  gateway: {provider: gloo}\n  failoverCertificates:\n    issuerRef: {kind: ClusterIsuer}\n    duration: 24h\n    renewBefore: 48h\n"),
			[]string{
				`fleet.yaml:7: Cluster a: spec.failoverCertificates.issuerRef.name: required: the cert-manager Issuer or ClusterIssuer that signs the failover certificates`,
				`fleet.yaml:7: Cluster a: spec.failoverCertificates.issuerRef.kind: unknown kind "ClusterIsuer" (did you mean "ClusterIssuer"?) (want Issuer or ClusterIssuer)`,
				`fleet.yaml:9: Cluster a: spec.failoverCertificates.renewBefore: 48h must be shorter than duration 24h`,
			}},
		{"failover certificates with a bad duration", cluster("a", "  gateway: {provider: gloo}\n  failoverCertificates: {issuerRef: {name: ca}, duration: 90d}\n"),
			[]string{`fleet.yaml:6: Cluster a: spec.failoverCertificates.duration: invalid duration "90d" (use a number and unit, such as 5s or 100ms)`}},
		{"zone without region", cluster("a", "  gateway: {provider: gloo}\n  zone: z1\n"),
			[]string{`fleet.yaml:6: Cluster a: spec.zone: a zone needs a region`}},
		{"missing port", clusters + service("  serviceName: checkout\n  outlierDetection: {consecutive5xx: 3}\n"),
			[]string{`fleet.yaml:20: GlobalService shop/checkout: spec.port: required`}},
		{"port zero", clusters + service("  port: 0\n  outlierDetection: {consecutive5xx: 3}\n"),
			[]string{`fleet.yaml:21: GlobalService shop/checkout: spec.port: port 0 out of range 1-65535`}},
		{"negative port", clusters + service("  port: -1\n  outlierDetection: {consecutive5xx: 3}\n"),
			[]string{`fleet.yaml:21: GlobalService shop/checkout: spec.port: port -1 out of range 1-65535`}},
		{"bad service name", clusters + service("  port: 80\n  serviceName: 1checkout\n  healthCheck: {path: /h, interval: 5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.serviceName: invalid Service name "1checkout": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`}},
		{"unknown placement cluster", clusters + service("  port: 80\n  clusters: {names: [us-est]}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.clusters.names[0]: unknown cluster "us-est" (did you mean "us-east"?)`,
				`fleet.yaml:22: GlobalService shop/checkout: spec.clusters: matches no cluster`}},
		{"selector matches nothing", clusters + service("  port: 80\n  clusters: {selector: {matchLabels: {env: dev}}}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.clusters: matches no cluster`}},
		{"bad selector operator", clusters + service("  port: 80\n  clusters: {selector: {matchExpressions: [{key: env, operator: Is, values: [prod]}]}}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.clusters.selector.matchExpressions[0].operator: unknown operator "Is" (want In, NotIn, Exists or DoesNotExist)`,
				`fleet.yaml:22: GlobalService shop/checkout: spec.clusters: matches no cluster`}},
		{"unknown policy", clusters + service("  port: 80\n  failover: {policy: orderd}\n  healthCheck: {path: /h, interval: 5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.failover.policy: unknown policy "orderd" (did you mean "ordered"?) (want ordered or locality)`}},
		{"ordered without order", clusters + service("  port: 80\n  failover: {policy: ordered}\n  healthCheck: {path: /h, interval: 5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.failover.order: required for policy ordered`}},
		{"order with locality", clusters + service("  port: 80\n  failover: {order: [us-east]}\n  healthCheck: {path: /h, interval: 5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.failover.order: only with policy ordered`}},
		{"maxTiers zero", clusters + service("  port: 80\n  failover: {maxTiers: 0}\n  healthCheck: {path: /h, interval: 5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.failover.maxTiers: 0: must be at least 1 (1 keeps only the first tier: no failover)`}},
		{"order names unknown cluster", clusters + service("  port: 80\n  failover: {policy: ordered, order: [us-east, eu-wst]}\n  healthCheck: {path: /h, interval: 5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.failover.order[1]: unknown cluster "eu-wst" (did you mean "eu-west"?)`}},
		{"order names cluster outside placement", clusters + service("  port: 80\n  clusters: {names: [us-east]}\n  failover: {policy: ordered, order: [eu-west]}\n  healthCheck: {path: /h, interval: 5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:23: GlobalService shop/checkout: spec.failover.order[0]: cluster "eu-west" does not run this service (see spec.clusters)`}},
		{"order lists a cluster twice", clusters + service("  port: 80\n  failover: {policy: ordered, order: [us-east, us-east]}\n  healthCheck: {path: /h, interval: 5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.failover.order[1]: cluster "us-east" listed twice`}},
		{"no health signal", clusters + service("  port: 80\n"),
			[]string{`fleet.yaml:20: GlobalService shop/checkout: spec: the service can fail over between clusters but has neither healthCheck nor outlierDetection: every provider needs a health signal to fail over (gloo, envoy-gateway: either)`}},
		{"no health signal, with istio", clusters + hdr + "kind: Cluster\nmetadata: {name: ap-south}\nspec:\n  region: ap-south-1\n  gateway: {provider: istio}\n  failover: {address: 203.0.113.30}\n---\n" + service("  port: 80\n"),
			[]string{`fleet.yaml:28: GlobalService shop/checkout: spec: the service can fail over between clusters but has neither healthCheck nor outlierDetection: every provider needs a health signal to fail over (gloo, envoy-gateway: either; istio: outlierDetection, into which it turns a healthCheck)`}},
		{"health check path", clusters + service("  port: 80\n  healthCheck: {path: healthz, interval: 5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.healthCheck.path: must start with /`}},
		{"bad duration", clusters + service("  port: 80\n  healthCheck: {path: /h, interval: 5 seconds, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.healthCheck.interval: invalid duration "5 seconds" (use a number and unit, such as 5s or 100ms)`}},
		{"negative duration", clusters + service("  port: 80\n  healthCheck: {path: /h, interval: -5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.healthCheck.interval: duration "-5s" must be positive`}},
		{"missing health check path", clusters + service("  port: 80\n  healthCheck: {interval: 5s, timeout: 1s}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.healthCheck.path: required`}},
		{"ejection percent", clusters + service("  port: 80\n  outlierDetection: {consecutive5xx: 5, maxEjectionPercent: 150}\n"),
			[]string{`fleet.yaml:22: GlobalService shop/checkout: spec.outlierDetection.maxEjectionPercent: 150 is not a percentage (0-100)`}},
		{"duplicate service", clusters + svc + "---\n" + svc,
			[]string{`fleet.yaml:26: GlobalService shop/checkout: metadata.name: duplicate GlobalService "shop/checkout" (also defined at fleet.yaml:17)`}},
		{"services without clusters", svc,
			[]string{`fleet.yaml:1: the fleet has no Cluster documents`}},
		{"hosts past an HTTPRoute", clusters + svc + "---\n" + route("  hosts: [h0.example.com, h1.example.com, h2.example.com, h3.example.com, h4.example.com, h5.example.com, h6.example.com, h7.example.com, h8.example.com, h9.example.com, h10.example.com, h11.example.com, h12.example.com, h13.example.com, h14.example.com, h15.example.com, h16.example.com]\n  rules: [{backends: [{service: checkout}]}]\n"),
			[]string{`fleet.yaml:28: GlobalRoute shop/shop: spec.hosts: 17 hosts: cluster "eu-west" (envoy-gateway) serves it with an Envoy Gateway HTTPRoute, which allows 16; split the hosts over several GlobalRoutes`}},
		{"rules past an HTTPRoute", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n  - {backends: [{service: checkout}]}\n"),
			[]string{`fleet.yaml:29: GlobalRoute shop/shop: spec.rules: 17 rules: cluster "eu-west" (envoy-gateway) serves it with an Envoy Gateway HTTPRoute, which allows 16; split the rules over several GlobalRoutes`}},
		{"matches past an HTTPRoute", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {match: {pathPrefix: /p0, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p1, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p2, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p3, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p4, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p5, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p6, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p7, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p8, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p9, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p10, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p11, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p12, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p13, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p14, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n  - {match: {pathPrefix: /p15, methods: [GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH]}, backends: [{service: checkout}]}\n"),
			[]string{`fleet.yaml:29: GlobalRoute shop/shop: spec.rules: the rules make 144 matches in all (one per method, one for a rule without methods): cluster "eu-west" (envoy-gateway) serves it with an Envoy Gateway HTTPRoute, which allows 128; split the rules over several GlobalRoutes`}},
		{"backendRefs past an HTTPRoute rule", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - backends: [{service: checkout}, {service: checkout}, {service: checkout}, {service: checkout}, {service: checkout}, {service: checkout}, {service: checkout}, {service: checkout}, {service: checkout}]\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].backends: needs 18 backendRefs, one per backend and failover tier (up to 2 tiers per backend): cluster "eu-west" (envoy-gateway) serves it with an Envoy Gateway HTTPRoute, which allows 16 per rule; give the services of this rule failover.maxTiers of at most 1, or split the backends over several rules`}},
		{"route without hosts", clusters + svc + "---\n" + route("  rules: [{backends: [{service: checkout}]}]\n"),
			[]string{`fleet.yaml:27: GlobalRoute shop/shop: spec.hosts: required: at least one host`}},
		{"bad host", clusters + svc + "---\n" + route("  hosts: [shop.example.com, \"shop.*.com\"]\n  rules: [{backends: [{service: checkout}]}]\n"),
			[]string{`fleet.yaml:28: GlobalRoute shop/shop: spec.hosts[1]: invalid host "shop.*.com": a wildcard is allowed only as the whole first label ("*.example.com") or as the whole host ("*", every host)`}},
		{"catch-all host with others", clusters + svc + "---\n" + route("  hosts: [a.example.com, \"*\"]\n  rules: [{backends: [{service: checkout}]}]\n"),
			[]string{`fleet.yaml:28: GlobalRoute shop/shop: spec.hosts[1]: the catch-all host "*" serves every host: it must be the route's only host`}},
		{"catch-all host served twice", clusters + svc + "---\n" + route("  hosts: [\"*\"]\n  rules: [{backends: [{service: checkout}]}]\n") + "---\n" + strings.Replace(route("  hosts: [\"*\"]\n  rules: [{backends: [{service: checkout}]}]\n"), "name: shop,", "name: shop2,", 1),
			[]string{`fleet.yaml:35: GlobalRoute shop/shop2: spec.hosts[0]: host "*" is also served by GlobalRoute shop/shop on cluster "eu-west"; put both in one route`}},
		{"duplicate host", clusters + svc + "---\n" + route("  hosts: [a.example.com, a.example.com]\n  rules: [{backends: [{service: checkout}]}]\n"),
			[]string{`fleet.yaml:28: GlobalRoute shop/shop: spec.hosts[1]: host "a.example.com" listed twice`}},
		{"no rules", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n"),
			[]string{`fleet.yaml:27: GlobalRoute shop/shop: spec.rules: required: at least one rule`}},
		{"no backends", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules: [{name: r1}]\n"),
			[]string{`fleet.yaml:29: GlobalRoute shop/shop: spec.rules[0].backends: required: at least one backend (or a redirect or a directResponse instead)`}},
		{"unknown backend", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules: [{backends: [{service: chekout}]}]\n"),
			[]string{`fleet.yaml:29: GlobalRoute shop/shop: spec.rules[0].backends[0].service: unknown GlobalService "shop/chekout" (did you mean "shop/checkout"?)`}},
		{"backend in another namespace", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules: [{backends: [{service: web/checkout}]}]\n"),
			[]string{`fleet.yaml:29: GlobalRoute shop/shop: spec.rules[0].backends[0].service: unknown GlobalService "web/checkout" (did you mean "shop/checkout"?)`}},
		{"zero weights", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules: [{backends: [{service: checkout, weight: 0}]}]\n"),
			[]string{`fleet.yaml:29: GlobalRoute shop/shop: spec.rules[0].backends: the weights add up to 0: at least one backend needs a positive weight`}},
		{"negative weight", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules: [{backends: [{service: checkout, weight: -1}, {service: checkout, weight: 5}]}]\n"),
			[]string{`fleet.yaml:29: GlobalRoute shop/shop: spec.rules[0].backends[0].weight: must not be negative`}},
		{"two path matches", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - match: {pathPrefix: /a, pathExact: /b}\n    backends: [{service: checkout}]\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].match: at most one of pathPrefix, pathExact and pathRegex`}},
		{"prefix without slash", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - match: {pathPrefix: api}\n    backends: [{service: checkout}]\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].match.pathPrefix: must start with /`}},
		{"bad regex", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - match: {pathRegex: \"/a(b\"}\n    backends: [{service: checkout}]\n"),
			[]string{"fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].match.pathRegex: invalid regular expression: missing closing ): `/a(b`"}},
		{"bad header name", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - match: {headers: [{name: \"x canary\", value: \"1\"}]}\n    backends: [{service: checkout}]\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].match.headers[0].name: invalid header name "x canary": a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')`}},
		{"header value not a string", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - match: {headers: [{name: x-canary, value: true}]}\n    backends: [{service: checkout}]\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].match.headers[0].value: must be a string, not a boolean (quote it: "true")`}},
		{"unknown method", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - match: {methods: [GET, POSTT]}\n    backends: [{service: checkout}]\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].match.methods[1]: unknown HTTP method "POSTT" (did you mean "POST"?)`}},
		{"bad rule timeout", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - timeout: 15\n    backends: [{service: checkout}]\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].timeout: must be a duration string such as "5s", not a number (quote it: "15")`}},
		{"negative retries", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - retries: {attempts: -2, perTryTimeout: 1x}\n    backends: [{service: checkout}]\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].retries.attempts: must not be negative`,
				`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].retries.perTryTimeout: invalid duration "1x" (use a number and unit, such as 5s or 100ms)`}},
		{"duplicate rule name", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {name: r, backends: [{service: checkout}]}\n  - {name: r, backends: [{service: checkout}]}\n"),
			[]string{`fleet.yaml:31: GlobalRoute shop/shop: spec.rules[1].name: rule name "r" used twice`}},
		{"unreachable service", clusters + service("  port: 80\n  clusters: {names: [x]}\n") + "---\n" + cluster("x", "  gateway: {provider: gloo}\n") + "---\n" + route("  hosts: [a.example.com]\n  clusters: {names: [us-east]}\n  rules: [{backends: [{service: checkout}]}]\n"),
			[]string{`fleet.yaml:36: GlobalRoute shop/shop: spec.rules[0].backends[0].service: GlobalService "shop/checkout" cannot be reached from cluster "us-east": it does not run there and none of the clusters it runs in has spec.failover`}},
		{"failover targets by IP and DNS name for envoy-gateway", clusters + cluster("ap", "  gateway: {provider: gloo}\n  failover: {address: ap.lb.example.net}\n") + "---\n" + svc + "---\n" + route("  hosts: [a.example.com]\n  rules: [{backends: [{service: checkout}]}]\n"),
			[]string{`fleet.yaml:22: Cluster ap: spec.failover.address: "ap.lb.example.net" is a DNS name, but envoy-gateway cluster "eu-west" also fails GlobalRoute shop/shop rule 0 over to us-east (203.0.113.10), which have IP addresses: Envoy Gateway cannot hold both in one Envoy cluster and would split healthy traffic across failover tiers; give these failover targets the same kind of address (all DNS names or all IP addresses)`}},
		{"bad cluster domain", cluster("a", "  clusterDomain: Bad_Domain\n  gateway: {provider: gloo}\n"),
			[]string{`fleet.yaml:5: Cluster a: spec.clusterDomain: invalid DNS domain "Bad_Domain": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"rule with backends and a redirect", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {backends: [{service: checkout}], redirect: {scheme: https}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].redirect: a rule has one of backends, redirect and directResponse, not backends and redirect`}},
		{"redirect to the same URL", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {redirect: {statusCode: 301}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].redirect: set at least one of scheme, hostname, port, path and pathPrefix: a redirect to the same URL loops`}},
		{"bad redirect scheme and status", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {redirect: {scheme: ftp, statusCode: 399}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].redirect.scheme: unknown scheme "ftp" (want http or https)`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].redirect.statusCode: 399 is not a redirect status (want 301, 302, 303, 307 or 308)`}},
		{"redirect to http on gloo", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {redirect: {scheme: http}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].redirect.scheme: Gloo (cluster "us-east") redirects only to https, or serve the route from other clusters only: leave "us-east" out of the route's spec.clusters (names or selector; see "Placement" in docs/policy.md)`}},
		{"direct response status and a timeout", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {directResponse: {status: 700}, timeout: 5s}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].timeout: only with backends: a directResponse answers without sending the request on`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].directResponse.status: 700 is not a response status (200-599)`}},
		{"bad header changes", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {backends: [{service: checkout}], requestHeaders: {set: {\"bad header\": x, host: y, \":path\": z}, add: {x-a: \"50%\"}, remove: [x-a]}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].requestHeaders.set.:path: ":path" is a pseudo-header, which cannot be changed`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].requestHeaders.set.bad header: invalid header name "bad header": a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].requestHeaders.set.host: the Host header is changed with rewrite.hostname`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].requestHeaders.add.x-a: Envoy reads %...% in a header value as a command operator: write %% for a literal %`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].requestHeaders.remove[0]: header "x-a" also in spec.rules[0].requestHeaders.add.x-a`}},
		{"prefix rewrite on an exact match", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {match: {pathExact: /a}, backends: [{service: checkout}], rewrite: {pathPrefix: /b}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].rewrite.pathPrefix: replaces the matched path prefix, so the rule's match needs pathPrefix (or no path), not pathExact or pathRegex`}},
		{"prefix rewrite with methods on envoy-gateway", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {match: {pathPrefix: /a, methods: [GET, POST]}, backends: [{service: checkout}], rewrite: {pathPrefix: /b}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].rewrite.pathPrefix: Envoy Gateway (cluster "eu-west") replaces a prefix only for a rule with exactly one match, and this rule has one per method (2): give each method its own rule, or serve the route from other clusters only: leave "eu-west" out of the route's spec.clusters (names or selector; see "Placement" in docs/policy.md)`}},
		{"empty rewrite", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {backends: [{service: checkout}], rewrite: {}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].rewrite: set pathPrefix, hostname or both`}},
		{"bad CORS policy", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {backends: [{service: checkout}], cors: {allowOrigins: [\"*\", \"ftp://x.example.com\", \"https://Shop.example.com/path\"], allowMethods: [GETT], allowHeaders: [\"bad header\"], maxAge: 1500ms, allowCredentials: true}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].cors.allowOrigins[0]: browsers refuse credentials with the origin *: name the origins`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].cors.allowOrigins[1]: "ftp://x.example.com" is not an origin: want scheme://host[:port] (http or https, lower case, no path), a host starting with *., or *`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].cors.allowOrigins[2]: "https://Shop.example.com/path" is not an origin: want scheme://host[:port] (http or https, lower case, no path), a host starting with *., or *`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].cors.allowMethods[0]: unknown HTTP method "GETT" (did you mean "GET"?)`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].cors.allowHeaders[0]: invalid header name "bad header": a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].cors.maxAge: 1500ms is not a whole number of seconds (browsers cache for whole seconds)`}},
		{"CORS without origins", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {backends: [{service: checkout}], cors: {allowMethods: [GET]}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].cors.allowOrigins: required: at least one origin (scheme://host[:port], a *. host, or *)`}},
		{"bad rate limit", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {backends: [{service: checkout}], rateLimit: {requests: 0, unit: Seconds}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].rateLimit.requests: must be at least 1`, `fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].rateLimit.unit: unknown unit "Seconds" (did you mean "Second"?) (want Second, Minute or Hour)`}},
		{"rate limit on a redirect", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {redirect: {scheme: https}, rateLimit: {requests: 10, unit: Second}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].rateLimit: only with backends: a redirect answers without sending the request on`}},
		{"unknown mirror service", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {backends: [{service: checkout}], mirror: {service: checkot}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].mirror.service: unknown GlobalService "shop/checkot" (did you mean "shop/checkout"?)`}},
		{"mirror percent out of range", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {match: {pathPrefix: /a}, backends: [{service: checkout}], mirror: {service: checkout, percent: 0}}\n  - {backends: [{service: checkout}], mirror: {service: checkout, percent: 101}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].mirror.percent: 0 is not a percentage of requests (1-100; default 100)`, `fleet.yaml:31: GlobalRoute shop/shop: spec.rules[1].mirror.percent: 101 is not a percentage of requests (1-100; default 100)`}},
		{"mirror on a redirect and a direct response", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {match: {pathPrefix: /a}, redirect: {scheme: https}, mirror: {service: checkout}}\n  - {directResponse: {status: 503}, mirror: {service: checkout, percent: 5}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].mirror: only with backends: a redirect answers without sending the request on`, `fleet.yaml:31: GlobalRoute shop/shop: spec.rules[1].mirror: only with backends: a directResponse answers without sending the request on`}},
		{"tls without a Secret", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  tls: {httpsRedirect: true}\n  rules:\n  - {backends: [{service: checkout}]}\n"),
			[]string{`fleet.yaml:29: GlobalRoute shop/shop: spec.tls.secretName: required: the kubernetes.io/tls Secret with the hosts' certificate, in each serving cluster's gateway namespace`}},
		{"bad tls Secret name", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  tls: {secretName: Shop_TLS}\n  rules:\n  - {backends: [{service: checkout}]}\n"),
			[]string{`fleet.yaml:29: GlobalRoute shop/shop: spec.tls.secretName: invalid Secret name "Shop_TLS": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"cors without OPTIONS", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {match: {methods: [GET]}, backends: [{service: checkout}], cors: {allowOrigins: [https://a.example.com]}}\n"),
			[]string{`fleet.yaml:30: GlobalRoute shop/shop: spec.rules[0].match.methods: a rule with cors must match OPTIONS too: browsers send their preflight check as OPTIONS, and a request no rule matches gets no CORS answer`}},
		{"host served twice", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules: [{backends: [{service: checkout}]}]\n") + "---\n" + strings.Replace(route("  hosts: [a.example.com]\n  rules: [{backends: [{service: checkout}]}]\n"), "name: shop,", "name: shop2,", 1),
			[]string{`fleet.yaml:35: GlobalRoute shop/shop2: spec.hosts[0]: host "a.example.com" is also served by GlobalRoute shop/shop on cluster "eu-west"; put both in one route`}},
		{"bad wasm module", clusters + svc + "---\n" + route(westOnly) + "---\n" + extension("  wasm: {url: \"http://m.example.com/f.wasm\", sha256: \"sha256:abc\"}\n  routes: [shop, shopp]\n"),
			[]string{`fleet.yaml:37: GlobalExtension shop/geo: spec.wasm.url: "http://m.example.com/f.wasm": want an oci:// image or an https:// URL (plain http is not accepted: a module is fetched over TLS)`, `fleet.yaml:37: GlobalExtension shop/geo: spec.wasm.sha256: "sha256:abc" is not a sha256 digest: want 64 lowercase hex digits, without a sha256: prefix`, `fleet.yaml:38: GlobalExtension shop/geo: spec.routes[1]: unknown GlobalRoute "shopp" in namespace shop (did you mean "shop"?)`}},
		{"extension on a gloo cluster", clusters + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {backends: [{service: checkout}]}\n") + "---\n" + extension("  wasm: {url: \"oci://r.example.com/f:1\", sha256: "+digest+"}\n  clusters: {selector: {matchLabels: {env: prod}}}\n  routes: [shop]\n"),
			[]string{`fleet.yaml:38: GlobalExtension shop/geo: spec.routes[0]: provider gloo (cluster "us-east" serves GlobalRoute shop/shop) cannot run it: WebAssembly filters are a Gloo Edge Enterprise feature, and Gloo attaches them to a whole listener (Gateway httpGateway.options.wasm), not to one route. Leave gloo clusters out with spec.clusters.selector, or serve the route from envoy-gateway clusters only`}},
		{"extension on an istio cluster", clusters + cluster("mesh", "  gateway: {provider: istio}\n  failover: {address: 203.0.113.30}\n") + "---\n" + svc + "---\n" + route("  hosts: [a.example.com]\n  rules:\n  - {backends: [{service: checkout}]}\n") + "---\n" + extension("  wasm: {url: \"oci://r.example.com/f:1\", sha256: "+digest+"}\n  clusters: {selector: {matchExpressions: [{key: env, operator: DoesNotExist}]}}\n  routes: [shop]\n"),
			[]string{`fleet.yaml:45: GlobalExtension shop/geo: spec.routes[0]: provider istio (cluster "mesh" serves GlobalRoute shop/shop) cannot run it: Istio's WasmPlugin attaches to the gateway's workloads, so it would run on every route of the gateway, not on this one. Leave istio clusters out with spec.clusters.selector`}},
		{"extension without digest and routes", clusters + svc + "---\n" + route(westOnly) + "---\n" + extension("  wasm: {url: \"https://m.example.com/f.wasm\", failopen: true}\n"),
			[]string{`fleet.yaml:36: GlobalExtension shop/geo: spec.routes: required: at least one GlobalRoute in namespace shop`, `fleet.yaml:37: GlobalExtension shop/geo: spec.wasm.failopen: unknown field (did you mean "failOpen"?) (fields here: config, failOpen, sha256, url)`, `fleet.yaml:37: GlobalExtension shop/geo: spec.wasm.sha256: required: a module is pinned by its digest (64 lowercase hex digits: sha256 of the module file for https://, of the image manifest for oci://)`}},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "fleet.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			streams, _, out, errOut := iostreams.Test()
			code := cmd.Main([]string{"validate", "-f", path}, streams)
			if code != cmd.ExitError {
				t.Errorf("exit status %d, want 2\nstderr:\n%s", code, errOut)
			}
			if out.Len() != 0 {
				t.Errorf("stdout not empty: %s", out)
			}
			got := strings.Split(strings.TrimSpace(strings.ReplaceAll(errOut.String(), dir+string(filepath.Separator), "")), "\n")
			want := append(append([]string{}, tc.want...), summaryLine(len(tc.want)))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("stderr:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func summaryLine(n int) string {
	if n == 1 {
		return "1 error in the fleet; nothing was done"
	}
	return strconv.Itoa(n) + " errors in the fleet; nothing was done"
}
