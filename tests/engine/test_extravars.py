"""`-e` parsing: key=value, JSON, @file; bad values are InvalidInput naming the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from ajudaplay.engine.extravars import parse_extra_vars
from ajudaplay.errors import InvalidInput


def test_forms_and_precedence(tmp_path: Path) -> None:
    (tmp_path / "vars.yml").write_text("replicas: 3\nimage: from-file\n")
    got = parse_extra_vars(["image=app:2 tag='a b'", '{"n": 1, "l": [1]}', "@vars.yml", "image=last"], tmp_path)
    assert got == {"image": "last", "tag": "a b", "n": 1, "l": [1], "replicas": 3}


@pytest.mark.parametrize(
    ("raw", "message"),
    [("novalue", "expected key=value"), ("{bad json", "invalid JSON"), ("[1]", "expected key=value"),
     ("@missing.yml", "cannot read"), ("'unbalanced", "cannot split"), ("1x=2", "invalid variable name '1x'"),
     ("foo-bar=1", "invalid variable name 'foo-bar': a name is letters, digits and _ and does not start with a digit")],
)
def test_bad_values(tmp_path: Path, raw: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_extra_vars([raw], tmp_path)
    assert message in str(caught.value) and repr(raw) in str(caught.value)


def test_a_value_whose_quotes_the_shell_took_gets_the_quoted_form(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:  # the shell's result of: -e before="2024-01-01 10:00:00"
        parse_extra_vars(["before=2024-01-01 10:00:00"], tmp_path)
    [problem] = caught.value.diagnostics
    assert "expected key=value, got '10:00:00'" in problem.message
    assert problem.hint is not None and "-e 'before=\"2024-01-01 10:00:00\"'" in problem.hint
    assert parse_extra_vars(['before="2024-01-01 10:00:00"'], tmp_path) == {"before": "2024-01-01 10:00:00"}
