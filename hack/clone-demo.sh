#!/usr/bin/env bash
# Proves that a fresh clone runs the demo with nothing outside it: clones this
# repository's HEAD into a new temporary directory (nothing beside it, no
# ../shared), runs `make demo` there, then runs `gatefed demo up` and `down`
# with a gatefed binary copied to a directory outside any source tree.
# Both reuse the binary cache (GATEFED_CACHE, as hack/build-kube.sh prints it)
# and the Go build cache, so this costs a gatefed build and two demo runs.
#
#   hack/clone-demo.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GATEFED_CACHE=${GATEFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatefed}
export GOTOOLCHAIN=local
# Nothing may point back into this checkout or beside it.
unset GATEFED_ROOT GATEFED_KUBE_BIN_DIR GATEFED_ETCD_BIN
# and no CRD family's override directory (GATEFED_<FAMILY>_CRD_DIR).
for v in $(compgen -e | grep -E '^GATEFED_.+_CRD_DIR$' || true); do unset "$v"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gatefed-clone.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
clone=$tmp/gatefed
rev=$(git -C "$root" rev-parse HEAD)
echo "==> git clone $root ($rev) into $clone"
git clone --quiet --no-local --no-checkout "$root" "$clone"
git -C "$clone" checkout --quiet --detach "$rev"
[[ ! -e $tmp/shared ]] || { echo "error: $tmp/shared exists" >&2; exit 1; }

begin=$SECONDS
echo "==> make demo (in the clone)"
make -C "$clone" demo
echo "==> make demo in the clone: done in $((SECONDS - begin))s"

# An installed gatefed, run where no source tree is: the CRDs come from the
# binary, kube-apiserver, kubectl and etcd from the cache.
elsewhere=$tmp/elsewhere
mkdir -p "$elsewhere"
cp "$clone/bin/gatefed" "$elsewhere/gatefed"
rm -rf "$clone"
cd "$elsewhere"
state=$elsewhere/state
echo "==> gatefed demo up --clusters 1 --no-build (from $elsewhere, no source tree)"
if ! ./gatefed demo up --clusters 1 --no-build --state-dir "$state"; then
  ./gatefed demo down --state-dir "$state" || true
  exit 1
fi
./gatefed -f "$state/fleet" --kubeconfig "$state/kubeconfig" validate
./gatefed demo down --state-dir "$state"
echo "==> a fresh clone runs the demo, and an installed gatefed runs it from anywhere: OK ($((SECONDS - begin))s)"
