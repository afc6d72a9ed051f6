"""Control actions that run on the controller: debug, assert, set_vars, fail.

They never touch a target (`controller=True`), so a play made only of them
neither connects nor locks. Arguments arrive already rendered by the engine;
`assert` evaluates its bare expressions through `ctx.render`, and refuses one
that a template produced (it is data: see templating.Data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ajudaplay.actions.base import ActionSpec, Registry
from ajudaplay.results import Result
from ajudaplay.templating import refuse_data

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext

SET_VARS_KEY = "ajudaplay_set_vars"  # same key the engine reads (engine/step.py)


def register(registry: Registry) -> None:
    """Add the control actions to `registry`."""
    registry.register(ActionSpec("debug", run_debug, free_form="msg", controller=True,
                                 description="Print a message or a variable's value."))
    registry.register(ActionSpec("assert", run_assert, controller=True,
                                 description="Fail the target unless every expression is true."))
    registry.register(ActionSpec("set_vars", run_set_vars, controller=True,
                                 description="Define variables for this target for the rest of the run."))
    registry.register(ActionSpec("fail", run_fail, free_form="msg", controller=True,
                                 description="Fail the target with a message."))


def _mapping(args: Any, free_form: str) -> dict[str, Any]:
    if isinstance(args, dict):
        return dict(args)
    if args is None:
        return {}
    return {free_form: args}


def run_debug(ctx: ActionContext, args: Any) -> Result:
    """`debug: {msg: ...}` prints the message; `debug: {var: name}` prints a variable."""
    a = _mapping(args, "msg")
    if "var" in a:
        refuse_data(a["var"], "debug.var")  # `var: "{{ x }}"` would evaluate x's value as code
        name = str(a["var"])
        value = ctx.render("{{ " + name + " }}")
        return Result(show=True, msg=f"{name}: {value!r}" if not isinstance(value, str) else f"{name}: {value}",
                      data={name: value})
    msg = a.get("msg", "Hello world!")
    return Result(show=True, msg=msg if isinstance(msg, str) else repr(msg), data={"msg": msg})


def run_assert(ctx: ActionContext, args: Any) -> Result:
    """`assert: {that: [expr, ...]}`: every expression must be true, else the step fails."""
    a = _mapping(args, "that")
    that = a.get("that", [])
    conditions = that if isinstance(that, list) else [that]
    for index, expr in enumerate(conditions):
        refuse_data(expr, f"assert.that[{index}]")  # already rendered: evaluating it would run data
        ok = expr if isinstance(expr, bool) else _truthy(ctx.render("{{ (" + str(expr) + ") }}"))
        if not ok:
            message = a.get("fail_msg") or a.get("msg") or f"assertion failed: {expr}"
            return Result(failed=True, msg=str(message), data={"assertion": str(expr), "evaluated_to": False})
    return Result(msg=str(a.get("success_msg") or "all assertions passed"))


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "y", "true", "t", "on", "1")
    return bool(value)


def run_set_vars(ctx: ActionContext, args: Any) -> Result:
    """`set_vars: {name: value}` defines per-target variables (like Ansible's set_fact)."""
    values = dict(args or {})
    return Result(msg=", ".join(sorted(values)), data={SET_VARS_KEY: values})


def run_fail(ctx: ActionContext, args: Any) -> Result:
    """`fail: {msg: ...}` fails the target on purpose (e.g. after a check)."""
    a = _mapping(args, "msg")
    return Result(failed=True, msg=str(a.get("msg", "failed as requested")))
