"""ansible-playbook's flags and habits on `ajudaplay run`: aliases, --syntax-check, errors with run's
usage and did-you-mean, -e name errors, parse-time refusals, --color, history --json (issue 15)."""

from __future__ import annotations

import json
import subprocess

import pytest

from ajudaplay.cli import _options, build_parser
from ajudaplay.exitcodes import ExitCode
from tests.cli.conftest import Project, events

PLAYBOOK = """
- name: first
  hosts: all
  tasks:
    - {name: a, debug: {msg: hello}, tags: [one]}
    - {name: b, status: {service: api}, tags: [two]}
"""


def test_short_aliases_parse_as_the_long_flags() -> None:
    parser = build_parser()
    short = parser.parse(["run", "p.yml", "-i", "e", "-C", "-D", "-l", "t1", "-t", "x", "-f", "3",
                          "--start-at-task", "b", "--step"])
    long = parser.parse(["run", "p.yml", "-i", "e", "--check", "--diff", "--limit", "t1", "--tags", "x", "--forks", "3",
                         "--start-at-step", "b", "--step"])
    assert vars(short) == vars(long)
    assert (short.check, short.diff, short.limit, short.tags, short.forks, short.start_at_step) == (True, True, "t1", ["x"], 3, "b")
    validate = parser.parse(["validate", "p.yml", "-l", "t1", "-t", "x"])
    assert (validate.limit, validate.tags) == ("t1", ["x"])


def test_step_reaches_the_run_options() -> None:
    """C2's engine asks before each task when RunOptions.step is set; the flag is what sets it."""
    parser = build_parser()
    assert _options(parser.parse(["run", "p.yml", "-i", "e", "--step"]), {}, None).step is True
    assert _options(parser.parse(["run", "p.yml", "-i", "e"]), {}, None).step is False


def test_aliases_select_what_the_long_flags_select(project: Project) -> None:
    project.inventory({"t1": {}, "t2": {}})
    project.write("p.yml", PLAYBOOK)
    short = project.run("run", "p.yml", "-i", "test", "--list-tasks", "--list-targets", "-l", "t2", "-t", "two")
    long = project.run("run", "p.yml", "-i", "test", "--list-tasks", "--list-targets", "--limit", "t2", "--tags", "two")
    assert short.returncode == ExitCode.OK, short.stderr
    assert short.stdout == long.stdout and "    t2\n" in short.stdout and "    b    TAGS: [two]" in short.stdout
    started = project.run("run", "p.yml", "-i", "test", "--list-tasks", "--start-at-task", "b")
    assert started.returncode == ExitCode.OK, started.stderr
    assert "    b    TAGS" in started.stdout and "    a    TAGS" not in started.stdout


def test_check_alias_runs_in_check_mode(project: Project) -> None:
    project.inventory({"t1": {}, "t2": {}})
    project.write("p.yml", PLAYBOOK)
    done = project.run("run", "p.yml", "-i", "test", "-C", "-l", "t1", "-f", "1", "--output", "json", "--no-journal")
    assert done.returncode == ExitCode.OK, done.stderr
    start = events(done.stdout)[0]
    assert start["event"] == "run_start" and start["check"] is True
    assert {e["target"] for e in events(done.stdout) if e["event"] == "task_result"} == {"t1"}


def test_syntax_check_is_validate_and_runs_nothing(project: Project) -> None:
    project.inventory({"t1": {}})
    project.write("p.yml", PLAYBOOK)
    project.write("bad.yml", "- hosts: all\n  tasks:\n    - debug: {msg: '{{ nope }}'}\n")
    ok = project.run("run", "p.yml", "-i", "test", "--syntax-check")
    assert ok.returncode == ExitCode.OK, ok.stderr
    assert ok.stdout.startswith("ok: p.yml")
    bad = project.run("run", "bad.yml", "-i", "test", "--syntax-check")
    assert bad.returncode == ExitCode.INVALID_INPUT
    assert "bad.yml:3:" in bad.stderr and "'nope'" in bad.stderr
    as_json = project.run("run", "bad.yml", "-i", "test", "--syntax-check", "--output", "json")
    assert [e["event"] for e in events(as_json.stdout)][-1] == "validate_end"
    assert project.calls() == [] and not (project.root / "journal.sqlite").exists()


def test_run_errors_show_runs_usage_and_suggest_the_flag(project: Project) -> None:
    project.inventory({"t1": {}})
    project.write("p.yml", PLAYBOOK)
    done = project.run("run", "p.yml", "-i", "test", "--chekc")
    assert done.returncode == ExitCode.INVALID_INPUT
    assert done.stderr.startswith("usage: ajudaplay run ")
    assert "unrecognized arguments: --chekc (did you mean '--check'?)" in done.stderr
    missing = project.run("run", "p.yml")
    assert missing.stderr.startswith("usage: ajudaplay run ") and "-i/--inventory" in missing.stderr
    assert project.calls() == []


@pytest.mark.parametrize(("argv", "hint"), [
    (["rnu", "p.yml"], "did you mean 'run'?"),
    (["run", "p.yml", "-i", "test", "--output", "jsno"], "did you mean 'json'?"),
    (["history", "--jurnal", "x"], "did you mean '--journal'?"),
])
def test_mistyped_commands_and_choices_suggest(project: Project, argv: list[str], hint: str) -> None:
    done = project.run(*argv)
    assert done.returncode == ExitCode.INVALID_INPUT
    assert hint in done.stderr


def test_invalid_extra_var_name_says_why(project: Project) -> None:
    project.inventory({"t1": {}})
    project.write("p.yml", PLAYBOOK)
    done = project.run("run", "p.yml", "-i", "test", "-e", "foo-bar=1")
    assert done.returncode == ExitCode.INVALID_INPUT
    assert ("invalid variable name 'foo-bar': a name is letters, digits and _ and does not start with a digit"
            in done.stderr)
    assert "hint: e.g. -e foo_bar=1" in done.stderr and "expected key=value" not in done.stderr


@pytest.mark.parametrize(("argv", "usage", "message"), [
    (["run", "p.yml", "-i", "test", "--lock-wait", "-1"], "ajudaplay run", "argument --lock-wait: must be 0 or more, got -1"),
    (["run", "p.yml", "-i", "test", "--lock-wait=nan"], "ajudaplay run", "argument --lock-wait: must be 0 or more, got nan"),
    (["history", "--limit", "-5"], "ajudaplay history", "argument --limit: must be 0 or more, got -5"),
    (["history", "--limit", "many"], "ajudaplay history", "argument --limit: expected a number, got 'many'"),
])
def test_negative_values_are_refused_when_parsed(project: Project, argv: list[str], usage: str, message: str) -> None:
    project.inventory({"t1": {}})
    project.write("p.yml", PLAYBOOK)
    done = project.run(*argv)
    assert done.returncode == ExitCode.INVALID_INPUT
    assert done.stderr.startswith(f"usage: {usage} ") and message in done.stderr
    assert project.calls() == [] and not (project.root / "journal.sqlite").exists()  # refused before anything opened


def _colored(project: Project, *flags: str, no_color: bool = True, force_color: bool = False) -> bool:
    env = {k: v for k, v in project.env().items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update({"NO_COLOR": "1"} if no_color else {}, **({"FORCE_COLOR": "1"} if force_color else {}))
    done = subprocess.run(project.cmd("run", "p.yml", "-i", "test", "--no-journal", *flags), cwd=project.root, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == ExitCode.OK, done.stderr
    assert "PLAY RECAP" in done.stdout
    return "\x1b[" in done.stdout


def test_color_flag_wins_over_no_color_and_force_color(project: Project) -> None:
    project.inventory({"t1": {}})
    project.write("p.yml", PLAYBOOK)
    # stdout is a pipe here
    assert not _colored(project)  # NO_COLOR
    assert _colored(project, "--color", "always")  # wins over NO_COLOR
    assert not _colored(project, "--color", "never", no_color=False, force_color=True)  # wins over FORCE_COLOR
    assert _colored(project, "--color", "auto", no_color=False, force_color=True)
    assert not _colored(project, "--color", "auto", no_color=False)  # a pipe: no colour


def test_history_and_show_json_shorthand(project: Project) -> None:
    project.inventory({"t1": {}})
    project.write("p.yml", PLAYBOOK)
    run_id = events(project.run("run", "p.yml", "-i", "test", "--output", "json").stdout)[0]["run_id"]
    shorthand = project.run("history", "--json")
    assert shorthand.returncode == ExitCode.OK, shorthand.stderr
    assert json.loads(shorthand.stdout) == json.loads(project.run("history", "--output", "json").stdout)
    assert run_id in shorthand.stdout
    shown = project.run("show", run_id[:8], "--json")
    assert json.loads(shown.stdout)["run_id"] == run_id
