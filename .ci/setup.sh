#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for ajudaplay: the Python venv with the
# package, a Docker engine with the locally built test images, an sshd for SSH
# tests, Debian's Prometheus (metrics tests), and the Kubernetes control plane binaries (built once, then cached).
# Idempotent: a second run only checks. Usage: bash .ci/setup.sh [--no-kubernetes]
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

with_kubernetes=1
[ "${1:-}" = "--no-kubernetes" ] && with_kubernetes=0

step() { printf '\n==> %s\n' "$*"; }

step "Debian packages"
apt-get update -qq
apt-get install -y -qq python3-venv zsh >/dev/null  # zsh: the completion tests drive it

step "Python environment (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
# An editable install leaves no bytecode, and PYTHONDONTWRITEBYTECODE (set on
# some machines) would make every start compile the package again.
.venv/bin/python -m compileall -q ajudaplay

step "sshd for SSH tests"
bash tests/infra/sshd/setup.sh

step "Docker engine and test images"
bash tests/infra/docker/setup.sh
bash tests/infra/docker/build-images.sh

step "Prometheus for the metrics tests (the package's service stays off)"
bash tests/infra/prometheus/setup.sh

if [ "$with_kubernetes" = 1 ]; then
  step "Kubernetes control plane (kube-apiserver, kube-controller-manager, etcd)"
  bash tests/infra/k8s/build-controlplane.sh
fi
