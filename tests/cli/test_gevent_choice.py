"""`run` patches gevent only when a target is reached over the network; local runs use plain threads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ajudaplay.cli import needs_gevent
from ajudaplay.inventory.loader import load_inventory

ROOT = Path(__file__).resolve().parents[2]

CASES = [
    ("host: '@local'", False),
    ("compose: {host: '@local', project_dir: /srv/app}", False),
    ("host: 'ssh://deploy@10.0.0.5'", True),
    ("compose: {host: 'ssh://deploy@10.0.0.5', project_dir: /srv/app}", True),
    ("kubernetes: {context: prod, namespace: app}", True),
]


@pytest.mark.parametrize(("target", "expected"), CASES)
def test_needs_gevent_only_for_network_targets(tmp_path: Path, target: str, expected: bool) -> None:
    path = tmp_path / "inv.yml"
    path.write_text(f"targets:\n  me:\n    {target}\n  other:\n    host: '@local'\n")
    assert needs_gevent(load_inventory(path)) is expected


def _run_and_report_gevent(tmp_path: Path, host: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "inv.yml").write_text(f"targets:\n  me:\n    host: '{host}'\n")
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n  tasks:\n"
        "    - {name: hello, command: 'echo hello', register: out}\n"
        "    - {name: show, debug: {msg: '{{ out.stdout }} from a thread'}}\n"
    )
    code = (
        "import sys; from ajudaplay.cli import main\n"
        "rc = main(['run', 'p.yml', '-i', 'inv.yml', '--no-journal'])\n"
        "print('GEVENT', 'gevent' in sys.modules, 'RC', rc)\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


def test_a_local_run_works_without_gevent(tmp_path: Path) -> None:
    done = _run_and_report_gevent(tmp_path, "@local")
    assert "GEVENT False RC 0" in done.stdout, done.stdout + done.stderr
    assert "hello from a thread" in done.stdout
    assert done.stderr == ""


def test_an_ssh_run_patches_gevent_first(tmp_path: Path) -> None:
    done = _run_and_report_gevent(tmp_path, "ssh://nobody@127.0.0.1:1")  # refused: unreachable, exit 2
    assert "GEVENT True RC 2" in done.stdout, done.stdout + done.stderr
    assert "MonkeyPatchWarning" not in done.stderr
