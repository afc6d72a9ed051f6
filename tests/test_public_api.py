"""The public API is a decision, not an accident: `ajudaplay.__all__` is locked here.

Adding a name is a change to this list; removing or renaming one breaks
embedding programs and needs a note in the changelog.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import ajudaplay

ROOT = Path(__file__).resolve().parent.parent

PUBLIC = [
    "AjudaplayError", "CertificateOutcome", "Change", "ConfigOutcome", "DeployOutcome", "Diagnostic", "ExecOutcome",
    "ExitCode", "InputProblem", "Interrupted", "InvalidInput", "Inventory", "JournalError", "Listener", "LockHeld",
    "LockInfo", "LockLost", "LogLines", "Mark", "Message", "NotApplicable", "Outcome", "PlayStarted", "Playbook",
    "Registry", "Replicas", "RestartOutcome", "Result", "Revision", "RevisionChange", "RevisionList",
    "RollbackOutcome", "RunFinished", "RunOptions", "RunStarted", "RunSummary", "Runner", "ScaleOutcome",
    "SecretOutcome", "ServiceStatus", "TargetError", "TargetStats", "TargetUnreachable", "TaskResult",
    "TaskStarted", "TemplateError", "UnknownService", "Validation", "__version__", "default_registry",
    "load_inventory", "load_playbook", "main", "resolve_inventory_arg", "validate",
]


def test_all_is_the_curated_list() -> None:
    assert sorted(ajudaplay.__all__) == sorted(PUBLIC)


def test_every_public_name_resolves_to_its_defining_object() -> None:
    for name in ajudaplay.__all__:
        value = getattr(ajudaplay, name)
        assert value is not None, name
        if name != "__version__":
            module = sys.modules[ajudaplay._EXPORTS[name]]
            assert getattr(module, name) is value, name
    assert set(dir(ajudaplay)) >= set(PUBLIC)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        ajudaplay.nope  # noqa: B018


def test_import_ajudaplay_loads_no_submodule_and_nothing_heavy() -> None:
    code = (
        "import sys, ajudaplay\n"
        "print(sorted(m for m in sys.modules if m.startswith('ajudaplay.')"
        " or m.split('.')[0] in ('yaml', 'jsonschema', 'jinja2', 'rich', 'kubernetes', 'pyinfra', 'gevent')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_package_is_typed() -> None:
    assert (ROOT / "ajudaplay" / "py.typed").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in data["tool"]["setuptools"]["package-data"]["ajudaplay"]


def test_type_checkers_see_the_same_names_from_the_same_modules() -> None:
    """The `if TYPE_CHECKING:` imports (what mypy and editors read) match the lazy table."""
    import ast

    tree = ast.parse((ROOT / "ajudaplay" / "__init__.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    seen = {alias.name: node.module for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert seen == ajudaplay._EXPORTS
