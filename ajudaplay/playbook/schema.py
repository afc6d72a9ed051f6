"""The published JSON Schemas: the playbook base file composed with every action's argument schema.

`ajudaplay schema playbook` prints `playbook_schema(registry)`; YAML language
servers use it as is. Validation uses the same dict, compiled once per process
(jsonschema is imported only when something is validated, never at import).
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from ajudaplay.actions.base import Registry

ACTION_DEF_PREFIX = "action_"


def _base(name: str) -> dict[str, Any]:
    text = resources.files("ajudaplay.schemas").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def action_def_name(action: str) -> str:
    """The `$defs` key holding an action's argument schema."""
    return f"{ACTION_DEF_PREFIX}{action}"


def playbook_schema(registry: Registry) -> dict[str, Any]:
    """The playbook schema with one `$defs` entry and one task property per registered action."""
    schema = _base("playbook.schema.json")
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


def inventory_schema() -> dict[str, Any]:
    """The inventory schema (a file in the package, published as is)."""
    return _base("inventory.schema.json")


def _embeddable(args: dict[str, Any], name: str, base_id: str) -> dict[str, Any]:
    """Make an action schema safe to nest: drop `$schema`; keep internal `$ref`s local via `$id`."""
    args.pop("$schema", None)
    if "$defs" in args or "definitions" in args:
        root = base_id.rsplit("/", 1)[0] if "/" in base_id else ""
        args["$id"] = f"{root}/actions/{name}.json" if root else f"actions/{name}.json"
    else:
        args.pop("$id", None)
    return args


def compiled_validator(schema: dict[str, Any]) -> Validator:
    """A Draft 2020-12 validator for `schema`, compiled once per process per distinct schema."""
    return _compile(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=8)
def _compile(schema_text: str) -> Validator:
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend

    schema = json.loads(schema_text)  # no check_schema here: ~0.3 s; tests check every shipped schema
    cls = extend(Draft202012Validator, {"oneOf": _one_of_keyword(Draft202012Validator.VALIDATORS["oneOf"])})
    validator: Validator = cls(schema)
    return validator


def _one_of_keyword(one_of: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """jsonschema's `oneOf`, answering the task's "exactly one action" shape by counting keys.

    Every task carries `oneOf: [{required: [block]}, {required: [ACTION]}, ...]`,
    one branch per action. jsonschema evaluates all of them and builds an error
    object for each miss (most of the validation time of a playbook). For that
    shape, exactly one branch holds iff exactly one of the keys is present: then
    there is nothing to report; otherwise the real keyword runs and reports as
    it always did.
    """

    def keyword(validator: Any, branches: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, dict) and isinstance(branches, list):
            keys = [b["required"][0] for b in branches
                    if isinstance(b, dict) and b.keys() == {"required"} and len(b["required"]) == 1]
            if len(keys) == len(branches) and sum(key in instance for key in keys) == 1:
                return
        yield from one_of(validator, branches, instance, schema)

    return keyword
