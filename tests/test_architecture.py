"""The architecture is enforced, not just described: import contracts and module sizes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    """`.importlinter`: layers, and third-party clients only in the module that owns them."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a test dependency: pip install -e '.[test]'"
    proc = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_modules_stay_readable_in_one_sitting() -> None:
    """STYLE.md: modules of a few hundred lines; a module past 500 lines should be split."""
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "ajudaplay").rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 500
    }
    assert not too_long, too_long
