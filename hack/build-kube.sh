#!/usr/bin/env bash
# Builds the binaries of the local test fleet (kube-apiserver, kubectl, etcd,
# Envoy Gateway's egctl and envoy-gateway, and Istio's istioctl with istiogen)
# from the pinned wrapper modules hack/kube, hack/etcd, hack/envoygateway and
# hack/istio into a cache outside the repository. Binaries are reused while the pin and build flags are
# unchanged (a stamp file holds their hash) and rebuilt when they change.
#
#   hack/build-kube.sh                 build what is missing or stale, print where it is
#   hack/build-kube.sh --demo          only what the demo runs: kube-apiserver, kubectl, etcd
#   hack/build-kube.sh --check [--demo]  exit 0 when those are up to date, 1 otherwise
#
# Cache: ${GATEFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatefed}
# Needs only Go and the module proxy. Each build prints its progress and time.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${GATEFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatefed}
export GOTOOLCHAIN=local

check_only=false
demo_only=false
for arg in "$@"; do
  case "$arg" in
    --check) check_only=true ;;
    --demo) demo_only=true ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--check] [--demo]" >&2; exit 2 ;;
  esac
done

command -v go >/dev/null || { echo "error: go is not on PATH" >&2; exit 2; }

# pin MODDIR MODULE prints the version MODULE is required at in MODDIR/go.mod.
pin() {
  local v
  v=$(awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2 } ($1 == "require" && $2 == m) { print $3 }' "$1/go.mod" | head -n1)
  [[ -n $v ]] || { echo "error: $1/go.mod does not require $2" >&2; exit 2; }
  echo "$v"
}

kube_version=$(pin "$root/hack/kube" k8s.io/kubernetes)
etcd_version=$(pin "$root/hack/etcd" go.etcd.io/etcd/server/v3)
eg_version=$(pin "$root/hack/envoygateway" github.com/envoyproxy/gateway)
istio_version=$(pin "$root/hack/istio" istio.io/istio)
kube_dir=$cache/kube/$kube_version
etcd_dir=$cache/etcd/$etcd_version
eg_dir=$cache/envoy-gateway/$eg_version
istio_dir=$cache/istio/$istio_version
kube_minor=${kube_version#v1.}
kube_minor=${kube_minor%%.*}
kube_ldflags="-X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kube_minor"
etcd_ldflags=""
eg_ldflags="-X github.com/envoyproxy/gateway/internal/cmd/version.envoyGatewayVersion=$eg_version"
istio_ldflags="-X istio.io/istio/pkg/version.buildVersion=$istio_version"

# stamp MODDIR FLAGS... hashes what a build depends on.
stamp() {
  local mod=$1; shift
  { cat "$mod/go.mod" "$mod/go.sum"; echo "$*"; go version; } | sha256sum | cut -d' ' -f1
}

# fresh DIR STAMP BIN... reports whether every BIN exists in DIR and DIR's stamp is STAMP.
fresh() {
  local dir=$1 want=$2; shift 2
  [[ -f $dir/.stamp && $(cat "$dir/.stamp") == "$want" ]] || return 1
  local b
  for b in "$@"; do [[ -x $dir/$b ]] || return 1; done
}

# build WHAT MODDIR OUTDIR STAMP LDFLAGS OUTPUT PACKAGE... runs go build -v in
# MODDIR with a progress line every 20s, then moves the result into OUTDIR.
build() {
  local what=$1 mod=$2 out=$3 want=$4 ldflags=$5 output=$6; shift 6
  mkdir -p "$(dirname "$out")"
  local tmp
  tmp=$(mktemp -d "$out.tmp.XXXXXX")
  local log=$tmp/build.log
  echo "==> building $what into $out"
  echo "    (go build in ${mod#"$root"/}; a cold build downloads modules and takes several minutes)"
  local start=$SECONDS
  (cd "$mod" && go build -v -ldflags "$ldflags" -o "$tmp/$output" "$@") >"$log" 2>&1 &
  local pid=$! next=20
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( SECONDS - start >= next )); then
      local n
      n=$(grep -vc '^go: ' "$log" || true)
      if (( n > 0 )); then
        echo "    ... $((SECONDS - start))s, $n packages compiled"
      else
        echo "    ... $((SECONDS - start))s (linking from the build cache)"
      fi
      next=$((next + 20))
    fi
  done
  if ! wait "$pid"; then
    echo "error: building $what failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  mkdir -p "$out"
  local f
  for f in "$tmp"/*; do
    [[ $f == "$log" ]] && continue
    mv -f "$f" "$out/"
  done
  echo "$want" >"$out/.stamp"
  rm -rf "$tmp"
  echo "    done in $((SECONDS - start))s"
}

kube_stamp=$(stamp "$root/hack/kube" "$kube_ldflags" kube-apiserver kubectl)
etcd_stamp=$(stamp "$root/hack/etcd" "$etcd_ldflags" etcd)
eg_stamp=$(stamp "$root/hack/envoygateway" "$eg_ldflags" egctl envoy-gateway xdsdump "$(cat "$root"/hack/envoygateway/xdsdump/*.go | sha256sum)")
istio_stamp=$(stamp "$root/hack/istio" "$istio_ldflags" istioctl istiogen "$(cat "$root"/hack/istio/istiogen/*.go | sha256sum)")

demo_fresh() { fresh "$kube_dir" "$kube_stamp" kube-apiserver kubectl && fresh "$etcd_dir" "$etcd_stamp" etcd; }
test_fresh() {
  fresh "$eg_dir" "$eg_stamp" egctl envoy-gateway xdsdump && fresh "$istio_dir" "$istio_stamp" istioctl istiogen
}
if $check_only; then
  demo_fresh && { $demo_only || test_fresh; } && exit 0
  exit 1
fi

mkdir -p "$cache"
# One build at a time per cache, so parallel runs wait instead of racing.
# Nothing to build: no need to wait for another run building something else.
if ! { demo_fresh && { $demo_only || test_fresh; }; } && command -v flock >/dev/null; then
  exec 9>"$cache/.build.lock"
  if ! flock -n 9; then
    echo "==> another build is running in $cache; waiting for it"
    flock 9
  fi
fi

begin=$SECONDS
if fresh "$kube_dir" "$kube_stamp" kube-apiserver kubectl; then
  echo "==> kube-apiserver, kubectl $kube_version: up to date"
else
  build "kube-apiserver, kubectl $kube_version" "$root/hack/kube" "$kube_dir" "$kube_stamp" "$kube_ldflags" "" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
fi

if fresh "$etcd_dir" "$etcd_stamp" etcd; then
  echo "==> etcd $etcd_version: up to date"
else
  build "etcd $etcd_version" "$root/hack/etcd" "$etcd_dir" "$etcd_stamp" "$etcd_ldflags" etcd \
    go.etcd.io/etcd/server/v3
fi

if $demo_only; then
  echo
  echo "kube-apiserver: $kube_dir/kube-apiserver"
  echo "kubectl:        $kube_dir/kubectl"
  echo "etcd:           $etcd_dir/etcd"
  echo "ready in $((SECONDS - begin))s. 'gatefed demo' finds them there. To use binaries elsewhere, set:"
  echo "  export GATEFED_KUBE_BIN_DIR=$kube_dir GATEFED_ETCD_BIN=$etcd_dir/etcd"
  exit 0
fi

if fresh "$eg_dir" "$eg_stamp" egctl envoy-gateway xdsdump; then
  echo "==> egctl, envoy-gateway $eg_version, xdsdump: up to date"
else
  build "egctl, envoy-gateway $eg_version, xdsdump" "$root/hack/envoygateway" "$eg_dir" "$eg_stamp" "$eg_ldflags" "" \
    github.com/envoyproxy/gateway/cmd/egctl github.com/envoyproxy/gateway/cmd/envoy-gateway \
    github.com/gatefed/gatefed/hack/envoygateway/xdsdump
fi

if fresh "$istio_dir" "$istio_stamp" istioctl istiogen; then
  echo "==> istioctl $istio_version, istiogen: up to date"
else
  build "istioctl $istio_version, istiogen" "$root/hack/istio" "$istio_dir" "$istio_stamp" "$istio_ldflags" "" \
    istio.io/istio/istioctl/cmd/istioctl github.com/gatefed/gatefed/hack/istio/istiogen
fi

echo
echo "kube-apiserver: $kube_dir/kube-apiserver"
echo "kubectl:        $kube_dir/kubectl"
echo "etcd:           $etcd_dir/etcd"
echo "egctl:          $eg_dir/egctl"
echo "envoy-gateway:  $eg_dir/envoy-gateway"
echo "xdsdump:        $eg_dir/xdsdump"
echo "istioctl:       $istio_dir/istioctl"
echo "istiogen:       $istio_dir/istiogen"
echo "ready in $((SECONDS - begin))s. Tests and 'gatefed demo' find them there. To use binaries elsewhere, set:"
echo "  export GATEFED_KUBE_BIN_DIR=$kube_dir GATEFED_ETCD_BIN=$etcd_dir/etcd GATEFED_EG_BIN_DIR=$eg_dir GATEFED_ISTIO_BIN_DIR=$istio_dir"
