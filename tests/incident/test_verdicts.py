"""The verdict tables of triage-wont-start.yml and triage-service-down.yml, case by case, on the shipped files:
the engine runs them on a fake target whose `status`, `logs`, `environment` and `changes` are stubs answering
the registered data a real target gives in each situation (the e2e tests run the real verbs; these cover the
causes no cheap real service produces, e.g. OOMKilled or an image that cannot be pulled)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ajudaplay.actions.base import ActionContext, ActionSpec, default_registry
from ajudaplay.engine.events import TaskResult
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.run import Runner
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.playbook.loader import load_playbook
from ajudaplay.results import Result
from ajudaplay.targets.fake import FakeTarget
from tests.engine.conftest import Collector

ROOT = Path(__file__).resolve().parents[2]
MI = 1048576


def why(reason: str, exit_code: int | None = None) -> dict[str, Any]:
    return {"object": "Pod/api-1", "pod": "api-1", "container": "api", "reason": reason, "message": reason,
            "exit_code": exit_code, "count": 3, "last_seen": None, "source": "terminated"}


def status(healthy: bool, problems: list[dict[str, Any]], revision: int = 2) -> dict[str, Any]:
    return {"service": "api", "image": "api:2", "revision": revision, "healthy": healthy, "restarts": 3, "why": problems,
            "replicas": {"desired": 1, "current": 1, "ready": int(healthy), "available": int(healthy)}}


def env(missing: list[str] = [], memory: int | None = None, absent: str | None = None) -> dict[str, Any]:
    refs = [{"name": None, "kind": "Secret", "source": absent, "key": None, "present": False}] if absent else []
    return {"service": "api", "names": ["A"], "expected": missing, "missing": missing, "refs": refs,
            "limits": {"memory_bytes": memory, "cpu_millicores": None}}


def run(playbook: str, tmp_path: Path, answers: dict[str, dict[str, Any]]) -> str:
    registry = default_registry()
    for name, data in answers.items():
        def answer(ctx: ActionContext, args: Any, data: dict[str, Any] = data) -> Result:
            return Result(data=data)
        registry.actions[name] = ActionSpec(name, answer)  # the stub keeps the real schema (same name)
    inventory = tmp_path / "inv.yml"
    inventory.write_text("targets:\n  t1: {fake: {}, services: {api: {}}}\n")
    collector = Collector()
    runner = Runner(load_playbook(ROOT / "playbooks" / playbook, registry), load_inventory(inventory), registry,
                    RunOptions(), [collector], make_target=FakeTarget)
    summary = runner.run()
    assert summary.exit_code == 0, [e for e in collector.events if isinstance(e, TaskResult) and e.status == "failed"]
    [line] = [e.result.msg for e in collector.results("Summary")]
    return line


@pytest.mark.parametrize(("problems", "environment", "lines", "expected"), [
    ([why("OOMKilled", 137)], env(memory=64 * MI), [],
     "t1 api: cause: OOMKilled at 64Mi; fix: raise the memory limit (now 64Mi) or find the leak"),
    ([why("OOMKilled", 137)], env(), [], "t1 api: cause: OOMKilled at no limit; fix: raise the memory limit or"),
    ([why("ImagePullBackOff")], env(), [], "t1 api: cause: the image cannot be pulled; fix: check the image name"),
    ([why("CrashLoopBackOff"), why("Error", 1)], env(), ["api-1 boom: database is locked"],
     "t1 api: cause: it exits with code 1; fix: read the previous logs (last line: api-1 boom: database is locked)"),
    ([why("CreateContainerConfigError")], env(["TOKEN"], absent="api-env"), [],
     "t1 api: cause: missing env TOKEN; fix: add TOKEN to Secret/ConfigMap/env file api-env, then restart.yml"),
    ([why("FailedScheduling")], env(), [], "t1 api: cause: no node can run it; fix: free or add capacity"),
    ([], env(), [], "t1 api: cause: none: it starts and is healthy; fix: nothing to do"),
], ids=["oom", "oom-no-limit", "pull", "crash", "missing-ref", "unschedulable", "healthy"])
def test_wont_start_verdicts(tmp_path: Path, problems: list[dict[str, Any]], environment: dict[str, Any],
                             lines: list[str], expected: str) -> None:
    logs = {"service": "api", "lines": lines, "count": len(lines), "previous": True}
    line = run("triage-wont-start.yml", tmp_path, {
        "status": status(not problems, problems), "environment": environment, "logs": logs})
    assert line.startswith(expected), line


def changes(newest_age: float | None, runs: int = 0) -> dict[str, Any]:
    newest = None if newest_age is None else {
        "revision": 2, "image": "api:2", "time": "t", "user": "ana", "run_id": "r", "cause": None, "current": True,
        "at": 0.0, "age": newest_age, "in_window": newest_age < 3600}
    deploys = [{"run_id": f"r{i}", "playbook": "deploy.yml", "user": "ana", "host": "h", "status": "failed",
                "revisions": []} for i in range(runs)]
    return {"service": "api", "runs": deploys, "revisions": [newest] if newest and newest["in_window"] else [],
            "recent": bool(deploys) or bool(newest and newest["in_window"]), "newest": newest,
            "current": 2, "previous": 1}


@pytest.mark.parametrize(("healthy", "recent", "expected"), [
    (False, changes(300, runs=1), "t1 api: down on revision 2 (api:2, 5 min ago by ana): roll back with "
                                  "`ajudaplay run playbooks/rollback.yml -i inv -l t1 -e service=api` (to revision 1)"),
    (False, changes(7200), "t1 api: down with no change in the last 1h: CrashLoopBackOff; triage-wont-start.yml"),
    (True, changes(300, runs=1), "t1 api: up: 1/1 ready at revision 2"),
], ids=["recent-deploy", "old-revision", "up"])
def test_service_down_verdicts(tmp_path: Path, healthy: bool, recent: dict[str, Any], expected: str) -> None:
    line = run("triage-service-down.yml", tmp_path, {
        "status": status(healthy, [] if healthy else [why("CrashLoopBackOff")]), "changes": recent})
    assert line == expected, line
