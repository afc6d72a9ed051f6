"""Values the `secret` action is given, the env file it reads and a certificate's private key
are masked in every output from the moment the action has them.

The real CLI runs a playbook whose first play gives secrets to a service (fake target, kind
"fake": the target's own storage is not what is tested here) and installs a certificate from
files; a later play prints them with real commands on a real @local host (`shell`), and
`debug` shows the registered output again. The raw console output, the JSON Lines, the JUnit
XML and the SQLite journal's bytes must not contain any of the values, and must show
`********` where they were printed (so the test cannot pass by printing nothing).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV_SECRET = "Pa55-from-env-file-7731"
QUOTED_SECRET = "quoted value 8812 with spaces"
LITERAL_SECRET = "lit3ral-in-playbook-5520"
EXTRA_SECRET = "Tok3n-given-with-e-9043"  # an ordinary -e value, made secret by the action
DYNAMIC_SECRET = "dyn4mic-env-file-6604"  # in an env file whose name is known only at run time


def _key_pair(folder: Path) -> tuple[Path, Path]:
    key, cert = folder / "tls.key", folder / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "60", "-subj", "/CN=redaction.test"], check=True, capture_output=True, timeout=60)
    return cert, key


PLAYBOOK = """\
- name: give secrets
  hosts: svc
  vars: {env_name: dyn}
  tasks:
    - name: install from a templated env file
      secret: {service: api, env_file: "{{ env_name }}.env"}
    - name: install secrets
      secret:
        service: api
        env_file: app.env
        values: {LITERAL: "%(literal)s", TOKEN: "{{ token }}"}
    - name: install certificate
      certificate: {service: api, cert_file: tls.crt, key_file: tls.key}
- name: print them
  hosts: web
  tasks:
    - name: print env file
      shell: "cat {{ playbook_dir }}/app.env {{ playbook_dir }}/dyn.env; echo literal=%(literal)s; echo token={{ token }}"
      register: printed
    - name: print key
      shell: "head -4 {{ playbook_dir }}/tls.key"
      register: key_lines
    - name: show again
      debug: {msg: "{{ printed.stdout }}"}
    - name: show var
      debug: {var: key_lines.stdout_lines}
""" % {"literal": LITERAL_SECRET}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app.env").write_text(f'DB_PASSWORD={ENV_SECRET}\nQUOTED="{QUOTED_SECRET}"\n')
    (tmp_path / "dyn.env").write_text(f"DYNAMIC={DYNAMIC_SECRET}\n")
    _key_pair(tmp_path)
    (tmp_path / "inv.yml").write_text(
        "targets:\n"
        f"  svc:\n    fake: {{state_dir: {tmp_path}}}\n    services: {{api: {{}}}}\n"
        f"  web:\n    host: \"@local\"\n    lock_path: {tmp_path / 'web.lock'}\n"
    )
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    return tmp_path


def _secrets(project: Path) -> list[str]:
    key_lines = [ln for ln in (project / "tls.key").read_text().splitlines() if not ln.startswith("-----")]
    return [ENV_SECRET, QUOTED_SECRET, LITERAL_SECRET, EXTRA_SECRET, DYNAMIC_SECRET, *key_lines[:3]]


def _journal_bytes(path: Path) -> bytes:
    found = b""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")):
        if candidate.exists():
            found += candidate.read_bytes()
    return found


@pytest.mark.parametrize("output", ["console", "json"])
def test_secret_values_env_file_and_key_are_masked_everywhere(project: Path, output: str) -> None:
    journal, junit = project / "journal.sqlite", project / "junit.xml"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "ajudaplay", "run", "play.yml", "-i", "inv.yml", "-e", f"token={EXTRA_SECRET}",
         "--output", output, "--junit", str(junit), "--journal", str(journal), "-v"],
        cwd=project, env=env, capture_output=True, timeout=120,
    )
    console = done.stdout + done.stderr
    assert done.returncode == 0, console.decode(errors="replace")[-3000:]
    run_id = re.search(rb'run[_id": ]+([0-9a-f]{16})', console)
    assert run_id is not None, console[-2000:]
    shown = subprocess.run([sys.executable, "-m", "ajudaplay", "show", "--journal", str(journal), run_id.group(1).decode()],
                           cwd=project, env=env, capture_output=True, timeout=60)
    outputs = {
        "console" if output == "console" else "json lines": console,
        "junit": junit.read_bytes(),
        "journal": _journal_bytes(journal),
        "show": shown.stdout + shown.stderr,
    }
    for name, raw in outputs.items():
        for secret in _secrets(project):
            assert secret.encode() not in raw, f"{secret!r} leaked into the {name}"
    printed = outputs["console" if output == "console" else "json lines"]
    assert printed.count(b"********") >= 7, printed.decode(errors="replace")[-3000:]  # printed, then masked
    assert b"DYNAMIC=********" in printed  # registered by the action itself, when it read the file
    assert b"DB_PASSWORD=********" in printed and b"literal=********" in printed and b"token=********" in printed
    assert b"********" in outputs["journal"] and b"********" in outputs["junit"]
