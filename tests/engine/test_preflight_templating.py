"""Table-driven: templating semantics and preflight refusals (data files in data/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ajudaplay.errors import InvalidInput, TemplateError
from ajudaplay.templating import Data, Templar
from tests.engine.conftest import Harness, fakes

DATA = Path(__file__).parent / "data"
TEMPLATES = yaml.safe_load((DATA / "templates.yaml").read_text())
PREFLIGHT = yaml.safe_load((DATA / "preflight.yaml").read_text())


@pytest.mark.parametrize("case", TEMPLATES, ids=[c["name"] for c in TEMPLATES])
def test_templating(case: dict[str, Any]) -> None:
    templar = Templar()

    def go() -> Any:
        if "expr" in case:
            return templar.evaluate(case["expr"], case["vars"])
        return templar.render(case["template"], case["vars"])

    if "error" in case:
        with pytest.raises(TemplateError) as caught:
            go()
        assert case["error"] in str(caught.value)
    else:
        value = go()
        shown = str if isinstance(value, Data) else type(value)  # rendered text is Data, a str
        assert value == case["expected"] and shown is type(case["expected"])


def test_template_error_names_the_position() -> None:
    from ajudaplay.errors import Mark

    with pytest.raises(TemplateError) as caught:
        Templar().render("{{ nope }}", {}, Mark("play.yml", 7, 9))
    assert str(caught.value).startswith("play.yml:7:9: undefined variable 'nope'")


@pytest.mark.parametrize("case", PREFLIGHT, ids=[c["name"] for c in PREFLIGHT])
def test_preflight_refuses_before_running(h: Harness, case: dict[str, Any]) -> None:
    runner = h.runner(case["playbook"], fakes(2), **case.get("options", {}))
    with pytest.raises(InvalidInput) as caught:
        runner.run()
    text = str(caught.value)
    assert case["message"] in text
    if "where" in case:
        assert f"play.yml:{case['where']}:" in text
    if "hint" in case:
        assert case["hint"] in text
    assert h.collector.events == []  # nothing ran, not even RunStarted
    assert h.targets == {}


def test_preflight_accepts_names_defined_anywhere(h: Harness) -> None:
    summary = h.run(
        """
        - hosts: all
          tasks:
            - {name: a, set_vars: {later: 1}}
            - {name: b, debug: {msg: "{{ later }} {{ target_name }} {{ ext }}"}, register: reg}
            - {name: c, debug: {msg: "{{ x }}"}, loop: [1], loop_control: {loop_var: x}}
            - {name: d, debug: {msg: "{{ maybe }} {{ reg.msg }}"}, when: maybe is defined}
        """,
        fakes(1),
        extra_vars={"ext": "e"},
    )
    assert summary.exit_code == 0
