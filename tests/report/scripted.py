"""A hand-built event sequence (the engine is tested elsewhere): every status, diff, warning."""

from __future__ import annotations

from ajudaplay.engine.events import (
    Event,
    Message,
    PlayStarted,
    RunFinished,
    RunStarted,
    TargetStats,
    TaskResult,
    TaskStarted,
)
from ajudaplay.targets.base import Change, Result, RevisionChange

RUN_ID = "3f9a1b2c4d5e6f708192a3b4c5d6e7f8"
T0 = 1714564800.0  # 2024-05-01T12:00:00Z
PLAY = "deploy api"

NGINX_DIFF = """--- nginx.conf
+++ nginx.conf
@@ -1,2 +1,2 @@
-worker_connections 512;
+worker_connections 1024;
 keepalive_timeout 65;
"""

# what the recap must count per target (statuses are exclusive; rolled_back is extra)
EXPECTED_STATS = {
    "cluster": {"ok": 1, "changed": 3, "failed": 0, "skipped": 0, "unreachable": 0,
                "ignored": 1, "rescued": 1, "rolled_back": 0, "interrupted": 0},
    "small": {"ok": 0, "changed": 0, "failed": 1, "skipped": 1, "unreachable": 1,
              "ignored": 0, "rescued": 0, "rolled_back": 1, "interrupted": 0},
}


def _result(task: str, target: str, status: str, result: Result, *, at: float, duration: float = 1.25,
            error: str = "", item: object = None, handler: bool = False) -> TaskResult:
    return TaskResult(RUN_ID, PLAY, task, target, status, result, duration, T0 + at,  # type: ignore[arg-type]
                      item=item, handler=handler, error=error)


def events(stats: dict[str, TargetStats] | None = None, finished: bool = True) -> list[Event]:
    """The whole run: a deploy that changes one target and is rolled back on the other."""
    both = ["cluster", "small"]
    sequence: list[Event] = [
        RunStarted(RUN_ID, "playbooks/deploy.yml", "prod", "alice", T0, False, {"limit": "api"}),
        PlayStarted(RUN_ID, PLAY, both),
        TaskStarted(RUN_ID, PLAY, "deploy image", "playbooks/deploy.yml:12:7", both),
        _result("deploy image", "cluster", "changed", Result(
            changed=True, changes=[Change("api image", "v1", "v2")],
            revisions=[RevisionChange("api", "3", "4", "registry.local/api:v2")],
            warnings=["HPA api-hpa will override replicas"]), at=0.5),
        _result("deploy image", "small", "failed", Result(
            failed=True, rolled_back=True, msg="deploy failed",
            revisions=[RevisionChange("api", "7", "7", "registry.local/api:v1")],
            data={"stderr": "container api is unhealthy\nhealth: 503"}),
            at=0.6, error="health check failed: GET /health returned 503"),
        Message(RUN_ID, "cluster", "warning", "certificate api-tls expires in 5 days"),
        Message(RUN_ID, "cluster", "info", "waiting for rollout"),
        TaskStarted(RUN_ID, PLAY, "service status", "playbooks/deploy.yml:20:7", both),
        _result("service status", "cluster", "ok", Result(data={"stdout": "api 3/3 ready"}),
                at=2.0, item="api"),
        _result("service status", "small", "skipped", Result(skipped=True, msg="target failed earlier"),
                at=2.0, duration=0.0),
        TaskStarted(RUN_ID, PLAY, "nginx config", "playbooks/deploy.yml:25:7", both),
        _result("nginx config", "cluster", "changed", Result(
            changed=True, changes=[Change("config nginx.conf", "sha:aa", "sha:bb", NGINX_DIFF)]), at=3.0),
        _result("nginx config", "small", "unreachable", Result(failed=True),
                at=3.0, error="ssh deploy@10.0.0.5: connection refused"),
        TaskStarted(RUN_ID, PLAY, "check certificate", "playbooks/deploy.yml:30:7", ["cluster"]),
        _result("check certificate", "cluster", "ignored", Result(failed=True, msg="expires in 5 days"), at=4.0),
        TaskStarted(RUN_ID, PLAY, "smoke test", "playbooks/deploy.yml:35:7", ["cluster"]),
        _result("smoke test", "cluster", "rescued", Result(msg="smoke test failed, rescue ran"), at=5.0),
        TaskStarted(RUN_ID, PLAY, "restart nginx", "playbooks/deploy.yml:40:7", ["cluster"], handler=True),
        _result("restart nginx", "cluster", "changed", Result(changed=True, msg="restarted nginx"),
                at=6.0, handler=True),
    ]
    if finished:
        sequence.append(RunFinished(RUN_ID, "failed", 2, T0 + 12.5, stats or {},
                                    "1 target failed"))
    return sequence
