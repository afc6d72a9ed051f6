"""The quick validity check (ajudaplay/schemas/quick.py) answers exactly as jsonschema's Draft 2020-12.

What must never happen is "valid" for a document jsonschema rejects: its
errors would be lost. Both answers are compared over every YAML file of the
repository (against both schemas, and each task's arguments against its
action's schema), over generated values against one schema per keyword, and
the shipped schemas must all get a quick check (else validate imports jsonschema).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ajudaplay.actions.base import default_registry
from ajudaplay.playbook.schema import playbook_schema
from ajudaplay.schemas import compiled_validator, inventory_schema
from ajudaplay.schemas.quick import compile_quick
from ajudaplay.yamlmarks import load_yaml_file

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = default_registry()
SHIPPED = {"playbook": playbook_schema(REGISTRY), "inventory": inventory_schema()}
ACTION_SCHEMAS = {name: REGISTRY.actions[name].schema for name in REGISTRY.names()}


def _documents() -> list[tuple[str, Any]]:
    found = []
    for path in sorted(ROOT.glob("**/*.y*ml")):
        if ".venv" in path.parts or path.suffix not in (".yml", ".yaml"):
            continue
        try:
            found.append((str(path.relative_to(ROOT)), load_yaml_file(path, strict=False).data))
        except Exception:  # a file that is not YAML at all is another test's business
            continue
    return found


DOCUMENTS = _documents()


def same_answer(schema: dict[str, Any], instance: Any) -> None:
    quick = compile_quick(schema)
    assert quick is not None
    expected = Draft202012Validator(schema).is_valid(instance)
    assert quick(instance) == expected, (instance, expected)


def test_every_shipped_schema_gets_a_quick_check() -> None:
    for name, schema in {**SHIPPED, **ACTION_SCHEMAS}.items():
        assert compile_quick(schema) is not None, name


def test_there_are_documents_both_valid_and_invalid() -> None:
    playbook = Draft202012Validator(SHIPPED["playbook"])
    answers = {playbook.is_valid(data) for _, data in DOCUMENTS if isinstance(data, list)}
    assert answers == {True, False} and len(DOCUMENTS) > 40


@pytest.mark.parametrize(("name", "data"), DOCUMENTS, ids=[name for name, _ in DOCUMENTS])
def test_every_repository_document_gets_jsonschemas_answer(name: str, data: Any) -> None:
    for schema in SHIPPED.values():
        same_answer(schema, data)
    for task in _tasks(data):
        for action, schema in ACTION_SCHEMAS.items():
            if action in task:
                same_answer(schema, task[action])


def _tasks(data: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


PER_KEYWORD: list[dict[str, Any]] = [
    {"type": "integer"}, {"type": "number"}, {"type": ["string", "null"]}, {"type": "boolean"},
    {"type": "object"}, {"type": "array"},
    {"enum": [1, "a", None, True, [1], {"k": 1}]}, {"const": 0}, {"const": False},
    {"properties": {"a": {"type": "integer"}}, "additionalProperties": False},
    {"additionalProperties": {"type": "string"}}, {"patternProperties": {"^a": {"type": "null"}}},
    {"required": ["a", "b"]}, {"dependentRequired": {"a": ["b"]}}, {"propertyNames": {"pattern": "^[a-c]+$"}},
    {"minProperties": 1}, {"maxProperties": 1}, {"items": {"type": "integer"}}, {"minItems": 2}, {"maxItems": 1},
    {"minLength": 1}, {"maxLength": 2}, {"pattern": "^[0-9]+%$"}, {"minimum": 1}, {"maximum": 1.5},
    {"exclusiveMinimum": 0}, {"exclusiveMaximum": 0},
    {"anyOf": [{"type": "string"}, {"minimum": 3}]}, {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
    {"oneOf": [{"type": "integer"}, {"type": "number"}]}, {"allOf": [{"type": "object"}, {"required": ["a"]}]},
    {"not": {"required": ["a", "b"]}}, True, False,
    {"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"},
]

KEYS = st.sampled_from(["a", "b", "c", "ab", "x"])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-3, 3, allow_nan=False)
    | st.sampled_from(["", "a", "ab", "abc", "12", "30%", "{{ x }}"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(schema=st.sampled_from(PER_KEYWORD), instance=VALUES)
def test_each_keyword_means_what_it_means_to_jsonschema(schema: Any, instance: Any) -> None:
    quick = compile_quick(schema)
    assert quick is not None
    assert quick(instance) == Draft202012Validator(schema).is_valid(instance)


@pytest.mark.parametrize("schema", [
    {"uniqueItems": True}, {"if": {"type": "string"}, "then": {"minLength": 1}},
    {"$ref": "other.json#/x"}, {"$ref": "#anchor"}, {"properties": {"a": {"$id": "nested.json"}}},
    {"$schema": "http://json-schema.org/draft-07/schema#"}, {"prefixItems": [{"type": "string"}]},
])
def test_anything_else_gets_no_quick_answer(schema: dict[str, Any]) -> None:
    assert compile_quick(schema) is None


def test_an_invalid_document_still_gets_jsonschemas_errors() -> None:
    validator = compiled_validator(SHIPPED["inventory"])
    bad = {"targets": {"web": {"host": "ftp://x", "compose": {}}}}
    ours = sorted(e.message for e in validator.iter_errors(bad))
    theirs = sorted(e.message for e in Draft202012Validator(json.loads(json.dumps(SHIPPED["inventory"]))).iter_errors(bad))
    assert ours == theirs and ours
    assert list(validator.iter_errors({"targets": {"web": {"host": "@local"}}})) == []
