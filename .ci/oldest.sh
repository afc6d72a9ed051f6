#!/usr/bin/env bash
# The oldest allowed versions stay true: a second venv with the floors of
# pyproject.toml pinned (`kubernetes`, `pyinfra` at their `>=` floor), running
# the tests that exercise those two libraries: the Kubernetes target tests
# (the client against the real control plane) and the SSH host tests
# (pyinfra and paramiko against the real sshd).
#
# Usage: bash .ci/oldest.sh   (after .ci/setup.sh; the venv is reused when its
# pins already match, so a second run costs only the tests)
# Environment: OLDEST_VENV (default .venv-oldest), OLDEST_TESTS (override the subset).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${OLDEST_VENV:-.venv-oldest}"
constraints="$venv/constraints.txt"

# The floors, read from pyproject.toml: one source of truth for the versions.
floors=$(python3 - <<'PY'
import re, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
for dep in deps:
    name = re.match(r"[A-Za-z0-9_.-]+", dep).group(0)
    if name.lower() in ("kubernetes", "pyinfra"):
        floor = re.search(r">=\s*([0-9][^,;\s]*)", dep)
        if floor is None:
            raise SystemExit(f"pyproject.toml: {dep!r} has no >= floor")
        print(f"{name}=={floor.group(1)}")
PY
)

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$constraints" 2>/dev/null)" != "$floors" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  printf '%s\n' "$floors" > "$constraints"
  # The package's own requirements and test tools, with the floors pinned; then
  # the package itself, editable (the tests call the venv's `ajudaplay` script).
  requirements=$(python3 - <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["test"]))
PY
)
  printf '%s\n' "$requirements" | "$venv/bin/pip" install -q --constraint "$constraints" -r /dev/stdin
  "$venv/bin/pip" install -q --no-deps -e .
fi

echo "oldest allowed versions:"
"$venv/bin/python" -m pip list 2>/dev/null | grep -iE '^(kubernetes|pyinfra|paramiko) '
"$venv/bin/python" - "$constraints" <<'PY'
import importlib.metadata, sys
from packaging.version import Version
for line in open(sys.argv[1]).read().split():
    name, version = line.split("==")
    got = importlib.metadata.version(name)
    if Version(got) != Version(version):
        raise SystemExit(f"oldest.sh: {name} is {got}, expected {version}")
PY

# The subset that exercises the two libraries: the tests against the real
# control plane (marker `kubernetes`) and against the real sshd (marker `ssh`).
# Left out, to keep CI's time: the end-to-end, both-modes, real-node and
# kubectl-agreement files, which drive the same client calls as the
# operations, lock, exec and certificate tests kept here, through the CLI;
# and the outcomes, diagnosis, usage, database end-to-end, workspace and files (fetch/upload) files,
# whose plain GETs (events, node proxy, ReplicaSets) and streamed execs (websocket frames read
# directly, tar over the same channel) are the client calls the operations and exec tests already make.
if [ -n "${OLDEST_TESTS:-}" ]; then
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pytest -q -x -p no:cacheprovider $OLDEST_TESTS
else
  "$venv/bin/python" -m pytest -q -x -p no:cacheprovider -m "kubernetes or ssh" tests/kubernetes tests/hosts \
    --ignore=tests/kubernetes/test_playbooks_e2e.py --ignore=tests/kubernetes/test_both_modes.py \
    --ignore=tests/kubernetes/test_real_node.py --ignore=tests/kubernetes/test_rollouts.py \
    --ignore=tests/kubernetes/test_outcomes.py --ignore=tests/kubernetes/test_diagnosis.py \
    --ignore=tests/kubernetes/test_usage.py --ignore=tests/kubernetes/test_database_e2e.py \
    --ignore=tests/kubernetes/test_workspace.py --ignore=tests/kubernetes/test_files.py
fi
