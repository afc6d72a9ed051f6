"""End to end on the real Docker engine: a Compose `secret`, then `exec` and `logs` that print
the values from inside the container, then `debug` of the registered output.

The values really are in the container (checked with `docker exec`, the independent client)
and really are printed (the outputs hold `********` where they were), yet none of the raw
console output, JSON Lines, JUnit XML or SQLite journal bytes contains one of them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.compose.conftest import AJUDAPLAY, Project, docker, docker_engine, make_project  # noqa: F401 (fixture)

pytestmark = pytest.mark.docker

ENV_VALUE = "c0mpose-env-file-Secret-4471"
GIVEN_VALUE = "c0mpose-given-Value-3390"  # an ordinary -e value handed to `secret: values:`

PLAYBOOK = """\
- hosts: all
  tasks:
    - name: Secret
      secret: {service: api, env_file: api.env, values: {GIVEN: "{{ token }}"}}
    - name: Print inside
      exec: {service: api, command: "echo db=$DB_PASSWORD given=$GIVEN; echo logged=$DB_PASSWORD > /proc/1/fd/1"}
      register: inside
    - name: Logs
      logs: {service: api, tail: 50, grep: logged}
      register: logged
    - name: Show
      debug: {msg: "{{ inside.stdout }} {{ logged.lines | join(',') }}"}
"""


@pytest.fixture
def local_project(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> Project:  # noqa: F811
    return make_project(request, tmp_path, "local")


def _journal_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def test_compose_secret_printed_by_exec_and_logs_is_masked_everywhere(local_project: Project, tmp_path: Path) -> None:
    project = local_project
    (tmp_path / "api.env").write_text(f"DB_PASSWORD={ENV_VALUE}\n")
    playbook = tmp_path / "secret.yml"
    playbook.write_text(PLAYBOOK)
    journal = tmp_path / "journal-redaction.sqlite"
    raw: dict[str, bytes] = {}
    for output in ("json", "console"):
        junit = tmp_path / f"junit-{output}.xml"
        done = subprocess.run(
            [AJUDAPLAY, "run", str(playbook), "-i", str(project.inventory), "-e", f"token={GIVEN_VALUE}",
             "--output", output, "--junit", str(junit), "--journal", str(journal)],
            capture_output=True, timeout=300, env=project.env,
        )
        text = done.stdout + done.stderr
        assert done.returncode == 0, text.decode(errors="replace")[-3000:]
        raw[output] = text
        raw[f"junit ({output})"] = junit.read_bytes()
        run_id = re.search(rb'run[_id": ]+([0-9a-f]{16})', text)
        assert run_id is not None
        shown = project.cli("show", "--journal", str(journal), run_id.group(1).decode())
        raw[f"show ({output})"] = (shown.stdout + shown.stderr).encode()
    raw["journal"] = _journal_bytes(journal)
    inside = docker("exec", project.containers("api")[0]["Id"], "sh", "-c", "echo $DB_PASSWORD $GIVEN").split()
    assert inside == [ENV_VALUE, GIVEN_VALUE]  # the values are really there, and were printed below
    for name, data in raw.items():
        for secret in (ENV_VALUE, GIVEN_VALUE):
            assert secret.encode() not in data, f"{secret!r} leaked into the {name}"
    assert b"db=******** given=********" in raw["json"]
    assert b"logged=********" in raw["json"] and b"logged=********" in raw["console"]
    assert b"********" in raw["journal"] and b"********" in raw["junit (json)"]
