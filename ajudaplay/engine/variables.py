"""Variable layering for one target and one step, and the magic variables the engine adds.

Precedence, lowest first (documented in docs/user-guide.md):
inventory < group < target (from `vars_for`) < play vars < block/task vars
< registered and `set_vars` values < extra vars (-e) < the loop variable.
Inventory, play and task vars may themselves be templates; each is rendered
once, in dependency order: inventory values merged by precedence when the
target is set up, play and task vars against the layers below them when a
step needs them.
Secret values, registered results, `set_vars` values and extra vars are never
rendered: they are data (see templating.Data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ajudaplay.errors import TemplateError
from ajudaplay.templating import as_data, is_template

if TYPE_CHECKING:
    from ajudaplay.engine.state import RunContext, TargetState
    from ajudaplay.errors import Mark
    from ajudaplay.inventory.model import Inventory
    from ajudaplay.playbook.model import Play
    from ajudaplay.templating import Templar

# Names the engine defines for every step; preflight treats them as known.
MAGIC_VARS = (
    "inventory_hostname",
    "inventory_name",
    "target_name",
    "target_kind",
    "groups",
    "playbook_dir",
    "play_name",
    "run_id",
    "check_mode",
    "ajudaplay_user",
    "run_started",  # ISO time the run started (a notification's duration)
    "failed_step",  # the last step that failed on this target ('' before any): what a rescue announces
    "failed_msg",  # its message, secrets masked
)
# Jinja2 globals and names always available inside a template.
JINJA_GLOBALS = ("range", "lipsum", "dict", "cycler", "joiner", "namespace", "true", "false", "none", "True", "False", "None")


def render_layer(
    templar: Templar, layer: Mapping[str, Any], context: dict[str, Any], mark: Mark | None,
    above: Mapping[str, Any] | None = None,
) -> None:
    """Render each of `layer`'s values exactly once and add them to `context`.

    An entry may read other entries of the same layer (rendered first, in
    dependency order) and anything already in `context` (the layers below);
    an entry that reads its own name gets the layer below's value. What comes
    out is data (templating.Data): nothing is rendered a second time, so
    registered output holding `{{ ... }}` is never evaluated. Entries that a
    higher layer (`above`: extra vars, registered values) overrides are not
    rendered, and the entries reading them see the higher value, as they will
    in the step.
    """
    above = above or {}
    for key in dependency_order(templar, layer, mark):
        if key in above:
            context[key] = above[key]
        else:
            context[key] = templar.render(layer[key], context, mark)


def dependency_order(templar: Templar, layer: Mapping[str, Any], mark: Mark | None) -> list[str]:
    """`layer`'s keys, each after the entries of the same layer it reads; a cycle is a TemplateError.

    Static (no values needed), so preflight reports a cycle before anything runs.
    """
    order: list[str] = []
    path: list[str] = []

    def visit(key: str) -> None:
        if key in order:
            return
        if key in path:
            cycle = " -> ".join([*path[path.index(key):], key])
            raise TemplateError(
                f"vars reference each other in a cycle: {cycle}",
                mark,
                "one of them must get its value without reading the others",
            )
        path.append(key)
        for name in sorted(templar.references(layer[key]) & set(layer) - {key}):
            visit(name)
        path.pop()
        order.append(key)

    for key in layer:
        visit(key)
    return order


def target_vars(
    templar: Templar, inventory: Inventory, target: str, extra_vars: Mapping[str, Any]
) -> dict[str, Any]:
    """A target's inventory variables: layers merged by precedence, then each value rendered once.

    Merged first, as Ansible resolves inventory variables: an inventory-wide
    `url: "https://{{ domain }}"` sees the target's own `domain`, and an extra
    var (`-e domain=...`) wins in every value derived from it. Secret values
    are data, never rendered. Raises TemplateError at the layer that wrote the value.
    """
    from ajudaplay.inventory.vars import magic_vars, var_layers

    values: dict[str, Any] = {}
    marks: dict[str, Mark | None] = {}
    for layer, mark in var_layers(inventory, target):
        for key, value in layer.items():
            values[key] = as_data(value) if key in inventory.secret_names else value
            marks[key] = mark
    magic = magic_vars(inventory, target)
    context: dict[str, Any] = {**extra_vars, "inventory_hostname": target, **magic}
    for key in dependency_order(templar, values, inventory.vars_mark):
        if key not in extra_vars and key not in magic:
            context[key] = templar.render(values[key], context, marks[key])
    return {**{key: context[key] for key in values}, **magic}


def is_template_value(value: Any) -> bool:
    """True when a value (or anything nested in it) still holds template markup."""
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(is_template_value(v) for v in value.values())
    if isinstance(value, list):
        return any(is_template_value(v) for v in value)
    return False


def step_vars(
    rc: RunContext,
    ts: TargetState,
    play: Play,
    scope_vars: list[tuple[Mapping[str, Any], Mark | None]],
    check: bool,
) -> dict[str, Any]:
    """All variables visible to one step on one target, layered by precedence."""
    context: dict[str, Any] = {"inventory_hostname": ts.name, "target_name": ts.name}
    context.update(ts.base_vars)
    context.update(
        playbook_dir=str(rc.base_dir),
        play_name=play.name,
        run_id=rc.run_id,
        check_mode=check,
        ajudaplay_user=rc.holder.user,
        run_started=rc.started_iso,
        failed_step=as_data(ts.failed_step),
        failed_msg=as_data(ts.failed_msg),
    )
    on_top = {**ts.facts, **rc.options.extra_vars}
    context.update(on_top)  # lower layers may reference registered values while rendering
    if play.vars:
        render_layer(rc.templar, play.vars, context, play.mark, on_top)
    for layer, mark in scope_vars:
        if layer:
            render_layer(rc.templar, layer, context, mark, on_top)
    context.update(on_top)
    return context
