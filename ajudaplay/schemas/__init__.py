"""The shipped JSON Schema files, and the one place that loads and compiles them.

Core layer, used by playbook/ (which composes the action schemas in) and by
inventory/ (whose kinds come from ajudaplay/kinds.py). jsonschema is imported
only to explain an invalid document (schemas/quick.py answers valid ones).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ajudaplay.kinds import KIND_NAMES, KINDS, USER_KINDS
from ajudaplay.schemas.quick import Check, compile_quick

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator


def load_base(name: str) -> dict[str, Any]:
    """A fresh copy of one schema file shipped in this package (callers may change it)."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def inventory_schema() -> dict[str, Any]:
    """The inventory schema: the shipped file, with its target kinds taken from the kinds table."""
    schema = load_base("inventory.schema.json")
    target = schema["$defs"]["target"]
    tests_only = [k for k in KIND_NAMES if k not in USER_KINDS]
    listed = ", ".join(USER_KINDS) + (f" (or {', '.join(tests_only)}, for tests)" if tests_only else "")
    target["description"] = f"Exactly one kind key: {listed}."
    target["oneOf"] = [{"required": [kind]} for kind in KINDS]
    return schema


def compiled_validator(schema: dict[str, Any]) -> SchemaValidator:
    """The validator for `schema` (Draft 2020-12), made once per process per distinct schema."""
    return _compile(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=8)
def _compile(schema_text: str) -> SchemaValidator:
    return SchemaValidator(schema_text)


class SchemaValidator:
    """One schema's validator: a quick pure-Python pass answers valid documents, jsonschema explains the rest.

    A valid document never imports jsonschema (the largest part of `validate`'s
    start-up); an invalid one gets jsonschema's own errors, as before.
    """

    def __init__(self, schema_text: str) -> None:
        self.schema: dict[str, Any] = json.loads(schema_text)
        self._text = schema_text
        self._quick: Check | None = None
        self._quick_made = False
        self._full: Validator | None = None

    def _valid_quickly(self, instance: Any) -> bool:
        if not self._quick_made:
            self._quick, self._quick_made = compile_quick(self.schema), True
        return self._quick is not None and self._quick(instance)

    def full(self) -> Validator:
        """jsonschema's Draft 2020-12 validator for this schema (imports jsonschema on first use)."""
        if self._full is None:
            from jsonschema import Draft202012Validator
            from jsonschema.validators import extend

            cls = extend(Draft202012Validator, {"oneOf": _one_of_keyword(Draft202012Validator.VALIDATORS["oneOf"])})
            self._full = cls(json.loads(self._text))  # no check_schema: ~0.3 s; tests check every shipped schema
        return self._full

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        """Every schema error in `instance`, as jsonschema reports them (none without importing it)."""
        if self._valid_quickly(instance):
            return iter(())
        errors: Iterator[ValidationError] = self.full().iter_errors(instance)
        return errors

    def is_valid(self, instance: Any) -> bool:
        return self._valid_quickly(instance) or self.full().is_valid(instance)


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
