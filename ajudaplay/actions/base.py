"""The action registry: name -> argument schema + function.

Each action's argument schema is a JSON file in `ajudaplay/schemas/actions/`,
so `ajudaplay schema playbook` publishes them and validation uses them. Action
modules import nothing heavy at module level: `validate` must start fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from ajudaplay.targets.base import Result, StepContext, Target


@dataclass
class ActionContext:
    """What an action gets: the target, the step context, the variables and a renderer."""

    target: Target
    step: StepContext
    vars: Mapping[str, Any]
    render: Callable[[Any], Any]  # renders templates in a value with this target's variables
    # Masks a value in every output from now on (the run's Redactor): an action calls it
    # for each secret it is given or reads (secret values, env files, private keys)
    # before anything can print it. The engine passes the run's; the default masks nothing.
    add_secret: Callable[[Any], None] = field(default=lambda value: None)
    # The journal's runs that touched this target since a time (epoch seconds), newest first: what
    # `changes` reads for "was there a deploy in the last hour, by whom". The CLI passes the open
    # journal's reader (RunOptions.recent_runs); without a journal it answers nothing.
    recent_runs: Callable[[str, float], list[dict[str, Any]]] = field(default=lambda target, since: [])


ActionFn = Callable[[ActionContext, Any], "Result"]


def same_environment(ctx: ActionContext, run: Mapping[str, Any]) -> bool:
    """Whether a journaled run (ActionContext.recent_runs) was of this run's inventory: one team journal
    holds several environments, whose targets may have the same names."""
    environment = ctx.vars.get("inventory_name")
    return not environment or run.get("inventory") in (None, environment)


def from_service(args: Any) -> bool:
    """`from:` names the service (or a template that may): the step runs inside it (http, dns)."""
    return isinstance(args, dict) and args.get("from") not in (None, "", "controller")


@dataclass(frozen=True)
class ActionSpec:
    name: str
    run: ActionFn
    free_form: str | None = None  # `command: ls` means {free_form: "ls"}
    controller: bool = False  # runs on the controller (debug, assert, http): no connection needed
    # A controller action that, with some arguments, works inside the target's service (http and dns
    # `from: service`): given the task's unrendered args, True when it does, so the engine connects
    # and locks the target for it as for any target action.
    on_target: Callable[[Any], bool] | None = None
    description: str = ""

    def needs_target(self, args: Any) -> bool:
        """Whether this task (by its unrendered args) reaches the target: connect and lock it first."""
        return not self.controller or (self.on_target is not None and self.on_target(args))

    @property
    def schema(self) -> dict[str, Any]:
        text = resources.files("ajudaplay.schemas.actions").joinpath(f"{self.name}.json").read_text()
        schema: dict[str, Any] = json.loads(text)
        return schema


@dataclass
class Registry:
    """Actions by name. Tests build their own; `default_registry()` has the shipped set."""

    actions: dict[str, ActionSpec] = field(default_factory=dict)

    def register(self, spec: ActionSpec) -> None:
        if spec.name in self.actions:
            raise ValueError(f"action {spec.name!r} registered twice")
        self.actions[spec.name] = spec

    def get(self, name: str) -> ActionSpec | None:
        return self.actions.get(name)

    def names(self) -> list[str]:
        return sorted(self.actions)


ACTION_MODULES = ("control", "host", "service", "database", "metrics", "network", "messaging", "incident", "approval", "storage")  # ajudaplay.actions.<module>.register(registry)


def default_registry() -> Registry:
    """The shipped actions; each module has `register(registry)`."""
    import importlib

    registry = Registry()
    for module_name in ACTION_MODULES:
        module = importlib.import_module(f"ajudaplay.actions.{module_name}")
        module.register(registry)
    return registry
