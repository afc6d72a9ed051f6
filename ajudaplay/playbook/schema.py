"""The published JSON Schemas: the playbook base file composed with every action's argument schema.

`ajudaplay schema playbook` prints `playbook_schema(registry)`; YAML language
servers use it as is. Validation uses the same dict, compiled once per process
by ajudaplay.schemas (jsonschema is imported only when something is validated).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ajudaplay.schemas import compiled_validator, inventory_schema, load_base

if TYPE_CHECKING:
    from ajudaplay.actions.base import Registry

ACTION_DEF_PREFIX = "action_"


def action_def_name(action: str) -> str:
    """The `$defs` key holding an action's argument schema."""
    return f"{ACTION_DEF_PREFIX}{action}"


def playbook_schema(registry: Registry) -> dict[str, Any]:
    """The playbook schema with one `$defs` entry and one task property per registered action."""
    schema = load_base("playbook.schema.json")
    defs = schema["$defs"]
    task = defs["task"]
    base_id = str(schema.get("$id", ""))
    for name in registry.names():
        spec = registry.actions[name]
        args = _embeddable(copy.deepcopy(spec.schema), name, base_id)
        defs[action_def_name(name)] = args
        ref = {"$ref": f"#/$defs/{action_def_name(name)}"}
        branches: list[dict[str, Any]] = [ref]
        if spec.free_form:
            branches.insert(0, {"type": "string", "description": f"free form: {spec.free_form}"})
        if not args.get("required"):
            branches.append({"type": "null", "description": "no arguments (`NAME:` alone)"})
        prop: dict[str, Any] = {"anyOf": branches} if len(branches) > 1 else dict(ref)
        description = spec.description or args.get("description", "")
        if description:
            prop["description"] = description
        task["properties"][name] = prop
        task["oneOf"].append({"required": [name]})
    return schema


def _embeddable(args: dict[str, Any], name: str, base_id: str) -> dict[str, Any]:
    """Make an action schema safe to nest: drop `$schema`; keep internal `$ref`s local via `$id`."""
    args.pop("$schema", None)
    if "$defs" in args or "definitions" in args:
        root = base_id.rsplit("/", 1)[0] if "/" in base_id else ""
        args["$id"] = f"{root}/actions/{name}.json" if root else f"actions/{name}.json"
    else:
        args.pop("$id", None)
    return args
