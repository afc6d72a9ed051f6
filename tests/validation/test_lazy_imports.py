"""`validate` must start fast: importing the parsing modules pulls in no heavy library."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("jsonschema", "jinja2", "yaml", "kubernetes", "pyinfra", "rich", "gevent")


def test_parsing_modules_import_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import ajudaplay.playbook.loader, ajudaplay.inventory.loader, ajudaplay.inventory.patterns\n"
        "import ajudaplay.inventory.vars, ajudaplay.validation, ajudaplay.playbook.schema\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
