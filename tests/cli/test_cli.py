"""The command line: exit codes, listings, preflight refusals, lock held, journal, unlock."""

from __future__ import annotations

import json
import subprocess
import sys

from ajudaplay.exitcodes import ExitCode
from tests.cli.conftest import ROOT, Project, events

DEPLOY = """
- name: deploy api
  hosts: all
  tasks:
    - name: deploy
      deploy: {service: api, image: "app:{{ version }}"}
      notify: restart api
    - name: status
      status: {service: api}
  handlers:
    - name: restart api
      restart: {service: api}
"""


def test_run_ok_then_rerun_at_the_same_image_changes_nothing(project: Project) -> None:
    """The first run deploys and restarts; a second run on targets already at that image is all ok, no handler."""
    project.inventory({"t1": {}, "t2": {}})
    project.write("deploy.yml", DEPLOY)
    first = project.run("run", "deploy.yml", "-i", "test", "-e", "version=2")
    assert first.returncode == ExitCode.OK, first.stderr + first.stdout
    assert "PLAY RECAP" in first.stdout
    methods = [c["method"] for c in project.calls() if c["target"] == "t1"]
    assert methods == ["open", "acquire_lock", "deploy", "status", "restart", "release_lock", "close"]
    assert project.locks() == []
    # the fake keeps images in memory: the inventory states what the first run left behind
    project.inventory({"t1": {"images": {"api": "app:2"}}, "t2": {"images": {"api": "app:2"}}})
    (project.state / "calls.jsonl").unlink()
    second = project.run("run", "deploy.yml", "-i", "test", "-e", "version=2", "--output", "json")
    assert second.returncode == ExitCode.OK, second.stderr + second.stdout
    results = [e for e in events(second.stdout) if e["event"] == "task_result"]
    assert {(e["task"], e["status"]) for e in results} == {("acquire lock", "ok"), ("deploy", "ok"), ("status", "ok")}
    assert [e["stats"]["t1"]["changed"] for e in events(second.stdout) if e["event"] == "run_end"] == [0]
    assert "restart" not in [c["method"] for c in project.calls()]


def test_forks_zero_is_refused_and_runs_nothing(project: Project) -> None:
    project.inventory({"t1": {}})
    project.write("deploy.yml", DEPLOY)
    for value in ("0", "-2"):
        done = project.run("run", "deploy.yml", "-i", "test", "-e", "version=2", "--forks", value)
        assert done.returncode == ExitCode.INVALID_INPUT, done.stdout + done.stderr
        assert f"--forks must be at least 1, got {value}" in done.stderr
    assert project.calls() == []


def test_one_failed_target_and_one_held_lock_exits_2(project: Project) -> None:
    """The exit-code table: a failure is worse than a held lock (4 only when the lock is the only problem)."""
    project.inventory({"t1": {}, "bad": {"fail_on": ["deploy"]}, "busy": {"lock_held_by": "alice@laptop"}})
    project.write("deploy.yml", DEPLOY)
    done = project.run("run", "deploy.yml", "-i", "test", "-e", "version=2", "--output", "json")
    assert done.returncode == ExitCode.FAILED, done.stdout + done.stderr
    [end] = [e for e in events(done.stdout) if e["event"] == "run_end"]
    assert (end["outcome"], end["exit_code"]) == ("failed", 2)
    assert not [c for c in project.calls() if c["target"] == "busy" and c["method"] == "deploy"]
    project.inventory({"t1": {}, "busy": {"lock_held_by": "alice@laptop"}})
    only_lock = project.run("run", "deploy.yml", "-i", "test", "-e", "version=2")
    assert only_lock.returncode == ExitCode.LOCK_HELD, only_lock.stdout + only_lock.stderr


def test_run_json_output_and_failed_exit(project: Project) -> None:
    project.inventory({"t1": {}, "bad": {"fail_on": ["deploy"]}})
    project.write("deploy.yml", DEPLOY)
    done = project.run("run", "deploy.yml", "-i", "test", "-e", '{"version": "3"}', "--output", "json")
    assert done.returncode == ExitCode.FAILED
    evs = events(done.stdout)
    assert evs[0]["event"] == "run_start" and evs[-1]["event"] == "run_end"
    assert evs[-1]["exit_code"] == 2 and evs[-1]["outcome"] == "failed"
    assert "PLAY RECAP" not in done.stdout


def test_undefined_variable_exits_3_and_runs_nothing(project: Project) -> None:
    project.inventory({"t1": {}}, "vars: {health_url: 'http://x'}\n")
    project.write("p.yml", "- hosts: all\n  tasks:\n    - name: probe\n      debug: {msg: '{{ helth_url }}'}\n    - {name: s, status: {service: api}}\n")
    done = project.run("run", "p.yml", "-i", "test")
    assert done.returncode == ExitCode.INVALID_INPUT
    assert "p.yml:4:20: debug.msg: undefined variable 'helth_url'" in done.stderr
    assert "did you mean 'health_url'?" in done.stderr
    assert "Traceback" not in done.stderr
    assert project.calls() == []


def test_sandbox_escape_exits_3(project: Project) -> None:
    project.inventory({"t1": {}})
    project.write("p.yml", "- hosts: all\n  tasks:\n    - debug: {msg: \"{{ cycler.__init__.__globals__.os }}\"}\n")
    done = project.run("run", "p.yml", "-i", "test")
    assert done.returncode == ExitCode.INVALID_INPUT
    assert "unsafe attribute '__init__'" in done.stderr
    assert project.calls() == []


def test_bad_command_line_and_extra_vars_exit_3(project: Project) -> None:
    project.inventory({"t1": {}})
    project.write("p.yml", "- hosts: all\n  tasks:\n    - debug: {msg: x}\n")
    assert project.run("run", "p.yml").returncode == ExitCode.INVALID_INPUT  # -i missing
    assert project.run("run", "p.yml", "-i", "test", "--forks", "x").returncode == ExitCode.INVALID_INPUT
    bad = project.run("run", "p.yml", "-i", "test", "-e", "novalue")
    assert bad.returncode == ExitCode.INVALID_INPUT and "expected key=value" in bad.stderr
    missing = project.run("run", "nope.yml", "-i", "prdo")
    assert missing.returncode == ExitCode.INVALID_INPUT
    assert "nope.yml" in missing.stderr and "prdo" in missing.stderr


def test_lock_held_exits_4_naming_the_holder(project: Project) -> None:
    project.inventory({"t1": {}, "busy": {"lock_held_by": "alice@laptop"}})
    project.write("deploy.yml", DEPLOY)
    done = project.run("run", "deploy.yml", "-i", "test", "-e", "version=2")
    assert done.returncode == ExitCode.LOCK_HELD, done.stdout + done.stderr
    assert "alice@laptop" in done.stdout
    assert not [c for c in project.calls() if c["target"] == "busy" and c["method"] == "deploy"]


def test_list_tasks_and_targets(project: Project) -> None:
    project.inventory({"t1": {}, "t2": {}})
    project.write(
        "p.yml",
        """
        - name: first
          hosts: all
          tasks:
            - {name: a, debug: {msg: "{{ undefined_is_fine_for_listing }}"}, tags: [one]}
            - block:
                - {name: b, status: {service: api}, tags: [two]}
        """,
    )
    done = project.run("run", "p.yml", "-i", "test", "--list-tasks", "--list-targets", "--limit", "t2", "--tags", "two")
    assert done.returncode == ExitCode.OK, done.stderr
    assert done.stdout.splitlines() == [
        "playbook: p.yml",
        "  play #1 (all): first    TARGETS: 1",
        "    t2",
        "playbook: p.yml",
        "  play #1 (all): first    TAGS: []",
        "    b    TAGS: [two]",
    ]
    assert project.calls() == []


def test_journal_history_and_show(project: Project) -> None:
    project.inventory({"t1": {}})
    project.write("deploy.yml", DEPLOY)
    done = project.run("run", "deploy.yml", "-i", "test", "-e", "version=2", "--output", "json")
    run_id = events(done.stdout)[0]["run_id"]
    history = project.run("history", "--output", "json")
    assert history.returncode == ExitCode.OK, history.stderr
    assert run_id in history.stdout
    show = project.run("show", run_id[:8])
    assert show.returncode == ExitCode.OK, show.stderr
    assert f"run:       {run_id}" in show.stdout
    assert "TASK [deploy]" in show.stdout and "HANDLER [restart api]" in show.stdout
    shown = json.loads(project.run("show", run_id[:8], "--output", "json").stdout)
    assert shown["run_id"] == run_id and shown["outcome"] == "success"
    assert [(r["task"], r["status"], r["handler"]) for r in shown["results"]] == [
        ("acquire lock", "ok", False), ("deploy", "changed", False), ("status", "ok", False),
        ("restart api", "changed", True),
    ]
    assert project.run("show", "zzzz").returncode == ExitCode.INVALID_INPUT


def test_unwritable_journal_exits_5(project: Project) -> None:
    project.inventory({"t1": {}})
    project.write("deploy.yml", DEPLOY)
    project.write("afile", "x")
    done = project.run("run", "deploy.yml", "-i", "test", "-e", "version=2", "--journal", "afile/sub/j.sqlite")
    assert done.returncode == ExitCode.JOURNAL_ERROR
    assert "afile/sub/j.sqlite" in done.stderr
    assert project.calls() == []


def test_unlock_removes_a_stale_lock(project: Project) -> None:
    project.inventory({"t1": {}})
    (project.state / "t1.lock").write_text(json.dumps(
        {"holder": "bob@ci", "run_id": "r1", "acquired_at": 1.0, "expires_at": 2.0, "target": "t1"}))
    refused = project.run("unlock", "-i", "test", "t1")  # no terminal, no --yes
    assert refused.returncode == ExitCode.INVALID_INPUT and "bob@ci" in refused.stderr
    done = project.run("unlock", "-i", "test", "t1", "--yes")
    assert done.returncode == ExitCode.OK, done.stderr
    assert "removed lock held by bob@ci (run r1" in done.stdout
    assert project.locks() == []
    assert project.run("unlock", "-i", "test", "t9", "--yes").returncode == ExitCode.INVALID_INPUT


def test_light_commands_import_nothing_heavy() -> None:
    code = (
        "import sys; from ajudaplay.cli import main; main(['schema', 'inventory']);"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'gevent', 'pyinfra', 'kubernetes', 'rich', 'paramiko', 'boto3', 'botocore', 'cryptography', 'dns'});"
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in done.stderr


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "ajudaplay", "--version"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("ajudaplay ")


def test_unexpected_exception_exits_1_with_one_line(capsys: object) -> None:
    from ajudaplay.cli import main

    def broken_registry() -> object:
        raise RuntimeError("registry exploded")

    code = main(["schema", "playbook"], registry_factory=broken_registry)  # type: ignore[arg-type]
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert code == ExitCode.INTERNAL_ERROR
    assert "internal error: RuntimeError: registry exploded" in err and "-vv" in err
    assert "Traceback" not in err


def test_secret_extra_var_is_masked(project: Project) -> None:
    project.inventory({"t1": {}}, "vars: {api_token: default-token}\nsecrets:\n  vars: [api_token]\n")
    project.write("p.yml", "- hosts: all\n  tasks:\n    - {name: show, debug: {msg: 'token={{ api_token }}'}}\n")
    done = project.run("run", "p.yml", "-i", "test", "-e", "api_token=s3cr3t-from-cli", "--output", "json", "-v")
    assert done.returncode == ExitCode.OK, done.stderr
    assert "s3cr3t-from-cli" not in done.stdout and "default-token" not in done.stdout
    assert "token=********" in done.stdout


def test_secret_inside_a_list_is_masked_in_json_output(project: Project) -> None:
    """A real command on @local prints the secret twice: in `stdout` and in the list `stdout_lines`."""
    project.write("inventory/host.yml", """\
        vars: {db_password: s3cr3t-pw-in-lines}
        secrets: {vars: [db_password]}
        targets:
          box: {host: "@local"}
        """)
    project.write("echo.yml", """\
        - hosts: all
          tasks:
            - name: print it
              command: {argv: [printf, "first\\\\n%s\\\\nlast\\\\n", "{{ db_password }}"]}
              register: out
            - {name: lines, debug: {msg: "{{ out.stdout_lines }}"}}
        """)
    done = project.run("run", "echo.yml", "-i", "host", "--output", "json")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert "s3cr3t-pw-in-lines" not in done.stdout + done.stderr
    [printed] = [e for e in events(done.stdout) if e["event"] == "task_result" and e["task"] == "print it"]
    assert printed["data"]["stdout_lines"] == ["first", "********", "last"]
    assert printed["data"]["stdout"] == "first\n********\nlast"


def test_invalid_playbook_still_reports_run_start_diagnostics_and_run_end_as_json(project: Project) -> None:
    """Refused while loading (schema) or parsing -e: JSON consumers get outcome `invalid`, not silence."""
    project.inventory({"t1": {}})
    project.write("p.yml", "- hosts: all\n  tasks:\n    - deploy: {service: api, imgae: 'x:1'}\n")
    done = project.run("run", "p.yml", "-i", "test", "--output", "json")
    assert done.returncode == ExitCode.INVALID_INPUT
    evs = events(done.stdout)
    assert [e["event"] for e in evs] == ["run_start", "diagnostic", "run_end"]
    assert evs[1]["location"] == "p.yml:3:30" and "unknown argument 'imgae'" in evs[1]["message"]
    assert evs[1]["hint"].startswith("did you mean 'image'?")
    assert (evs[-1]["outcome"], evs[-1]["exit_code"]) == ("invalid", 3)
    bad_extra = project.run("run", "p.yml", "-i", "test", "-e", "novalue", "--output", "json")
    assert [e["event"] for e in events(bad_extra.stdout)][-1] == "run_end"
    assert project.calls() == []
