"""`ajudaplay inventory -i ENV --list|--graph|--names`: what ansible-inventory shows, secrets masked (issue 15)."""

from __future__ import annotations

import json

from ajudaplay.exitcodes import ExitCode
from tests.cli.conftest import ROOT, Project

SECRET = "hunter2-very-secret"
ENV_SECRET = "tok-from-env-file"
EXTRA = f"""
vars:
  db_password: {SECRET}
  dsn: "postgres://app:{SECRET}@db/app"
  region: eu
  pin: 7  # too short for the redactor's value rules: masked because it is named secret
groups:
  web: [t1]
  api: {{children: [web], targets: [t2], vars: {{tier: backend}}}}
secrets:
  vars: [db_password, pin]
  env_file: secrets.env
"""


def _project(project: Project) -> None:
    project.write("inventory/secrets.env", f"API_TOKEN={ENV_SECRET}\n")
    project.inventory({"t1": {}, "t2": {}, "lonely": {}}, EXTRA)


def test_list_json_has_targets_kinds_groups_services_and_masked_variables(project: Project) -> None:
    _project(project)
    done = project.run("inventory", "-i", "test", "--list", "--output", "json")
    assert done.returncode == ExitCode.OK, done.stderr
    assert SECRET not in done.stdout and ENV_SECRET not in done.stdout
    data = json.loads(done.stdout)
    assert data["environment"] == "test"
    assert sorted(data["targets"]) == ["lonely", "t1", "t2"]
    t1 = data["targets"]["t1"]
    assert t1["kind"] == "fake" and t1["groups"] == ["api", "web"] and list(t1["services"]) == ["api"]
    assert t1["vars"]["db_password"] == "********" and t1["vars"]["pin"] == "********"  # named secret: masked whole
    assert t1["vars"]["dsn"] == "postgres://app:********@db/app"  # the run's redactor rules elsewhere
    assert t1["vars"]["API_TOKEN"] == "********" and t1["vars"]["region"] == "eu" and t1["vars"]["tier"] == "backend"
    assert data["targets"]["lonely"]["groups"] == [] and "tier" not in data["targets"]["lonely"]["vars"]
    assert data["groups"]["api"] == {"targets": ["t2"], "children": ["web"], "vars": {"tier": "backend"}}
    assert data["secret_vars"] == ["API_TOKEN", "db_password", "pin"]
    assert data["vars"]["pin"] == "********"


def test_list_table(project: Project) -> None:
    _project(project)
    done = project.run("inventory", "-i", "test", "--list")
    assert done.returncode == ExitCode.OK, done.stderr
    assert SECRET not in done.stdout and ENV_SECRET not in done.stdout
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("TARGET"))
    assert lines[header].split() == ["TARGET", "KIND", "GROUPS", "SERVICES"]
    assert lines[header + 1].split() == ["lonely", "fake", "-", "api"]
    assert lines[header + 2].split() == ["t1", "fake", "api,", "web", "api"]
    assert "  db_password = ********" in lines and "  dsn = postgres://app:********@db/app" in lines
    assert "  pin = ********" in lines and "secret variables (masked): API_TOKEN, db_password, pin" in lines


def test_graph_is_a_tree_of_groups(project: Project) -> None:
    _project(project)
    done = project.run("inventory", "-i", "test", "--graph")
    assert done.returncode == ExitCode.OK, done.stderr
    assert done.stdout.splitlines() == [
        "@all:",
        "  |--@api:",
        "  |  |--@web:",
        "  |  |  |--t1",
        "  |  |--t2",
        "  |--@ungrouped:",
        "  |  |--lonely",
    ]


def test_names_for_scripts_and_completion(project: Project) -> None:
    _project(project)
    assert project.run("inventory", "-i", "test", "--names", "targets").stdout.split() == ["lonely", "t1", "t2"]
    assert project.run("inventory", "-i", "test", "--names", "groups").stdout.split() == ["all", "api", "web"]
    assert project.run("inventory", "-i", "test", "--names", "services").stdout.split() == ["api"]


def test_shipped_inventory_lists_its_services(project: Project) -> None:
    done = project.run("inventory", "-i", str(ROOT / "inventory" / "local.yml"), "--list", "--output", "json")
    assert done.returncode == ExitCode.OK, done.stderr
    assert json.loads(done.stdout)["targets"]["local"]["kind"] == "compose"


def test_bad_input_is_a_diagnostic_not_a_traceback(project: Project) -> None:
    _project(project)
    missing = project.run("inventory", "-i", "nope", "--list")
    assert missing.returncode == ExitCode.INVALID_INPUT and "nope" in missing.stderr and "Traceback" not in missing.stderr
    neither = project.run("inventory", "-i", "test")
    assert neither.returncode == ExitCode.INVALID_INPUT
    assert neither.stderr.startswith("usage: ajudaplay inventory ") and "--list" in neither.stderr
    graph_json = project.run("inventory", "-i", "test", "--graph", "--output", "json")
    assert graph_json.returncode == ExitCode.INVALID_INPUT and "--output json goes with --list" in graph_json.stderr
