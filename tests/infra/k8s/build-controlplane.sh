#!/usr/bin/env bash
# Build a real Kubernetes control plane (kube-apiserver + kube-controller-manager v1.20.2)
# offline from Debian's source package, for ajudaplay's Kubernetes tests.
# Idempotent: exits 0 at once when the binaries are already cached.
#
# Layout under $CACHE (default /var/cache/ajudaplay/k8s/v1.20.2):
#   bin/         kube-apiserver, kube-controller-manager (the product)
#   apt/         private apt configuration + lists (the system's apt sources are untouched)
#   go/          bullseye golang-1.15 toolchain unpacked with dpkg-deb -x
#   src/         the `apt-get source kubernetes` tree (kept so relinks are fast)
#   gocache/     the Go build cache (kept for the same reason)
# Set AJUDAPLAY_K8S_CLEAN=1 to delete src/ and gocache/ after a successful build (~1.1 GB).
set -euo pipefail

K8S_VERSION=v1.20.2
CACHE="${AJUDAPLAY_K8S_CACHE:-/var/cache/ajudaplay/k8s/${K8S_VERSION}}"
BIN="$CACHE/bin"
MIRROR="${AJUDAPLAY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
export DEBIAN_FRONTEND=noninteractive

log() { printf '[build-controlplane %(%H:%M:%S)T] %s\n' -1 "$*"; }

if [[ -x "$BIN/kube-apiserver" && -x "$BIN/kube-controller-manager" && "${AJUDAPLAY_K8S_REBUILD:-0}" != 1 ]]; then
    log "cached: $BIN/kube-apiserver, $BIN/kube-controller-manager"
    exit 0
fi
START=$(date +%s)

# --- 1. system packages (etcd for runtime; rsync/make/dpkg-dev for the build) -------------
need=()
for p in etcd-server rsync make dpkg-dev xz-utils ca-certificates debian-archive-keyring; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
    log "apt-get install ${need[*]}"
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}"
fi

# --- 2. private apt configuration: bookworm deb-src + bullseye deb -----------------------
APT="$CACHE/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs"
cat >"$APT/sources.list" <<SRC
deb-src [signed-by=$KEYRING] $MIRROR bookworm main
deb [signed-by=$KEYRING] $MIRROR bullseye main
deb-src [signed-by=$KEYRING] $MIRROR bullseye main
SRC
APTOPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
         -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
         -o APT::Sandbox::User=root -qq)
log "private apt-get update (bookworm deb-src, bullseye deb)"
apt-get "${APTOPTS[@]}" update

# --- 3. Go 1.15 toolchain (bullseye), unpacked without installing ---------------------------
GOROOT_DIR="$CACHE/go/usr/lib/go-1.15"
if [[ ! -x "$GOROOT_DIR/bin/go" ]]; then
    log "fetching golang-1.15-go + golang-1.15-src (bullseye)"
    (cd "$APT/debs" && apt-get "${APTOPTS[@]}" download golang-1.15-go golang-1.15-src)
    for deb in "$APT"/debs/golang-1.15-*.deb; do dpkg-deb -x "$deb" "$CACHE/go"; done
fi
export GOROOT="$GOROOT_DIR" PATH="$GOROOT_DIR/bin:$PATH"
export GOFLAGS=-mod=vendor GOPROXY=off GO111MODULE=on CGO_ENABLED=0
export GOCACHE="$CACHE/gocache" GOPATH="$CACHE/gopath"
log "$(go version)"

# --- 4. Kubernetes source ----------------------------------------------------------------
SRC_ROOT="$CACHE/src"
mkdir -p "$SRC_ROOT"
TREE=$(find "$SRC_ROOT" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1 || true)
if [[ -z "$TREE" || ! -e "$TREE/.ajudaplay-unpacked" ]]; then
    log "apt-get source kubernetes (bookworm) — large download"
    rm -rf "${SRC_ROOT:?}"/*
    (cd "$SRC_ROOT" && apt-get "${APTOPTS[@]}" source kubernetes/bookworm)
    TREE=$(find "$SRC_ROOT" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1)
    [[ -d "$TREE/vendor" ]] || { echo "FATAL: $TREE has no vendor/ directory" >&2; exit 1; }
    touch "$TREE/.ajudaplay-unpacked"
fi
log "source tree: $TREE"
cd "$TREE"

# --- 5. generated OpenAPI code (missing from the Debian tree) -----------------------------
if [[ ! -e .ajudaplay-openapi ]]; then
    log "make gen_openapi"
    make gen_openapi
    touch .ajudaplay-openapi
fi

# --- 6. build -----------------------------------------------------------------------------
LDPKGS=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
LDFLAGS="-s -w"
for p in "${LDPKGS[@]}"; do
    LDFLAGS+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=20"
    LDFLAGS+=" -X $p.gitTreeState=clean -X $p.gitCommit=debian-bookworm"
    LDFLAGS+=" -X $p.buildDate=1970-01-01T00:00:00Z"
done
log "go build kube-apiserver kube-controller-manager (cold: ~10 min on 2 cores)"
mkdir -p "$CACHE/out"
go build -tags providerless -ldflags "$LDFLAGS" -o "$CACHE/out/" ./cmd/kube-apiserver ./cmd/kube-controller-manager
mkdir -p "$BIN"
install -m 0755 "$CACHE/out/kube-apiserver" "$CACHE/out/kube-controller-manager" "$BIN/"
rm -rf "$CACHE/out"
log "installed into $BIN"
"$BIN/kube-apiserver" --version

if [[ "${AJUDAPLAY_K8S_CLEAN:-0}" == 1 ]]; then
    log "AJUDAPLAY_K8S_CLEAN=1: removing build tree and go cache"
    rm -rf "$SRC_ROOT" "$GOCACHE"
fi
log "done in $(( $(date +%s) - START ))s"
