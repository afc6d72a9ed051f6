#!/usr/bin/env bash
# Idempotent: install OpenSSH (server + client) without starting the system
# sshd (tests run their own on loopback, see sshd.py), and create the test users
# ajtest, ajtest01..ajtest30 (shell /bin/sh, group docker).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive

if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null; then
  # policy-rc.d 101 = don't start services from maintainer scripts.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends openssh-server openssh-client
fi
python3 "$HERE/sshd.py" ensure-users
