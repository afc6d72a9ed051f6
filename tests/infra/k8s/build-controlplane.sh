#!/usr/bin/env bash
# Build a real Kubernetes control plane (kube-apiserver + kube-controller-manager v1.20.2)
# and a real node (kubelet with dockershim + kube-scheduler) offline from Debian's source
# package, for ajudaplay's Kubernetes tests.
# Idempotent: each binary is checked on its own; only the missing ones are built, so a
# machine that cached the control plane before the node existed gets kubelet/scheduler on
# its next run, and a fully cached machine exits 0 at once.
#
# Layout under $CACHE (default /var/cache/ajudaplay/k8s/v1.20.2):
#   bin/         kube-apiserver, kube-controller-manager, kubelet, kube-scheduler (the product)
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

BINARIES=(kube-apiserver kube-controller-manager kubelet kube-scheduler)
build=()
for b in "${BINARIES[@]}"; do
    if [[ -x "$BIN/$b" && "${AJUDAPLAY_K8S_REBUILD:-0}" != 1 ]]; then log "cached: $BIN/$b"; else build+=("$b"); fi
done
((${#build[@]})) || exit 0
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

# --- 6. test-only kubelet patch: no negative oom_score_adj --------------------------------
# In this sandbox runc may not LOWER a process's oom_score_adj (no CAP_SYS_RESOURCE over the
# sandbox's own value), and dockershim gives every pod sandbox -998 (defaultSandboxOOMAdj)
# and Guaranteed containers -997 (guaranteedOOMScoreAdj), so every pod would fail with
# "can't get final child's PID from pipe". This kubelet only ever runs test pods: both
# constants become 0 (BestEffort/Burstable keep their positive values). Never ship it.
if [[ ! -e .ajudaplay-oom-patch ]]; then
    log "patching test kubelet: sandbox and Guaranteed oom_score_adj -> 0"
    sed -i 's/^\(\s*defaultSandboxOOMAdj int = \)-998$/\10/' pkg/kubelet/dockershim/docker_sandbox.go
    sed -i 's/^\(\s*guaranteedOOMScoreAdj int = \)-997$/\10/' pkg/kubelet/qos/policy.go
    grep -q 'defaultSandboxOOMAdj int = 0$' pkg/kubelet/dockershim/docker_sandbox.go &&
        grep -q 'guaranteedOOMScoreAdj int = 0$' pkg/kubelet/qos/policy.go ||
        { echo "FATAL: oom_score_adj patch did not apply (source changed?)" >&2; exit 1; }
    touch .ajudaplay-oom-patch
fi

# --- 7. build -----------------------------------------------------------------------------
LDPKGS=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
LDFLAGS="-s -w"
for p in "${LDPKGS[@]}"; do
    LDFLAGS+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=20"
    LDFLAGS+=" -X $p.gitTreeState=clean -X $p.gitCommit=debian-bookworm"
    LDFLAGS+=" -X $p.buildDate=1970-01-01T00:00:00Z"
done
log "go build ${build[*]} (cold control plane: ~10 min on 2 cores; kubelet + scheduler: see README)"
rm -rf "$CACHE/out"
mkdir -p "$CACHE/out" "$BIN"
go build -tags providerless -ldflags "$LDFLAGS" -o "$CACHE/out/" "${build[@]/#/./cmd/}"
for b in "${build[@]}"; do install -m 0755 "$CACHE/out/$b" "$BIN/"; "$BIN/$b" --version; done
rm -rf "$CACHE/out"
log "installed ${build[*]} into $BIN"

if [[ "${AJUDAPLAY_K8S_CLEAN:-0}" == 1 ]]; then
    log "AJUDAPLAY_K8S_CLEAN=1: removing build tree and go cache"
    rm -rf "$SRC_ROOT" "$GOCACHE"
fi
log "done in $(( $(date +%s) - START ))s"
