"""The validator's `oneOf` shortcut (one action per task) reports exactly what jsonschema's own keyword does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ajudaplay.schemas import compiled_validator

ONE_KEY = {"oneOf": [{"required": ["block"]}, {"required": ["command"]}, {"required": ["shell"]}]}
MIXED = {"oneOf": [{"required": ["a"]}, {"required": ["b", "c"]}, {"type": "object", "required": ["d"]}]}
TYPED = {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "number"}]}

CASES: list[tuple[dict[str, Any], Any]] = [
    (ONE_KEY, {"command": "ls"}),  # the shortcut: valid
    (ONE_KEY, {"name": "x", "block": []}),
    (ONE_KEY, {"name": "no action"}),  # none: the real keyword reports
    (ONE_KEY, {"command": "ls", "shell": "ls"}),  # two
    (ONE_KEY, "a string task"),  # not a mapping: every branch holds
    (ONE_KEY, []),
    (MIXED, {"a": 1}),  # other shapes never take the shortcut
    (MIXED, {"b": 1, "c": 2}),
    (MIXED, {"a": 1, "d": 2}),
    (MIXED, {}),
    (TYPED, 3),
    (TYPED, "x"),
    (TYPED, None),
]


def errors(validator: Any, instance: Any) -> list[tuple[str, str, list[str]]]:
    return [
        (e.validator, e.message, sorted(sub.message for sub in e.context or []))
        for e in validator.iter_errors(instance)
    ]


@pytest.mark.parametrize(("schema", "instance"), CASES)
def test_same_errors_as_jsonschema(schema: dict[str, Any], instance: Any) -> None:
    plain = Draft202012Validator(json.loads(json.dumps(schema, sort_keys=True)))  # compiled_validator sorts keys
    assert errors(compiled_validator(schema), instance) == errors(plain, instance)


def test_the_shortcut_is_taken_for_one_action() -> None:
    validator = compiled_validator(ONE_KEY)
    branches_seen: list[Any] = []

    class Spy(dict):  # type: ignore[type-arg]
        def __contains__(self, key: object) -> bool:
            branches_seen.append(key)
            return super().__contains__(key)

    assert validator.is_valid(Spy(command="ls"))
    assert sorted(branches_seen) == ["block", "command", "shell"]  # counted once, no branch evaluated
