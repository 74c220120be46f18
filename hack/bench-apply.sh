#!/usr/bin/env bash
# Times gatefed apply and diff against kubectl apply/diff --server-side looped
# over the same contexts, on local clusters started with "gatefed demo up"
# (real kube-apiservers with the Gateway API, Envoy Gateway and Gloo CRDs).
#
# The fleet has 5 clusters (gloo and envoy-gateway alternating) and renders
# about 200 objects per cluster. gatefed and kubectl each get their own
# gateway and service namespaces, so both start from nothing. Discovery caches
# (gatefed's and kubectl's, both under the work directory) are warmed first.
#
# Usage: hack/bench-apply.sh
#   ROUNDS=3      repeat on fresh namespaces (default 1)
#   KUBECTL=path  kubectl binary (default ~/.cache/gatefed/kube/v1.37.2/kubectl)
#   RTT=20ms      put a network round trip between both tools and the clusters
#                 (hack/rttproxy: every byte delayed by half of it each way);
#                 default none, the loopback as it is
#   KEEP=1        leave the demo fleet and work directory in place
set -euo pipefail
cd "$(dirname "$0")/.."

KUBECTL=${KUBECTL:-$HOME/.cache/gatefed/kube/v1.37.2/kubectl}
ROUNDS=${ROUNDS:-1}
SHARED=25     # services and routes placed in every cluster
GLOO_ONLY=41  # more placed in the gloo clusters only, so each cluster has ~200 objects
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatefed-bench.XXXXXX")
GATEFED=$WORK/gatefed
GCACHE=$WORK/gatefed-cache
KCACHE=$WORK/kubectl-cache

echo "work directory: $WORK"
go build -o "$GATEFED" ./cmd/gatefed
"$GATEFED" demo up --clusters 5 --state-dir "$WORK/demo" --no-build >"$WORK/demo-up.log" 2>&1 ||
  { cat "$WORK/demo-up.log" >&2; exit 1; }
cleanup() {
  [[ -z "${PROXY_PID:-}" ]] || kill "$PROXY_PID" 2>/dev/null || true
  if [[ -z "${KEEP:-}" ]]; then
    "$GATEFED" demo down --state-dir "$WORK/demo" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
export KUBECONFIG=$WORK/demo/kubeconfig
if [[ -n "${RTT:-}" ]]; then
  go build -o "$WORK/rttproxy" ./hack/rttproxy
  "$WORK/rttproxy" -kubeconfig "$KUBECONFIG" -out "$WORK/kubeconfig-rtt" -rtt "$RTT" 2>"$WORK/rttproxy.log" &
  PROXY_PID=$!
  for _ in $(seq 100); do [[ -s "$WORK/kubeconfig-rtt" ]] && break; sleep 0.1; done
  [[ -s "$WORK/kubeconfig-rtt" ]] || { cat "$WORK/rttproxy.log" >&2; exit 1; }
  export KUBECONFIG=$WORK/kubeconfig-rtt
fi
mapfile -t CLUSTERS < <("$KUBECTL" config get-contexts -o name)
kctl() { "$KUBECTL" --cache-dir "$KCACHE" "$@"; }

# gen_fleet GATEWAY_NS SERVICE_NS FILE writes the fleet.
gen_fleet() {
  local gwns=$1 svcns=$2 out=$3 i=0 p gloo=() placement names
  : >"$out"
  for c in "${CLUSTERS[@]}"; do
    if (( i % 2 == 0 )); then p=gloo; gloo+=("$c"); else p=envoy-gateway; fi
    cat >>"$out" <<DOC
---
apiVersion: gatefed.dev/v1alpha1
kind: Cluster
metadata: {name: $c}
spec:
  region: r$(( i / 2 ))
  zone: r$(( i / 2 ))-$(( i % 2 ))
  gateway: {provider: $p, namespace: $gwns}
  failover: {address: 127.0.0.1, port: $(( 15443 + i ))}
DOC
    i=$(( i + 1 ))
  done
  names=$(IFS=,; echo "${gloo[*]}")
  for (( s = 0; s < SHARED + GLOO_ONLY; s++ )); do
    placement=""
    if (( s >= SHARED )); then placement="  clusters: {names: [$names]}"; fi
    cat >>"$out" <<DOC
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalService
metadata: {name: svc-$s, namespace: $svcns}
spec:
  port: 8080
$placement
  healthCheck: {path: /healthz, interval: 5s, timeout: 1s}
---
apiVersion: gatefed.dev/v1alpha1
kind: GlobalRoute
metadata: {name: route-$s, namespace: $svcns}
spec:
  hosts: [r$s.example.com]
$placement
  rules:
  - backends: [{service: svc-$s}]
DOC
  done
}

now_ms() { date +%s%3N; }
# timed NAME COMMAND... runs the command, records its wall time in ms in T[NAME].
declare -A T
timed() {
  local name=$1 start
  shift
  start=$(now_ms)
  "$@"
  T[$name]=$(( $(now_ms) - start ))
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }

gf() { XDG_CACHE_HOME=$GCACHE "$GATEFED" "$@"; }
gatefed_apply() { gf apply -f "$1" --yes >"$WORK/gatefed-apply.out" 2>"$WORK/gatefed-apply.err"; }
gatefed_diff() {
  local rc=0
  gf diff -f "$1" >"$WORK/gatefed-diff.out" 2>"$WORK/gatefed-diff.err" || rc=$?
  (( rc <= 1 )) || { cat "$WORK/gatefed-diff.err" >&2; return 1; }
}
kubectl_apply_loop() {
  for c in "${CLUSTERS[@]}"; do
    kctl --context "$c" apply --server-side -f "$1/$c.yaml" >/dev/null
  done
}
kubectl_diff_loop() {
  local rc
  for c in "${CLUSTERS[@]}"; do
    rc=0
    kctl --context "$c" diff --server-side -f "$1/$c.yaml" >/dev/null || rc=$?
    (( rc <= 1 )) || return 1
  done
}

for c in "${CLUSTERS[@]}"; do kctl --context "$c" api-resources >/dev/null; done

for (( r = 1; r <= ROUNDS; r++ )); do
  G=$WORK/round$r/gatefed K=$WORK/round$r/kubectl
  mkdir -p "$G" "$K"
  for c in "${CLUSTERS[@]}"; do
    kctl --context "$c" create namespace "bench-g$r" >/dev/null
    kctl --context "$c" create namespace "svc-g$r" >/dev/null
    kctl --context "$c" create namespace "bench-k$r" >/dev/null
    kctl --context "$c" create namespace "svc-k$r" >/dev/null
  done
  gen_fleet "bench-g$r" "svc-g$r" "$G/fleet.yaml"
  gen_fleet "bench-k$r" "svc-k$r" "$K/fleet.yaml"
  total=0
  for c in "${CLUSTERS[@]}"; do
    "$GATEFED" render -f "$K/fleet.yaml" --cluster "$c" >"$K/$c.yaml" 2>/dev/null
    total=$(( total + $(grep -c '^kind: ' "$K/$c.yaml") ))
  done
  gatefed_diff "$G/fleet.yaml" # warms gatefed's discovery cache; writes nothing

  timed gatefed_cold gatefed_apply "$G/fleet.yaml"
  timed kubectl_cold kubectl_apply_loop "$K"
  timed gatefed_nochange gatefed_apply "$G/fleet.yaml"
  timed kubectl_nochange kubectl_apply_loop "$K"
  timed gatefed_diff gatefed_diff "$G/fleet.yaml"
  timed kubectl_diff kubectl_diff_loop "$K"

  # Both sides must have converged for the numbers to mean anything.
  grep -q "in sync: ${#CLUSTERS[@]} clusters" "$WORK/gatefed-diff.err" || { echo "gatefed diff found changes after apply" >&2; exit 1; }
  for c in "${CLUSTERS[@]}"; do
    kctl --context "$c" diff --server-side -f "$K/$c.yaml" >/dev/null || { echo "kubectl diff found changes in $c after apply" >&2; exit 1; }
  done

  echo
  echo "round $r: ${#CLUSTERS[@]} clusters, $total objects ($(( total / ${#CLUSTERS[@]} )) per cluster), round trip ${RTT:-none (loopback)}, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-22s %10s %10s %8s\n' "" "gatefed" "kubectl" "ratio"
  printf '%-22s %8sms %8sms %8s\n' "apply (cold)" "${T[gatefed_cold]}" "${T[kubectl_cold]}" "$(ratio "${T[kubectl_cold]}" "${T[gatefed_cold]}")"
  printf '%-22s %8sms %8sms %8s\n' "apply (no change)" "${T[gatefed_nochange]}" "${T[kubectl_nochange]}" "$(ratio "${T[kubectl_nochange]}" "${T[gatefed_nochange]}")"
  printf '%-22s %8sms %8sms %8s\n' "diff (in sync)" "${T[gatefed_diff]}" "${T[kubectl_diff]}" "$(ratio "${T[kubectl_diff]}" "${T[gatefed_diff]}")"
done
