"""Env files: one parser, a writer per Compose CLI, and values that arrive unchanged in the container.

The container's view is read with `compose exec -T api env -0` (NUL-separated,
so newlines in values are unambiguous) on the real engine, for Compose v2
(`docker compose`, compose-go's dotenv) and v1 (`docker-compose` 1.29,
python-dotenv), whose env-file rules differ.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ajudaplay.envfile import EnvValueError, format_env, parse_env
from tests.compose.conftest import Project, make_project

# What both CLIs can carry: spaces, #, both quotes, $, backslashes, newlines, CR, unicode, empty.
COMMON = {
    "SPACES": "two  words\tand a tab",
    "HASH": "value # not a comment",
    "LEADING_HASH": "#starts-with-hash",
    "DOUBLE": 'say "hi"',
    "SINGLE": "it's",
    "BOTH_QUOTES": "\"'\"'",
    "DOLLAR": "$HOME $$ $1 cost$ a$b",
    "BACKSLASH": "C:\\dir\\n not a newline \\\" \\$",
    "MULTILINE": "line one\nline two\n\nline four",
    "CRLF": "a\r\nb",
    "EDGES": "  padded  ",
    "EQUALS": "=a=b=",
    "UNICODE": "ação ☃",
    "EMPTY": "",
}
# Only v2 reads these back: v1 expands ${...} with no escape and misreads a quoted trailing backslash.
V2_ONLY = {"BRACES": "${HOME} and ${NOPE:-default}", "TRAILING": "ends with \\"}


def container_env(project: Project, cli: str) -> dict[str, str]:
    base = ["docker", "compose"] if cli == "v2" else ["docker-compose"]
    cmd = [*base, "-p", project.name, "-f", "docker-compose.yml", "-f", ".ajudaplay/override.yml",
           "exec", "-T", "api", "env", "-0"]
    done = subprocess.run(cmd, cwd=project.dir, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    pairs = [item.split("=", 1) for item in done.stdout.decode("utf-8").split("\0") if item]
    return {k: v for k, v in pairs}


def secret_playbook(tmp_path: Path, values: dict[str, str]) -> str:
    path = tmp_path / "secret.yml"
    play = [{"name": "Secret", "hosts": "all", "tasks": [{"name": "Secret", "secret": {"service": "api", "values": values}}]}]
    path.write_text(json.dumps(play))  # JSON is YAML: every character stays as written
    return str(path)


@pytest.mark.parametrize("cli", ["v2", "v1"])
def test_values_arrive_unchanged_in_the_container(request: pytest.FixtureRequest, tmp_path: Path,
                                                  docker_engine: None, cli: str) -> None:
    extra = {} if cli == "v2" else {"compose_command": "docker-compose"}
    project = make_project(request, tmp_path, "local", **extra)
    values = dict(COMMON, **(V2_ONLY if cli == "v2" else {}))
    playbook = secret_playbook(tmp_path, values)
    done = project.run(playbook)
    assert done.rc == 0, done.text
    env = container_env(project, cli)
    assert {k: env.get(k) for k in values} == values
    written = (Path(project.dir) / ".ajudaplay/env/api.env").read_text()
    assert parse_env(written) == (values, [])
    again = project.run(playbook)  # our parser reads the host's file back: nothing to change
    assert again.rc == 0 and again.results("Secret")[0]["changed"] is False, again.text
    for value in values.values():
        if len(value) > 3:
            assert value not in done.text and value not in again.text


def test_v1_refuses_what_it_cannot_read_back(request: pytest.FixtureRequest, tmp_path: Path,
                                            docker_engine: None) -> None:
    project = make_project(request, tmp_path, "local", compose_command="docker-compose")
    env_file = Path(project.dir) / ".ajudaplay/env/api.env"
    done = project.run(secret_playbook(tmp_path, {"OK": "fine", "BRACES": "p4ss${word}"}))
    assert done.rc == 2, done.text
    [res] = done.results("Secret")
    assert res["status"] == "failed" and "BRACES" in res["msg"] and "Compose v1" in res["msg"], res
    assert "p4ss" not in done.text
    assert not env_file.exists()


# our parser and writer ------------------------------------------------------------
def test_parser_reads_compose_syntax() -> None:
    text = (
        "\ufeff# comment\n"
        "export A=1\n"
        "B = spaced # trailing comment\n"
        "C=a#b\n"
        "D='single $HOME \\n \\' kept'\n"
        'E="dq \\n \\t \\\\ \\" \\$ \\q"  # comment after\n'
        'F="multi\nline"\n'
        "G=\n"
        "  H=indented\n"
    )
    values, bad = parse_env(text)
    assert bad == []
    assert values == {"A": "1", "B": "spaced", "C": "a#b", "D": "single $HOME \\n ' kept",
                      "E": 'dq \n \t \\ " $ \\q', "F": "multi\nline", "G": "", "H": "indented"}


def test_bad_lines_are_named_by_number_and_parsing_goes_on() -> None:
    values, bad = parse_env('A=1\nnot a pair s3cr3t\nB="unterminated\nC=3\n1X=bad key\nD="x" junk\n')
    assert bad == [2, 3, 5, 6] and values == {"A": "1", "C": "3"}


def test_v1_refusals_name_the_key_never_the_value() -> None:
    for value in ("a${B}c", "trailing\\"):
        with pytest.raises(EnvValueError, match="KEY") as info:
            format_env({"KEY": value}, "v1")
        assert value not in str(info.value)
    with pytest.raises(EnvValueError, match="NUL"):
        format_env({"KEY": "a\0b"}, "v2")
    with pytest.raises(EnvValueError, match="not a valid"):
        format_env({"BAD KEY": "x"}, "v2")


KEYS = st.from_regex(re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,8}"), fullmatch=True)
VALUES = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=6))
def test_round_trip_v2(values: dict[str, str]) -> None:
    assert parse_env(format_env(values, "v2")) == (values, [])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, VALUES.filter(lambda v: "${" not in v and not v.endswith("\\")), max_size=6))
def test_round_trip_v1(values: dict[str, str]) -> None:
    assert parse_env(format_env(values, "v1")) == (values, [])
