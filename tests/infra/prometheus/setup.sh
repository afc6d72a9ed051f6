#!/usr/bin/env bash
# Idempotent: install Debian's Prometheus (prometheus + promtool) for the metrics tests without
# leaving the package's own service running: the tests start their own server on loopback with a
# scrape config they write (tests/infra/prometheus/server.py). ~15 s the first time, <1 s after.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  # policy-rc.d 101 = don't start services from maintainer scripts.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  # --no-install-recommends: no node exporter, no web console packages
  apt-get install -y -q --no-install-recommends prometheus
fi

# The package's service: stopped and disabled (systemd or sysvinit; systemctl disables offline too).
service prometheus stop >/dev/null 2>&1 || true
if command -v systemctl >/dev/null; then
  systemctl disable --now prometheus >/dev/null 2>&1 || systemctl disable prometheus >/dev/null 2>&1 || true
fi
update-rc.d prometheus disable >/dev/null 2>&1 || true
prometheus --version 2>&1 | head -1
