"""A pure-Python yes/no answer to "is this document valid against this schema?".

Why: importing jsonschema (referencing, attrs, rpds, its format checkers) and
building its validator cost more than everything else `ajudaplay validate`
does for valid files. Most files people validate are valid; for them this
answer is enough and jsonschema is never imported. When the answer is no,
ajudaplay.schemas.SchemaValidator asks jsonschema for the errors, so every
message still comes from jsonschema, word for word.

It only ever matters that "valid" here implies "valid" for jsonschema's
Draft 2020-12 validator (a wrong "invalid" merely costs the import). So the
keywords are jsonschema's semantics, copied (types, bool is not a number,
`enum` equality), and a schema using any keyword outside the list below, a
nested `$id`, or a `$ref` other than a local JSON pointer gets no quick check
at all (`compile_quick` returns None). tests/validation/test_quick_schema.py
compares both answers over every shipped schema and test document.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sized
from urllib.parse import unquote

Check = Callable[[Any], bool]

# jsonschema ignores these when validating (annotations, or containers of schemas reached by $ref)
_IGNORED = frozenset({
    "$schema", "$id", "$defs", "definitions", "$comment", "title", "description", "default", "examples",
    "deprecated", "readOnly", "writeOnly", "format", "markdownDescription",
})
_SUPPORTED = frozenset({
    "$ref", "type", "enum", "const", "properties", "additionalProperties", "patternProperties", "required",
    "dependentRequired", "propertyNames", "minProperties", "maxProperties", "items", "minItems", "maxItems",
    "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "anyOf", "oneOf", "allOf", "not",
})
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")  # name -> subschema
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf")
_SCHEMA_ONE = ("additionalProperties", "propertyNames", "items", "not")
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


class _Unsupported(Exception):
    """The schema uses something this checker does not implement: no quick answer for it."""


def compile_quick(schema: Any) -> Check | None:
    """A function answering validity against `schema`, or None when the schema is outside what it knows."""
    if isinstance(schema, dict) and schema.get("$schema", DRAFT_2020_12).rstrip("#") != DRAFT_2020_12:
        return None
    try:
        _scan(schema, root=True)
        return _Compiler(schema).compile(schema)
    except _Unsupported:
        return None


def _scan(schema: Any, root: bool = False) -> None:
    """Refuse any keyword, nested `$id` or non-local `$ref` anywhere in the schema (also under $defs)."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise _Unsupported("a schema is a mapping or a boolean")
    unknown = set(schema) - _SUPPORTED - _IGNORED
    if unknown or (not root and ("$id" in schema or "$schema" in schema)):
        raise _Unsupported(", ".join(sorted(unknown)) or "$id")
    ref = schema.get("$ref")
    if ref is not None and not (isinstance(ref, str) and ref.startswith("#")):
        raise _Unsupported(f"$ref {ref!r}")
    for key in _SCHEMA_MAPS:
        for sub in (schema.get(key) or {}).values():
            _scan(sub)
    for key in _SCHEMA_LISTS:
        for sub in schema.get(key) or []:
            _scan(sub)
    for key in _SCHEMA_ONE:
        if key in schema:
            _scan(schema[key])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and v.is_integer())),
    "null": lambda v: v is None,
    "number": _is_number,
    "object": lambda v: isinstance(v, dict),
    "string": lambda v: isinstance(v, str),
}


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's `equal`: like ==, except that true/false are never equal to 1/0."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) != isinstance(two, bool):
        return False
    return bool(one == two)


class _Compiler:
    """Turns each subschema into one closure, once; `$ref` targets are shared (and may recurse)."""

    def __init__(self, root: dict[str, Any] | bool) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda _v: True
        if schema is False:
            return lambda _v: False
        made = [self._keyword(key, value, schema) for key, value in schema.items() if key not in _IGNORED]
        checks = [c for c in made if c is not None]
        if not checks:
            return lambda _v: True
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(check(v) for check in checks)

    def ref(self, ref: str) -> Check:
        if ref not in self.refs:
            if ref != "#" and not ref.startswith("#/"):
                raise _Unsupported(f"anchor $ref {ref!r}")
            target: Any = self.root
            for part in ref[2:].split("/") if ref != "#" else []:
                part = unquote(part).replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and part in target:
                    target = target[part]
                elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                    target = target[int(part)]
                else:
                    raise _Unsupported(f"unresolvable $ref {ref!r}")
            cell: list[Check] = []
            self.refs[ref] = lambda v: cell[0](v)  # resolved lazily: refs may be recursive
            cell.append(self.compile(target))
        return self.refs[ref]

    def _keyword(self, key: str, value: Any, schema: dict[str, Any]) -> Check | None:  # noqa: C901 - one branch per keyword
        if key == "$ref":
            return self.ref(value)
        if key == "type":
            names = [value] if isinstance(value, str) else list(value)
            if any(name not in _TYPES for name in names):
                raise _Unsupported(f"type {value!r}")
            tests = [_TYPES[name] for name in names]
            return lambda v: any(test(v) for test in tests)
        if key == "enum":
            return lambda v: any(_equal(v, choice) for choice in value)
        if key == "const":
            return lambda v: _equal(v, value)
        if key in ("properties", "additionalProperties", "patternProperties"):
            return self._properties(schema) if key == "properties" or "properties" not in schema else None
        if key == "required":
            return lambda v: not isinstance(v, dict) or all(name in v for name in value)
        if key == "dependentRequired":
            return lambda v: not isinstance(v, dict) or all(
                all(need in v for need in needs) for name, needs in value.items() if name in v
            )
        if key == "propertyNames":
            names_ok = self.compile(value)
            return lambda v: not isinstance(v, dict) or all(names_ok(name) for name in v)
        if key in ("minProperties", "maxProperties", "minItems", "maxItems", "minLength", "maxLength"):
            kind: type[Sized] = dict if "Properties" in key else list if "Items" in key else str
            low = key.startswith("min")

            def sized(v: Any) -> bool:
                return not isinstance(v, kind) or (len(v) >= value if low else len(v) <= value)

            return sized
        if key == "items":
            if not isinstance(value, (dict, bool)):
                raise _Unsupported("items as a list")
            item_ok = self.compile(value)
            return lambda v: not isinstance(v, list) or all(item_ok(item) for item in v)
        if key == "pattern":
            compiled = re.compile(value)
            return lambda v: not isinstance(v, str) or compiled.search(v) is not None
        if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            bound = value
            tests_by_key: dict[str, Check] = {
                "minimum": lambda v: v >= bound, "maximum": lambda v: v <= bound,
                "exclusiveMinimum": lambda v: v > bound, "exclusiveMaximum": lambda v: v < bound,
            }
            test = tests_by_key[key]
            return lambda v: not _is_number(v) or bool(test(v))
        if key in ("anyOf", "oneOf", "allOf"):
            branches = [self.compile(sub) for sub in value]
            if key == "anyOf":
                return lambda v: any(branch(v) for branch in branches)
            if key == "allOf":
                return lambda v: all(branch(v) for branch in branches)
            return lambda v: sum(1 for branch in branches if branch(v)) == 1
        if key == "not":
            inner = self.compile(value)
            return lambda v: not inner(v)
        raise _Unsupported(key)

    def _properties(self, schema: dict[str, Any]) -> Check:
        """properties, patternProperties and additionalProperties together (extras depend on both)."""
        props = {name: self.compile(sub) for name, sub in (schema.get("properties") or {}).items()}
        patterns = [(re.compile(p), self.compile(sub)) for p, sub in (schema.get("patternProperties") or {}).items()]
        extra = self.compile(schema["additionalProperties"]) if "additionalProperties" in schema else None

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for name, value in v.items():
                known = name in props
                if known and not props[name](value):
                    return False
                matched = False
                for pattern, sub in patterns:
                    if isinstance(name, str) and pattern.search(name):
                        matched = True
                        if not sub(value):
                            return False
                if extra is not None and not known and not matched and not extra(value):
                    return False
            return True

        return check
