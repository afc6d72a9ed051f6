#!/usr/bin/env bash
# README's quick start, as written, from a fresh clone of this commit: its first command
# (setup + the main job) must exit 0, so the README cannot drift from what works.
# The second command (the test suite) is what .ci/run runs itself.
set -euo pipefail
cd "$(dirname "$0")/.."
first=$(awk '/^## Quick start/{q=1; next} q && /^    /{sub(/^    /, ""); print; exit}' README.md)
[ -n "$first" ] || { echo "quickstart: no command found under '## Quick start' in README.md" >&2; exit 1; }
clone=$(mktemp -d /tmp/ajudaplay-quickstart.XXXXXX)
trap 'rm -rf "$clone"' EXIT
git clone -q . "$clone"
cd "$clone"
echo "quickstart: $first"
bash -c "$first"
