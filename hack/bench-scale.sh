#!/usr/bin/env bash
# Measures gatefed on fleets of N real kube-apiservers sharing one etcd
# (N = 5, 10 and 20 by default): cold apply and its ratio to the API servers'
# own CPU time, no-op apply, diff, check, and gatefed's peak resident set.
# See docs/performance.md (Scale) and hack/benchscale.
#
# Usage: hack/bench-scale.sh
#   SIZES=5,10,20   fleet sizes
#   SERVICES=32     services placed on every cluster
#   ROUTES=16       routes served by every cluster
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(mktemp -d "${TMPDIR:-/tmp}/gatefed-bench-scale.XXXXXX")
trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/gatefed" ./cmd/gatefed
go build -o "$BIN/benchscale" ./hack/benchscale
"$BIN/benchscale" -gatefed "$BIN/gatefed" -sizes "${SIZES:-5,10,20}" -services "${SERVICES:-32}" -routes "${ROUTES:-16}"
