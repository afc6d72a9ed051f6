"""ajudaplay: operational procedures as YAML playbooks, for Kubernetes and Docker Compose.

The tree reads as the pipeline: playbook/ and inventory/ parse and validate,
engine/ plans and executes, actions/ are written once against targets/, and
report/ plus journal/ listen to the engine's events (.importlinter enforces
the layers).

The names in `__all__` are the API an embedding program may use; everything
else is internal and may change. They are imported on first use (module
`__getattr__`), so `import ajudaplay` stays as cheap as the CLI's `--help`:

    from ajudaplay import Runner, RunOptions, default_registry, load_inventory, load_playbook

    registry = default_registry()
    runner = Runner(load_playbook(path, registry), load_inventory(inv), registry, RunOptions(check=True))
    summary = runner.run()          # RunSummary: run_id, exit_code, outcome, message

Listeners passed to Runner receive the events (RunStarted ... RunFinished);
a service step's Result carries its typed outcome (DeployOutcome, ServiceStatus, ...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it (tests/test_public_api.py locks this list)
_EXPORTS: dict[str, str] = {
    # loading and checking input
    "load_playbook": "ajudaplay.playbook.loader",
    "load_inventory": "ajudaplay.inventory.loader",
    "resolve_inventory_arg": "ajudaplay.inventory.loader",
    "default_registry": "ajudaplay.actions.base",
    "Registry": "ajudaplay.actions.base",
    "Playbook": "ajudaplay.playbook.model",
    "Inventory": "ajudaplay.inventory.model",
    "validate": "ajudaplay.engine.preflight",
    "Validation": "ajudaplay.engine.preflight",
    # running
    "Runner": "ajudaplay.engine.run",
    "RunSummary": "ajudaplay.engine.run",
    "RunOptions": "ajudaplay.engine.options",
    "ExitCode": "ajudaplay.exitcodes",
    "main": "ajudaplay.cli",
    # what a step answers: the Result, and the typed outcome of each service verb
    "Result": "ajudaplay.outcomes",
    "Change": "ajudaplay.outcomes",
    "RevisionChange": "ajudaplay.outcomes",
    "Outcome": "ajudaplay.outcomes",
    "Replicas": "ajudaplay.outcomes",
    "Revision": "ajudaplay.outcomes",
    "DeployOutcome": "ajudaplay.outcomes",
    "RollbackOutcome": "ajudaplay.outcomes",
    "RevisionList": "ajudaplay.outcomes",
    "ScaleOutcome": "ajudaplay.outcomes",
    "RestartOutcome": "ajudaplay.outcomes",
    "ServiceStatus": "ajudaplay.outcomes",
    "ConfigOutcome": "ajudaplay.outcomes",
    "SecretOutcome": "ajudaplay.outcomes",
    "CertificateOutcome": "ajudaplay.outcomes",
    "LogLines": "ajudaplay.outcomes",
    "ExecOutcome": "ajudaplay.outcomes",
    # listening to a run
    "Listener": "ajudaplay.engine.events",
    "RunStarted": "ajudaplay.engine.events",
    "PlayStarted": "ajudaplay.engine.events",
    "TaskStarted": "ajudaplay.engine.events",
    "TaskResult": "ajudaplay.engine.events",
    "Message": "ajudaplay.engine.events",
    "TargetStats": "ajudaplay.engine.events",
    "RunFinished": "ajudaplay.engine.events",
    "InputProblem": "ajudaplay.engine.events",
    # errors
    "Mark": "ajudaplay.errors",
    "Diagnostic": "ajudaplay.errors",
    "LockInfo": "ajudaplay.errors",
    "AjudaplayError": "ajudaplay.errors",
    "InvalidInput": "ajudaplay.errors",
    "TemplateError": "ajudaplay.errors",
    "TargetError": "ajudaplay.errors",
    "TargetUnreachable": "ajudaplay.errors",
    "NotApplicable": "ajudaplay.errors",
    "UnknownService": "ajudaplay.errors",
    "LockHeld": "ajudaplay.errors",
    "LockLost": "ajudaplay.errors",
    "JournalError": "ajudaplay.errors",
    "Interrupted": "ajudaplay.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ imports on first use
    from ajudaplay.actions.base import Registry, default_registry
    from ajudaplay.cli import main
    from ajudaplay.engine.events import (
        InputProblem,
        Listener,
        Message,
        PlayStarted,
        RunFinished,
        RunStarted,
        TargetStats,
        TaskResult,
        TaskStarted,
    )
    from ajudaplay.engine.options import RunOptions
    from ajudaplay.engine.preflight import Validation, validate
    from ajudaplay.engine.run import Runner, RunSummary
    from ajudaplay.errors import (
        AjudaplayError,
        Diagnostic,
        Interrupted,
        InvalidInput,
        JournalError,
        LockHeld,
        LockInfo,
        LockLost,
        Mark,
        NotApplicable,
        TargetError,
        TargetUnreachable,
        TemplateError,
        UnknownService,
    )
    from ajudaplay.exitcodes import ExitCode
    from ajudaplay.inventory.loader import load_inventory, resolve_inventory_arg
    from ajudaplay.inventory.model import Inventory
    from ajudaplay.outcomes import (
        CertificateOutcome,
        Change,
        ConfigOutcome,
        DeployOutcome,
        ExecOutcome,
        LogLines,
        Outcome,
        Replicas,
        RestartOutcome,
        Result,
        Revision,
        RevisionChange,
        RevisionList,
        RollbackOutcome,
        ScaleOutcome,
        SecretOutcome,
        ServiceStatus,
    )
    from ajudaplay.playbook.loader import load_playbook
    from ajudaplay.playbook.model import Playbook


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use, and keep the name for next time."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ajudaplay' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
