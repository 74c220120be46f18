#!/usr/bin/env bash
# Runs the demo end to end: starts a 3-cluster demo fleet, runs gatefed's
# commands against it (diff, apply and check when this gatefed has them),
# prints a success line, and always stops the fleet again.
#
#   hack/demo.sh [GATEFED_BINARY]     (make demo builds bin/gatefed first)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
g=$(cd "$(dirname "${1:-$root/bin/gatefed}")" && pwd)/$(basename "${1:-$root/bin/gatefed}")
[[ -x $g ]] || { echo "error: $g not found; run make build" >&2; exit 2; }

state=$(mktemp -d "${TMPDIR:-/tmp}/gatefed-demo.XXXXXX")
rendered=$(mktemp -d "${TMPDIR:-/tmp}/gatefed-demo-render.XXXXXX")

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  # The terminal or pipe may be gone: ignore SIGPIPE, and let down write to a file.
  trap '' PIPE
  local log ok=true
  log=$(mktemp)
  "$g" demo down --state-dir "$state" >"$log" 2>&1 || ok=false
  rm -rf "$rendered"
  rmdir "$state" 2>/dev/null || true
  if $ok; then
    { echo "==> gatefed demo down"; cat "$log"; } 2>/dev/null || true
  else
    { echo "==> gatefed demo down FAILED (state kept in $state):"; cat "$log"; } >&2 2>/dev/null || true
    rc=1
  fi
  rm -f "$log"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP PIPE

help=$("$g" --help)
has() { grep -qE "^  $1 " <<<"$help"; }
run() {
  echo "==> gatefed $*"
  "$g" -f "$state/fleet" --kubeconfig "$state/kubeconfig" "$@"
}

echo "==> gatefed demo up --clusters 3"
"$g" demo up --clusters 3 --state-dir "$state"

done=(validate)
run validate
run render --out-dir "$rendered"
echo "    $(find "$rendered" -name '*.yaml' ! -name kustomization.yaml | wc -l) objects rendered into $rendered"
done+=(render)

if has diff; then
  rc=0
  run diff || rc=$?
  (( rc <= 1 )) || { echo "error: gatefed diff failed (exit $rc)" >&2; exit 1; }
  done+=("diff (exit $rc)")
fi
if has apply; then
  run apply
  done+=(apply)
  if has diff; then
    run diff
    done+=("diff after apply: in sync")
  fi
fi
if has check; then
  echo "==> gatefed demo reconcile   (writes the statuses the gateway controllers would)"
  "$g" demo reconcile --state-dir "$state"
  run check
  done+=(check)
fi

echo
summary=$(printf '%s, ' "${done[@]}")
echo "==> make demo: OK: ${summary%, } against 3 live clusters"
