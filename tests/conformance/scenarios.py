"""THE TABLE: every scenario the conformance suite runs on every mode, in the order it runs them.

A scenario is data: steps (an action and its arguments, run as one playbook, each registered),
the answer each step must give (ok / changed / failed), the documented shape of what it registers
(tests/conformance/shapes.py, from docs/actions-service.md) and a few expected values. Scenarios run
in this order on one provisioned service per mode, so each starts where the previous one left off
(deploy -> history -> rollbacks -> ...): keep the state each one leaves in mind when inserting one.

A NEW VERB JOINS THE SUITE BY ADDING A SCENARIO HERE (and its shape in shapes.py): nothing else.

Where a mode cannot do a verb by design, `not_applicable` gives that mode's answer and the reason it
must give (a warning or the failure message, matched as a regex). Where the modes disagree today with
the documented behaviour, `xfail` (per mode id or kind) or `agree_xfail` (the cross-mode comparison)
carries the reason: those are strict, so a fix makes them XPASS, which fails until the mark goes.
Arguments may use `{{ v1 }}`, `{{ v2 }}`, `{{ unhealthy }}` and earlier steps' registered values.
"""

from __future__ import annotations

import hashlib

from dataclasses import dataclass, field
from typing import Any

from tests.conformance import shapes
from tests.conformance.drivers import API_UNHEALTHY, API_V1, API_V2, DB_SERVICE, SERVICE

VARS = {"v1": API_V1, "v2": API_V2, "unhealthy": API_UNHEALTHY, "svc": SERVICE.name}
SECRET_VALUE = "conformance-Secret-7f3a9c"  # must never show in any event
ANY = "any"


@dataclass(frozen=True)
class Step:
    """One task: `action` with `args`, registered as `id`; `answer` ok/changed/failed (ANY: a set-up step
    that is not judged, e.g. putting a known state back); `shape` documented."""

    id: str
    action: str
    args: dict[str, Any]
    answer: str
    shape: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)  # registered key -> value ("{{ v1 }}" allowed)


@dataclass(frozen=True)
class NotApplicable:
    """A mode that cannot do the verb: its answer and the reason it gives (regex on warnings + msg)."""

    answer: str
    reason: str


@dataclass(frozen=True)
class Scenario:
    """A playbook of steps run on every mode; what a mode may answer instead, and why."""

    name: str
    steps: tuple[Step, ...]
    not_applicable: dict[str, NotApplicable] = field(default_factory=dict)  # mode kind -> answer/reason
    xfail: dict[str, str] = field(default_factory=dict)  # mode id or kind -> why it disagrees today
    agree_xfail: dict[str, str] = field(default_factory=dict)  # mode id or kind -> why it differs from the reference
    secret: str = ""  # a value that must appear in no event of the run
    files: dict[str, bytes] = field(default_factory=dict)  # written beside the playbook first (upload sources)


def _s(**extra: Any) -> dict[str, Any]:
    return {"service": "{{ svc }}", **extra}


def _db(**extra: Any) -> dict[str, Any]:
    """Arguments for the database service (drivers.py: the SQLite writer image on a volume, every mode)."""
    return {"service": DB_SERVICE, **extra}


FAKE_EXEC = "the fake target is a test double that runs no command: its exec answers 'ran: ...' with rc 0"

PAYLOAD = bytes(range(256)) * 64
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()

SCENARIOS: tuple[Scenario, ...] = (
    # start: revision 1 runs v1, one replica
    Scenario("deploy-new-image", (
        Step("d", "deploy", _s(image="{{ v2 }}", timeout=60), "changed", shapes.DEPLOY,
             {"image": "{{ v2 }}", "replicas.desired": 1}),
    )),
    Scenario("deploy-same-image", (
        Step("d", "deploy", _s(image="{{ v2 }}", timeout=60), "ok", shapes.DEPLOY, {"image": "{{ v2 }}"}),
    )),
    Scenario("history", (
        Step("h", "history", _s(), "ok", shapes.HISTORY, {"revisions[-1].image": "{{ v2 }}", "revisions[-1].current": True}),
    )),
    Scenario("history-names-who-deployed", (  # the last revision is the suite's deploy of v2 (user "conformance")
        Step("h", "history", _s(), "ok", shapes.HISTORY, {"revisions[-1].user": "conformance"}),
    )),
    Scenario("rollback-twice", (
        Step("back", "rollback", _s(timeout=60), "changed", shapes.ROLLBACK, {"image": "{{ v1 }}"}),
        Step("forth", "rollback", _s(timeout=60), "changed", shapes.ROLLBACK, {"image": "{{ v2 }}"}),
    )),
    Scenario("rollback-to-revision", (
        Step("h", "history", _s(), "ok"),
        Step("r", "rollback", _s(timeout=60, to_revision=(
            "{{ h.revisions | selectattr('image', 'equalto', v1) | map(attribute='revision') | max }}")),
            "changed", shapes.ROLLBACK, {"image": "{{ v1 }}"}),
        Step("h2", "history", _s(), "ok"),
        Step("same", "rollback", _s(timeout=60, to_revision="{{ h2.current }}"), "ok", shapes.ROLLBACK,
             {"image": "{{ v1 }}"}),
    )),
    # now at v1; an atomic deploy of an image that never gets healthy must end on v1 again
    Scenario("atomic-deploy-failure", (
        Step("d", "deploy", _s(image="{{ unhealthy }}", atomic=True, timeout=120), "failed", shapes.DEPLOY_UNDONE,
             {"image": "{{ v1 }}"}),
        # the image, not `healthy`: on a loaded CI machine Kubernetes was seen still settling right after the undo
        Step("after", "status", _s(), "ok", shapes.STATUS, {"image": "{{ v1 }}"}),
        Step("reset", "deploy", _s(image="{{ v1 }}", timeout=60), ANY),  # v1 for what follows, whatever happened
    )),
    Scenario("scale", (
        Step("up", "scale", _s(replicas=2, timeout=60), "changed", shapes.SCALE, {"replicas.desired": 2}),
        Step("again", "scale", _s(replicas=2, timeout=60), "ok", shapes.SCALE, {"replicas.desired": 2}),
        Step("down", "scale", _s(replicas=1, timeout=60), "changed", shapes.SCALE, {"replicas.desired": 1}),
    )),
    Scenario("scale-autoscaler-bounds", (
        Step("b", "scale", _s(min_replicas=1, max_replicas=3), "ok"),
    ), not_applicable={
        "compose": NotApplicable("ok", r"min_replicas/max_replicas: not applicable on Compose \(no autoscaler\)"),
        "kubernetes": NotApplicable("failed", r"has no 'hpa' in the inventory"),  # this service maps no HPA
    }),
    Scenario("restart", (
        Step("r", "restart", _s(timeout=60), "changed", shapes.RESTART, {"image": "{{ v1 }}"}),
    )),
    Scenario("status", (
        Step("s", "status", _s(), "ok", shapes.STATUS, {"image": "{{ v1 }}", "healthy": True, "replicas.ready": 1}),
    )),
    Scenario("config", (
        Step("new", "config", _s(files=[{"name": "app.conf", "content": "level=info\n"}], restart=False), "changed",
             shapes.CONFIG, {"files": ["app.conf"], "restarted": False}),
        Step("same", "config", _s(files=[{"name": "app.conf", "content": "level=info\n"}], restart=False), "ok",
             shapes.CONFIG, {"restarted": False}),
    )),
    Scenario("secret", (
        Step("new", "secret", _s(values={"API_TOKEN": SECRET_VALUE}, restart=False), "changed", shapes.SECRET,
             {"keys": ["API_TOKEN"], "restarted": False}),
        Step("same", "secret", _s(values={"API_TOKEN": SECRET_VALUE}, restart=False), "ok", shapes.SECRET),
    ), secret=SECRET_VALUE),
    Scenario("certificate-without-issuer", (  # neither a certificate on the host nor cert-manager in the cluster
        Step("c", "certificate", _s(), "ok"),
    ), not_applicable={
        "compose": NotApplicable("failed", r"no certificate at \S+/certs/api\.crt on the host"),
        "kubernetes": NotApplicable("failed", r"is cert-manager installed|the Certificate name is"),
    }),
    Scenario("usage", (
        Step("u", "usage", _s(), "ok", shapes.USAGE),
    )),
    Scenario("upload-and-fetch", (  # binary content (every byte value, NUL included) in, then out again
        Step("up", "upload", _s(src="payload.bin", dest="/tmp/payload.bin"), "changed", shapes.COPY,
             {"sha256": PAYLOAD_SHA, "size": len(PAYLOAD), "files": 1}),
        Step("up_again", "upload", _s(src="payload.bin", dest="/tmp/payload.bin"), "ok", shapes.COPY),
        Step("down", "fetch", _s(src="/tmp/payload.bin", dest="fetched.bin"), "changed", shapes.COPY,
             {"sha256": PAYLOAD_SHA, "files": 1}),
        Step("down_again", "fetch", _s(src="/tmp/payload.bin", dest="fetched.bin"), "ok", shapes.COPY),
        Step("missing", "fetch", _s(src="/tmp/no-such-file", dest="fetched.bin"), "failed"),
        Step("no_folder", "fetch", _s(src="/tmp/payload.bin", dest="no-such-folder/"), "failed"),
    ), files={"payload.bin": PAYLOAD}),
    Scenario("logs", (
        Step("l", "logs", _s(tail=5), "ok", shapes.LOGS),
    )),
    Scenario("exec", (
        Step("ok", "exec", _s(command="echo out; echo err >&2"), "changed", shapes.EXEC,
             {"rc": 0, "stdout_lines": ["out"], "stderr_lines": ["err"]}),
        Step("bad", "exec", _s(command=["sh", "-c", "exit 3"]), "failed", shapes.EXEC, {"rc": 3}),
    ), xfail={"fake": FAKE_EXEC}, agree_xfail={"fake": FAKE_EXEC}),
    # the database verbs, on the `db` service (api has no database in the inventory)
    Scenario("db-check", (
        Step("c", "db_check", _db(), "ok", shapes.DB_CHECK, {"ok": True, "messages": ["ok"], "quick": False,
                                                            "database": "main"}),
        Step("q", "db_check", _db(quick=True), "ok", shapes.DB_CHECK, {"ok": True, "quick": True}),
    )),
    Scenario("db-check-without-database", (  # the message names the inventory key to add
        Step("c", "db_check", _s(), "failed"),
    )),
    Scenario("backup-list-restore", (  # one backup in a fresh store, listed, restored by name, checked
        Step("b", "backup", _db(), "changed", shapes.BACKUP, {"verified": True, "encrypted": False, "deleted": []}),
        Step("l", "backups", _db(), "ok", shapes.BACKUPS, {"count": 1}),
        Step("r", "restore", _db(backup="{{ b.name }}", confirm=False), "changed", shapes.RESTORE),
        Step("after", "db_check", _db(), "ok", shapes.DB_CHECK, {"ok": True}),
        Step("missing", "restore", _db(backup="main-19700101-000000-00000000", confirm=False), "failed"),
    )),
    Scenario("restore-asks-without-terminal", (  # a second backup; confirm (default) with no terminal, no --yes: fails
        Step("b2", "backup", _db(), "changed", shapes.BACKUP),
        Step("l", "backups", _db(), "ok", shapes.BACKUPS, {"count": 2}),
        Step("asked", "restore", _db(latest=True), "failed"),
    )),
    Scenario("exec-in-container", (
        Step("c", "exec", _s(command=["cat", "/www/version"], container="{{ svc }}"), "changed", shapes.EXEC,
             {"stdout_lines": ["v1"]}),
    ), not_applicable={"compose": NotApplicable("failed", r"exec\.container: not supported on Compose")},
        xfail={"fake": FAKE_EXEC}),
)

# The incident verbs (issue 10), each file owned with its verb; they import Step and Scenario from here.
from tests.conformance import scenarios_environment, scenarios_network  # noqa: E402

SCENARIOS = SCENARIOS + scenarios_network.SCENARIOS + scenarios_environment.SCENARIOS
