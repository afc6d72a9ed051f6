"""`ajudaplay metrics`: delivery metrics from a journal filled with REAL runs of the shipped playbooks.

The runs are real `python -m ajudaplay run` processes of playbooks/deploy.yml and rollback.yml on
fake targets (kind "fake", tests/cli/conftest.py's Project: the fake stands in for the target only;
the engine, the journal and the playbooks are the real ones). The fake keeps its revisions in memory,
so a rollback needs a deploy earlier in the same process: one run plays deploy.yml's play and then
rollback.yml's (the two files' plays in one list). The output is checked with Debian's `promtool`,
and a real Prometheus on loopback scrapes `--serve`.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from ajudaplay.errors import InvalidInput
from ajudaplay.journal.metrics import Move, ServiceMetrics, compute, read_moves, render
from ajudaplay.metrics_command import main, parse_address, parse_window
from tests.cli.conftest import ROOT, Project
from tests.infra.prometheus.server import PrometheusError, PrometheusServer, static_job

DEPLOY = ROOT / "playbooks" / "deploy.yml"
ROLLBACK = ROOT / "playbooks" / "rollback.yml"


class Journaled:
    """The project whose journal the module's tests read, and the deploy steps' times from the journal."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.path = project.root / "journal.sqlite"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.project.run("run", *args, timeout=60)

    def step(self, task: str, index: int = 0, env: str = "test") -> tuple[float, float]:
        """(started, ended) of the index-th result of `task` in non-check runs of `env`, in journal order."""
        conn = sqlite3.connect(self.path)
        try:
            rows = conn.execute(
                "SELECT r.started_at, r.started_at + r.duration FROM results r JOIN runs ON runs.id = r.run_id "
                "WHERE r.task = ? AND runs.check_mode = 0 AND runs.inventory = ? AND r.status != 'skipped' "
                "ORDER BY r.id", (task, env)).fetchall()
        finally:
            conn.close()
        return float(rows[index][0]), float(rows[index][1])


@pytest.fixture(scope="module")
def journaled(tmp_path_factory: pytest.TempPathFactory) -> Journaled:
    """Eight real runs; environment "test" (targets t1, t2) and "other" (t1). What each leaves:

    1. deploy app:2 on t1                    -> deploy succeeded
    2. deploy app:bad on t1 (atomic)         -> deploy rolled_back (the fake's unhealthy image, undone)
    3. deploy app:bad on t1, atomic=false    -> deploy failed (the step fails)
    4. deploy app:2 on t2                    -> deploy failed (t2's `status` fails after the deploy step)
    5. deploy app:3 then roll back on t1     -> deploy succeeded, rollback (t1 is back, t2 is not)
    6. deploy app:2 on t2, status fixed      -> deploy succeeded: restored (6's end - 2's start)
    7. deploy app:9 --check                  -> nothing (check mode)
    8. deploy app:2 in "other"               -> deploy succeeded there
    """
    project = Project(tmp_path_factory.mktemp("delivery"))
    project.state.mkdir()
    fake: dict[str, Any] = {"state_dir": str(project.state), "images": {"api": "app:1"}, "unhealthy_images": ["app:bad"]}

    def inventory(env: str, targets: dict[str, dict[str, Any]]) -> None:
        lines = ["targets:"]
        for name, conf in targets.items():
            lines += [f"  {name}:", f"    fake: {json.dumps(conf)}", "    services: {api: {}}"]
        project.write(f"inventory/{env}.yml", "\n".join(lines) + "\n")

    inventory("test", {"t1": fake, "t2": {**fake, "fail_on": ["status"]}})
    inventory("other", {"t1": fake})
    project.write("both.yml", DEPLOY.read_text() + "\n" + ROLLBACK.read_text())
    j = Journaled(project)
    test = ("-i", "inventory/test.yml")
    for args, code in (
        ((str(DEPLOY), *test, "-l", "t1", "-e", "image=app:2"), 0),
        ((str(DEPLOY), *test, "-l", "t1", "-e", "image=app:bad"), 2),
        ((str(DEPLOY), *test, "-l", "t1", "-e", "image=app:bad", "-e", "atomic=false"), 2),
        ((str(DEPLOY), *test, "-l", "t2", "-e", "image=app:2"), 2),
        (("both.yml", *test, "-l", "t1", "-e", "image=app:3"), 0),
        ((str(DEPLOY), *test, "-l", "t2", "-e", "image=app:2"), 0),
        ((str(DEPLOY), *test, "-l", "t1", "-e", "image=app:9", "--check"), 0),
        ((str(DEPLOY), "-i", "inventory/other.yml", "-e", "image=app:2"), 0),
    ):
        if args == (str(DEPLOY), *test, "-l", "t2", "-e", "image=app:2") and code == 0:
            inventory("test", {"t1": fake, "t2": fake})  # run 6: t2's status answers again
        done = j.run(*args)
        assert done.returncode == code, (args, done.stdout, done.stderr)
    return j


def samples(text: str) -> dict[str, float]:
    """'name{labels}' -> value of every sample line."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def test_the_numbers_of_real_runs(journaled: Journaled) -> None:
    metrics = compute(read_moves(journaled.path, "test"))
    assert list(metrics) == [("test", "api")]
    m = metrics[("test", "api")]
    assert m.deployments == {"succeeded": 3, "failed": 2, "rolled_back": 1}
    assert m.rollbacks == 1
    assert m.failed_changes == 2  # run 2's undo, run 5's deploy rolled back at once
    undone_start, _ = journaled.step("Deploy the service", 1)
    _, restored_end = journaled.step("Deploy the service", 5)
    assert m.restores == [pytest.approx(restored_end - undone_start)]
    assert m.last_success == pytest.approx(restored_end)

    text = render(metrics)
    got = samples(text)
    base = 'environment="test",service="api"'
    assert got[f'ajudaplay_deployments_total{{{base},outcome="succeeded"}}'] == 3
    assert got[f'ajudaplay_deployments_total{{{base},outcome="failed"}}'] == 2
    assert got[f'ajudaplay_deployments_total{{{base},outcome="rolled_back"}}'] == 1
    assert got[f"ajudaplay_rollbacks_total{{{base}}}"] == 1
    assert got[f"ajudaplay_change_failure_ratio{{{base}}}"] == pytest.approx(2 / 6)
    assert got[f"ajudaplay_time_to_restore_seconds_count{{{base}}}"] == 1
    assert got[f'ajudaplay_time_to_restore_seconds_bucket{{{base},le="+Inf"}}'] == 1
    assert got[f"ajudaplay_last_successful_deploy_timestamp_seconds{{{base}}}"] == pytest.approx(restored_end)
    assert not [k for k in got if 'environment="other"' in k]  # -i filters


def test_the_failure_window_decides_whether_a_rollback_counts(journaled: Journaled) -> None:
    _, deployed = journaled.step("Deploy the service", 4)
    rolled, _ = journaled.step("Roll the service back")
    gap = rolled - deployed
    assert gap > 0
    moves = read_moves(journaled.path, "test")
    assert compute(moves, failure_window=gap * 2)[("test", "api")].failed_changes == 2
    assert compute(moves, failure_window=gap / 2)[("test", "api")].failed_changes == 1  # the undo only


def test_every_environment_without_filter_and_promtool_accepts_it(journaled: Journaled,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--journal", str(journaled.path)]) == 0
    text = capsys.readouterr().out
    got = samples(text)
    assert got['ajudaplay_deployments_total{environment="other",service="api",outcome="succeeded"}'] == 1
    assert got['ajudaplay_deployments_total{environment="test",service="api",outcome="succeeded"}'] == 3
    promtool(text)


def promtool(text: str) -> None:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool not found: run tests/infra/prometheus/setup.sh", pytrace=False)
    checked = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), \
        (checked.stdout, checked.stderr, text)


def test_label_values_are_escaped_and_promtool_accepts_them() -> None:
    m = ServiceMetrics(rollbacks=1, restores=[12.5], last_success=1700000000.25)
    m.deployments["succeeded"] = 3
    text = render({('prod "eu"\\\nwest', 'a"pi'): m, ("empty", "svc"): ServiceMetrics()})
    assert 'environment="prod \\"eu\\"\\\\\\nwest",service="a\\"pi",outcome="succeeded"} 3' in text
    assert 'ajudaplay_time_to_restore_seconds_bucket{environment="empty",service="svc",le="+Inf"} 0' in text
    assert 'le="60"} 1' in text and 'le="10"} 0' in text
    assert "ajudaplay_change_failure_ratio{environment=\"empty\"" not in text  # no deploys: no ratio
    promtool(text)


def test_no_journal_yet_is_no_samples(tmp_path: Path) -> None:
    text = render(compute(read_moves(tmp_path / "none.sqlite")))
    assert samples(text) == {}
    assert "# TYPE ajudaplay_deployments_total counter" in text


@pytest.mark.parametrize("value, expected", [("1h", 3600.0), ("1h30m", 5400.0), ("90s", 90.0), ("500ms", 0.5)])
def test_failure_window_durations(value: str, expected: float) -> None:
    assert parse_window(value) == expected


@pytest.mark.parametrize("value", ["1 hour", "0s", "", "-1h"])
def test_bad_failure_window(value: str) -> None:
    with pytest.raises(InvalidInput, match="--failure-window"):
        parse_window(value)


@pytest.mark.parametrize("value, expected", [("127.0.0.1:9464", ("127.0.0.1", 9464)), (":9464", ("0.0.0.0", 9464)),
                                             ("[::1]:0", ("::1", 0)), ("localhost:80", ("localhost", 80))])
def test_addresses(value: str, expected: tuple[str, int]) -> None:
    assert parse_address(value) == expected


@pytest.mark.parametrize("value", ["9464", "127.0.0.1", "127.0.0.1:port", "127.0.0.1:70000", "a b:1"])
def test_bad_addresses_are_clear_errors(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--serve", value, "--journal", "/nonexistent/j.sqlite"]) == 3
    err = capsys.readouterr().err
    assert "--serve" in err and "hint:" in err and "Traceback" not in err


def test_a_port_in_use_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--serve", f"127.0.0.1:{port}", "--journal", str(tmp_path / "j.sqlite")]) == 3
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err


def test_a_file_that_is_not_a_journal_is_a_journal_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "j.sqlite"
    bad.write_text("not sqlite at all " * 100)
    assert main(["--journal", str(bad)]) == 5
    err = capsys.readouterr().err
    assert "not an SQLite database" in err and "Traceback" not in err


@pytest.fixture
def served(journaled: Journaled) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`--serve 127.0.0.1:0` in its own process; yields it and its /metrics URL (read from its stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "ajudaplay.metrics_command", "--serve", "127.0.0.1:0",
                             "--journal", str(journaled.path)], cwd=journaled.project.root,
                            env=journaled.project.env(), stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "serving delivery metrics" in line, line
        yield proc, line.split(" at ", 1)[1].split()[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_prometheus_scrapes_serve_and_promql_answers(journaled: Journaled,
                                                     served: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = served
    status, content_type, body = get(url)
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert get(url.replace("/metrics", "/other"))[0] == 404
    try:
        prometheus = PrometheusServer().start()
    except PrometheusError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        prometheus.scrape(static_job("ajudaplay", url.split("/")[2]))
        prometheus.wait_for('sum(ajudaplay_deployments_total{environment="test"})', lambda v: v == 6)
        answers: dict[str, float] = {
            'ajudaplay_deployments_total{environment="test",outcome="rolled_back"}': 1,
            'ajudaplay_change_failure_ratio{environment="test",service="api"}': 2 / 6,
            'ajudaplay_rollbacks_total{environment="test"}': 1,
            'ajudaplay_time_to_restore_seconds_count{environment="test"}': 1,
            'histogram_quantile(1, ajudaplay_time_to_restore_seconds_bucket{environment="test"})': 10,
        }
        for promql, expected in answers.items():
            assert prometheus.value(promql) == pytest.approx(expected), promql
        by_env = {r["metric"]["environment"]: float(r["value"][1])
                  for r in prometheus.query('sum by (environment) (ajudaplay_deployments_total{outcome="succeeded"})')}
        assert by_env == {"test": 3, "other": 1}
        _, restored_end = journaled.step("Deploy the service", 5)
        last = prometheus.value('ajudaplay_last_successful_deploy_timestamp_seconds{environment="test"}')
        assert last is not None and math.isclose(last, restored_end, abs_tol=1e-3)

        # computed afresh at each scrape: a run journaled now (in an environment of its own, so the
        # module's other tests keep their numbers) shows up without a restart
        third = journaled.project.root / "inventory" / "third.yml"
        third.write_text((journaled.project.root / "inventory" / "other.yml").read_text())
        assert journaled.run(str(DEPLOY), "-i", str(third), "-e", "image=app:5").returncode == 0
        prometheus.wait_for('ajudaplay_deployments_total{environment="third",outcome="succeeded"}',
                            lambda v: v == 1, timeout=15)
    finally:
        prometheus.stop()

    proc.send_signal(signal.SIGINT)  # Ctrl-C: stops cleanly
    assert proc.wait(10) == 0
    assert proc.stderr is not None
    rest = proc.stderr.read()
    assert "stopped" in rest and "Traceback" not in rest


def test_sigterm_stops_the_server_cleanly(served: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = served
    assert get(url)[0] == 200
    proc.terminate()
    assert proc.wait(10) == 0
    assert proc.stderr is not None and "stopped" in proc.stderr.read()


def test_image_changes_of_every_mode_s_diff() -> None:
    """The diff shapes deploy and rollback write: Kubernetes' undo (two image changes), its rollback (a revision
    change first), a step moving two services, and changes that are not image moves."""
    from ajudaplay.journal.metrics import _image_changes

    assert _image_changes("api image: a:1 -> a:2; api image: a:2 -> a:1") == {"api": ("a:1", "a:1")}
    assert _image_changes("api revision: 4 -> 2; api image: a:3 -> a:1") == {"api": ("a:3", "a:1")}
    assert _image_changes("api image: - -> a:1; worker image: w:1 -> w:2") == {"api": (None, "a:1"),
                                                                               "worker": ("w:1", "w:2")}
    assert _image_changes("api image (recorded): a:1 -> a:2; api replicas: 1 -> 2; api restartedAt: - -> x") == {}


def _move(target: str, at: float, kind: str = "deploy", outcome: str = "succeeded") -> Move:
    status = "changed" if outcome == "succeeded" else "failed"
    move = Move("prod", "api", target, f"run{at}", "a:1", "a:2", at, at + 1, status, outcome == "rolled_back")
    move.kind, move.outcome = kind, outcome  # type: ignore[assignment]
    return move


def test_several_targets_each_rollback_charged_to_its_own_deploy_and_restore_when_all_are_back() -> None:
    """One environment with the service on two targets (two clusters): a run deploys both, both fail, one
    run rolls both back. Cheap: Move rows as read_moves makes them, no journal."""
    moves = [_move("k1", 0, outcome="failed"), _move("k2", 1, outcome="failed"),
             _move("k1", 10, "rollback"), _move("k2", 20, "rollback")]
    m = compute(moves)[("prod", "api")]
    assert m.deployments == {"succeeded": 0, "failed": 2, "rolled_back": 0}
    assert m.rollbacks == 2 and m.failed_changes == 2
    assert m.restores == [21.0]  # from the first failure (0) to the end of the last target's rollback (21)
    again = compute([_move("k1", 0, outcome="rolled_back"), _move("k1", 5, "rollback"), _move("k1", 100),
                     _move("k1", 200, "rollback")], failure_window=60)[("prod", "api")]
    assert again.failed_changes == 1  # the undo; its rollback is not charged again; 200 is past the window
    assert again.restores == [6.0] and again.last_success == 101


def test_an_inventory_path_means_its_name(journaled: Journaled, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-i", "inventory/other.yml", "--journal", str(journaled.path)]) == 0
    got = samples(capsys.readouterr().out)
    assert got['ajudaplay_deployments_total{environment="other",service="api",outcome="succeeded"}'] == 1
    assert not [k for k in got if 'environment="test"' in k]


def test_the_journaled_action_decides_deploy_or_rollback_and_older_journals_are_still_read(tmp_path: Path) -> None:
    """Deploying an older image again is a deploy (the journal records each result's action since schema 3);
    a journal written before that (no action column) is still read, and there the images decide."""
    project = Project(tmp_path)
    project.state.mkdir()
    fake = {"state_dir": str(project.state), "images": {"api": "app:1"}}
    project.write("inventory/test.yml", f"targets:\n  t1:\n    fake: {json.dumps(fake)}\n    services: {{api: {{}}}}\n")
    project.write("back.yml", "- hosts: all\n  tasks:\n"
                  "    - {name: forward, deploy: {service: api, image: 'app:2'}}\n"
                  "    - {name: back again, deploy: {service: api, image: 'app:1'}}\n")
    done = project.run("run", "back.yml", "-i", "inventory/test.yml", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    path = project.root / "journal.sqlite"
    conn = sqlite3.connect(path)
    try:
        actions = [row[0] for row in conn.execute("SELECT action FROM results WHERE diff LIKE '% image: %' ORDER BY id")]
    finally:
        conn.close()
    assert actions == ["deploy", "deploy"]
    m = compute(read_moves(path, "test"))[("test", "api")]
    assert (m.deployments["succeeded"], m.rollbacks) == (2, 0)

    conn = sqlite3.connect(path)
    try:  # the journal as schema 2 wrote it: no action column, no third migration
        conn.execute("ALTER TABLE results DROP COLUMN action")
        conn.execute("DELETE FROM _migrations WHERE version = 3")
        conn.commit()
    finally:
        conn.close()
    m = compute(read_moves(path, "test"))[("test", "api")]
    assert (m.deployments["succeeded"], m.rollbacks) == (1, 1)  # app:2 -> app:1 goes back to an image it ran
