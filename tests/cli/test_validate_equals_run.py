"""`validate -i ENV` and `run -i ENV` refuse the same inputs with the same words, and the run touches nothing.

Table-driven: tests/validation/preflight_cases/*.yml are bad inputs only a
check with the inventory can catch (the header format of tests/validation/cases,
plus `# extra: k=v` for -e). Each goes through the real CLI twice, as a
subprocess: `validate` and `run` (with --output json, --junit and the journal
on). Both exit 3 with identical stderr; the run emits run_start, one
`diagnostic` event per problem and run_end `invalid`, writes a schema-valid
JUnit report with one error case per problem, and never opens, locks or
calls a target (the fake targets log every call to a file), nor journals a
run. The real-host test shows the same on an `@local` host target, where a
refused run must not have run its first command.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from ajudaplay.exitcodes import ExitCode
from tests.cli.conftest import ROOT, Project, events

CASES = ROOT / "tests" / "validation" / "preflight_cases"
INVENTORY = CASES / "inventory.yml"
JUNIT_XSD = ROOT / "tests" / "report" / "data" / "junit.xsd"
_EXPECT = re.compile(r"^# expect: (\d+):(\d+) (.+)$")


def _header(path: Path) -> tuple[list[tuple[int, int, list[str]]], list[str], list[str]]:
    expects: list[tuple[int, int, list[str]]] = []
    extra: list[str] = []
    never: list[str] = []
    for line in path.read_text().splitlines():
        match = _EXPECT.match(line)
        if match:
            expects.append((int(match.group(1)), int(match.group(2)), [f.strip() for f in match.group(3).split(" | ")]))
        elif line.startswith("# extra: "):
            extra += ["-e", line.split(": ", 1)[1].strip()]
        elif line.startswith("# never: "):
            never.append(line.split(": ", 1)[1].strip())
    return expects, extra, never


def _setup(project: Project, case: Path) -> None:
    project.write("inventory/test.yml", INVENTORY.read_text().replace("STATE_DIR", str(project.state)))
    shutil.copy(case, project.root / case.name)


def _shown(record: dict[str, Any]) -> str:
    """A `diagnostic` event as the console prints it (Diagnostic.__str__)."""
    where = f"{record['location']}: " if record["location"] else ""
    what = f"{record['path']}: {record['message']}" if record["path"] else record["message"]
    return where + what + (f"\n    hint: {record['hint']}" if record["hint"] else "")


def _journaled_runs(project: Project) -> list[Any]:
    history = project.run("history", "--output", "json")
    assert history.returncode == ExitCode.OK, history.stderr
    runs: list[Any] = json.loads(history.stdout)
    return runs


@pytest.mark.parametrize("case", sorted(p for p in CASES.glob("*.yml") if p != INVENTORY), ids=lambda p: p.stem)
def test_validate_and_run_refuse_alike_and_run_touches_nothing(project: Project, case: Path) -> None:
    expects, extra, never = _header(case)
    assert expects, f"{case.name} has no `# expect:` line"
    _setup(project, case)

    validated = project.run("validate", case.name, "-i", "test", *extra)
    ran = project.run("run", case.name, "-i", "test", *extra, "--output", "json", "--junit", "junit.xml")

    assert validated.returncode == ExitCode.INVALID_INPUT, validated.stdout + validated.stderr
    assert ran.returncode == ExitCode.INVALID_INPUT, ran.stdout + ran.stderr
    assert validated.stderr == ran.stderr  # one code path: the same diagnostics, word for word
    assert "Traceback" not in ran.stderr

    evs = events(ran.stdout)
    assert [e["event"] for e in evs] == ["run_start", *["diagnostic"] * len(expects), "run_end"], ran.stdout
    assert evs[-1]["outcome"] == "invalid" and evs[-1]["exit_code"] == 3
    problems = [e for e in evs if e["event"] == "diagnostic"]
    assert all(p["run_id"] == evs[0]["run_id"] for p in problems)
    for line, column, fragments in expects:
        at = [_shown(p) for p in problems if (p["line"], p["column"]) == (line, column)]
        assert any(all(f in shown for f in fragments) for shown in at), f"{line}:{column} {fragments} not in:\n{ran.stderr}"
        assert all(p["file"] == case.name for p in problems if (p["line"], p["column"]) == (line, column))
        assert any(f"{case.name}:{line}:{column}: " in shown for shown in ran.stderr.split("\n"))

    report = ET.parse(project.root / "junit.xml").getroot()
    errors = report.findall("testsuite[@name='validation']/testcase/error")
    assert len(errors) == len(expects) and all(e.get("type") == "invalid" for e in errors)
    assert report.get("errors") == str(len(expects)) and report.get("tests") == str(len(expects))

    for text in never:
        assert text not in ran.stdout + ran.stderr + validated.stdout + validated.stderr
        assert text not in (project.root / "junit.xml").read_text()

    assert project.calls() == []  # not opened, not locked, no step: nothing was touched
    assert project.locks() == []
    assert _journaled_runs(project) == []


def test_junit_report_of_an_invalid_run_is_schema_valid(project: Project) -> None:
    _setup(project, CASES / "service_from_extra_vars.yml")
    ran = project.run("run", "service_from_extra_vars.yml", "-i", "test", "-e", "service=nope", "--junit", "out/j.xml")
    assert ran.returncode == ExitCode.INVALID_INPUT
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(project.root / "out" / "j.xml"))
    root = ET.parse(project.root / "out" / "j.xml").getroot()
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == ["service_from_extra_vars.yml:6:25", "service_from_extra_vars.yml:6:25"]
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["outcome"] == "invalid" and props["exit_code"] == "3"


def test_validate_json_output_matches_the_run_events(project: Project) -> None:
    _setup(project, CASES / "replicas_from_extra_vars.yml")
    args = ("replicas_from_extra_vars.yml", "-i", "test", "-e", "replicas=abc", "--output", "json")
    validated = project.run("validate", *args)
    ran = project.run("run", *args)
    assert validated.returncode == ran.returncode == ExitCode.INVALID_INPUT
    checked = events(validated.stdout)
    assert checked[-1] == {"event": "validate_end", "schema": 1, "paths": ["replicas_from_extra_vars.yml"],
                           "outcome": "invalid", "exit_code": 3, "problems": 1, "skipped": []}
    from_run = [{k: v for k, v in e.items() if k != "run_id"} for e in events(ran.stdout) if e["event"] == "diagnostic"]
    assert checked[:-1] == from_run
    good = project.run("validate", *args[:3], "-e", "replicas=3", "--output", "json")
    assert good.returncode == ExitCode.OK, good.stderr
    assert events(good.stdout) == [{"event": "validate_end", "schema": 1, "paths": ["replicas_from_extra_vars.yml"],
                                    "outcome": "ok", "exit_code": 0, "problems": 0, "skipped": []}]


def test_values_only_known_at_run_time_are_left_to_the_run(project: Project) -> None:
    """A name a set_vars/register may redefine, a task whose `when` is false, skipped tags: not refused."""
    project.write("inventory/test.yml", INVENTORY.read_text().replace("STATE_DIR", str(project.state)))
    project.write("p.yml", """
        - hosts: t1
          tasks:
            - {name: remember, set_vars: {n: 2}}
            - {name: scale by fact, scale: {service: api, replicas: "{{ n }}"}}
            - {name: probe, status: {service: api}, register: st}
            - {name: scale by result, scale: {service: api, replicas: "{{ st.replicas.desired | default(1) }}"}}
            - {name: not on compose, scale: {service: api, replicas: "{{ many }}"}, when: mode == 'kubernetes'}
            - {name: tagged away, scale: {service: nope, replicas: 1}, tags: [never]}
        """)
    validated = project.run("validate", "p.yml", "-i", "test")
    assert validated.returncode == ExitCode.OK, validated.stderr
    ran = project.run("run", "p.yml", "-i", "test", "--no-journal", "--output", "json")
    assert ran.returncode == ExitCode.OK, ran.stdout + ran.stderr
    results = {e["task"]: e for e in events(ran.stdout) if e["event"] == "task_result"}
    assert results["scale by fact"]["data"]["replicas"]["desired"] == 2
    assert results["scale by result"]["status"] in ("ok", "changed")
    assert results["not on compose"]["status"] == "skipped"
    assert "tagged away" not in results


def test_validate_without_inventory_runs_the_rest_and_says_what_it_skipped(project: Project) -> None:
    for name in ("filter_typo.yml", "test_typo.yml", "sandbox_escape.yml"):
        shutil.copy(CASES / name, project.root / name)
    bad = project.run("validate", "filter_typo.yml", "test_typo.yml", "sandbox_escape.yml")
    assert bad.returncode == ExitCode.INVALID_INPUT
    assert "filter_typo.yml:5:20: debug.msg: unknown filter 'defualt'" in bad.stderr
    assert "test_typo.yml:6:13: when: unknown test 'defind'" in bad.stderr
    assert "sandbox_escape.yml:6:20: debug.msg: unsafe attribute '__init__'" in bad.stderr
    shutil.copy(CASES / "undefined_variable.yml", project.root / "u.yml")
    ok = project.run("validate", "u.yml")  # an undefined variable needs the inventory to be known
    assert ok.returncode == ExitCode.OK, ok.stderr
    assert "skipped without -i ENV: host patterns, undefined variables, argument values, service names" in ok.stdout
    as_json = events(project.run("validate", "u.yml", "--output", "json").stdout)
    assert as_json[-1]["skipped"] == ["host patterns", "undefined variables", "argument values", "service names"]


def test_refused_run_on_a_real_host_runs_not_even_its_first_command(project: Project) -> None:
    """On an @local host target: a bad port known from -e stops the run before `touch` ran."""
    marker = project.root / "first-command-ran"
    lock = project.root / "host.lock"
    project.write("inventory/host.yml", f"""
        targets:
          box:
            host: "@local"
            lock_path: "{lock}"
        """)
    project.write("p.yml", f"""
        - hosts: box
          tasks:
            - name: first
              command: "touch {marker}"
            - name: wait
              wait_for: {{port: "{{{{ port }}}}", timeout: 1}}
        """)
    validated = project.run("validate", "p.yml", "-i", "host", "-e", "port=http")
    ran = project.run("run", "p.yml", "-i", "host", "-e", "port=http")
    assert validated.returncode == ran.returncode == ExitCode.INVALID_INPUT, ran.stdout + ran.stderr
    assert validated.stderr == ran.stderr
    assert "p.yml:7:24: wait_for.port: expected an integer, got string 'http'" in ran.stderr
    assert not marker.exists() and not lock.exists()
    assert _journaled_runs(project) == []
