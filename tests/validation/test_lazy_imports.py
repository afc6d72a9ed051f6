"""`validate` must start fast: importing the parsing modules pulls in no heavy library,
and checking valid files never imports jsonschema (only an invalid one needs its errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("jsonschema", "jinja2", "yaml", "kubernetes", "pyinfra", "rich", "gevent")
ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_parsing_modules_import_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import ajudaplay.playbook.loader, ajudaplay.inventory.loader, ajudaplay.inventory.patterns\n"
        "import ajudaplay.inventory.vars, ajudaplay.validation, ajudaplay.playbook.schema\n"
        "import ajudaplay.schemas, ajudaplay.schemas.quick, ajudaplay.schema_diagnostics, ajudaplay.kinds\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    assert _run(code) == "[]"


CHECK = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from ajudaplay.actions.base import default_registry\n"
    "from ajudaplay.validation import check_files\n"
    "inventory = {inventory!r}\n"
    "found = check_files([Path(p) for p in {paths!r}], default_registry(), Path(inventory) if inventory else None)\n"
    "print(json.dumps([len(found.diagnostics), 'jsonschema' in sys.modules]))\n"
)


def test_checking_valid_files_never_imports_jsonschema() -> None:
    code = CHECK.format(paths=["playbooks"], inventory="inventory/local.yml")
    assert json.loads(_run(code)) == [0, False]


def test_an_invalid_file_is_explained_by_jsonschema(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("- hosts: all\n  tasks:\n    - debug: {msg: hi}\n      retires: 3\n")
    code = CHECK.format(paths=[str(bad)], inventory="")
    assert json.loads(_run(code)) == [1, True]


def test_the_validate_command_loads_no_client_and_no_jsonschema() -> None:
    code = (
        "import io, sys, contextlib\n"
        "from ajudaplay.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = main(['validate', 'playbooks/', '-i', 'inventory/local.yml'])\n"
        f"print(rc, sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    assert _run(code) == "0 ['jinja2', 'yaml']"
