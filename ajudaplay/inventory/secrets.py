"""Secret values of an inventory: KEY=VALUE env files and the values of variables named secret.

Everything collected here goes to `Inventory.secret_values`, which the Redactor
masks in every output. Values are never put into messages.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ajudaplay.envfile import parse_env
from ajudaplay.errors import Diagnostic, Mark

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_env_file(path: Path, shown: str, mark: Mark | None) -> tuple[dict[str, str], list[Diagnostic]]:
    """Parse `KEY=VALUE` lines (blank lines, `# comments` and `export ` allowed; quotes stripped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, [Diagnostic(mark, f"secrets.env_file: no such file {str(path)!r}", f"the path is relative to the inventory file (written {shown!r})")]
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [Diagnostic(mark, f"secrets.env_file: cannot read {str(path)!r}: {exc.__class__.__name__}")]
    values, bad = parse_env(text, _NAME)
    problems = [
        Diagnostic(Mark(str(path), number, 1), "expected KEY=VALUE (KEY: letters, digits, _)",
                   "the line is not shown because it may hold a secret")
        for number in bad
    ]
    return values, problems


def secret_leaves(value: Any) -> list[str]:
    """Every scalar inside a (possibly nested) secret value, as strings for the Redactor."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in secret_leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in secret_leaves(item)]
    if value is None or isinstance(value, bool):
        return []
    return [str(value)]
