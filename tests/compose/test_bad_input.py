"""Bad input fails clearly (what, where, a hint) and changes nothing: cases/bad_input.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.compose.conftest import Project, make_cert, write_inventory

pytestmark = pytest.mark.docker

CASES = yaml.safe_load((Path(__file__).parent / "cases/bad_input.yml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(case: dict[str, Any], shared_project: Project, tmp_path: Path) -> None:
    project = shared_project
    args = list(case.get("args", []))
    playbook = case.get("playbook", "")
    if "playbook_text" in case:
        path = tmp_path / "case.yml"
        path.write_text(case["playbook_text"])
        playbook = str(path)
    if "cert" in case:
        make_cert(tmp_path, "other", days=90)
        cert, key = make_cert(tmp_path, "case", case["cert"]["days"], case["cert"].get("key_for"))
        args += ["-e", f"cert_file={cert}", "-e", f"key_file={key}"]
    if "compose_files" in case:
        inventory = tmp_path / "inventory.yml"
        write_inventory(inventory, project.name, project.dir, {"host": "@local"}, compose_files=case["compose_files"])
        project = Project(project.mode, project.name, project.dir, inventory, project.env)
    before = shared_project.snapshot()
    done = project.run(playbook, *args)
    assert done.rc == case["rc"], done.text
    for fragment in case["expect"]:
        assert fragment in done.text, f"{fragment!r} not in:\n{done.text}"
    assert "Traceback" not in done.text
    assert shared_project.snapshot() == before
