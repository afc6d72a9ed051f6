"""What each service verb answers, as types: one outcome class per verb, the same on every mode.

Targets (Compose, Kubernetes, fake) return these instead of loose dicts, so
the modes cannot drift apart in what a playbook registers: the typed fields
are the keys every mode registers, with the same types. What only one mode
knows (Kubernetes `deployment`, `pods`, `conditions`; Compose `containers`,
`not_committed`) goes in `extra` and is documented per mode
(docs/actions-service.md, "Registered data"; tests/test_outcomes_docs.py
checks that table against these fields). `to_result` is the one place that
turns an outcome into the engine's Result (flags, message, changes, revisions,
registered data); the engine's events are made from that Result.

A core module: it imports only other core modules (results, logpatterns), so every layer can use it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Mapping, Self, TypeVar

from ajudaplay import logpatterns
from ajudaplay.results import Change as Change  # re-exported: outcomes are made of them
from ajudaplay.results import Result as Result
from ajudaplay.results import RevisionChange as RevisionChange

# Seconds deploy, rollback, restart, scale, config and secret wait for the service to be healthy
# when the step gives no `timeout` (both modes; the schemas' "default" says the same).
DEFAULT_WAIT = 120.0


O = TypeVar("O", bound="Outcome")


@dataclass
class VerbResult(Result, Generic[O]):
    """A service verb's Result, typed by its outcome: what the target protocols return."""

    outcome: O | None = None


@dataclass(frozen=True)
class Replicas:
    """Replica counts: wanted, existing, ready, available (Compose: ready = available = healthy)."""

    desired: int
    current: int
    ready: int
    available: int

    @classmethod
    def same(cls, count: int) -> Replicas:
        return cls(count, count, count, count)


def _plain(value: Any) -> Any:
    """Registered data is plain JSON-like data: nested outcome types become dicts."""
    if isinstance(value, Replicas):
        return dataclasses.asdict(value)
    if isinstance(value, Revision):
        return value.as_data()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What every verb answers besides its data: the engine's Result fields."""

    changed: bool = False
    failed: bool = False
    skipped: bool = False
    msg: str = ""
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    moved: list[RevisionChange] = field(default_factory=list)  # Result.revisions: journaled revision moves
    rolled_back: bool = False  # an atomic deploy failed and was undone
    extra: Mapping[str, Any] = field(default_factory=dict)  # mode-specific registered keys

    VERB: ClassVar[str] = ""
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()  # registered only when not None

    @classmethod
    def registered_keys(cls) -> list[str]:
        """The keys every mode registers for this verb (the typed fields), in declaration order."""
        common = {f.name for f in dataclasses.fields(Outcome)}
        return [f.name for f in dataclasses.fields(cls) if f.name not in common]

    @property
    def data(self) -> dict[str, Any]:
        """What `register:` stores: the typed keys, then the mode's extras (never overriding a typed key)."""
        out: dict[str, Any] = {}
        for name in self.registered_keys():
            value = getattr(self, name)
            if value is None and name in self.OPTIONAL:
                continue
            out[name] = _plain(value)
        out.update({k: _plain(v) for k, v in self.extra.items() if k not in out})
        return out

    @classmethod
    def of(cls, data: Mapping[str, Any], **common: Any) -> Self:
        """An outcome from a mode's data dict: the verb's keys typed, the rest as `extra`; a missing key is a TypeError."""
        keys = set(cls.registered_keys())
        typed = {k: v for k, v in data.items() if k in keys}
        extra = {k: v for k, v in data.items() if k not in keys}
        return cls(**typed, extra=extra, **common)

    @classmethod
    def gathered(cls, result: Result, **data: Any) -> Self:
        """An outcome from a Result a mode filled in step by step (its data plus `data`)."""
        return cls.of({**result.data, **data}, changed=result.changed, failed=result.failed, skipped=result.skipped,
                      msg=result.msg, changes=list(result.changes), warnings=list(result.warnings),
                      moved=list(result.revisions), rolled_back=result.rolled_back)

    def common(self) -> dict[str, Any]:
        """The fields every verb shares, to carry them over into another verb's outcome."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(Outcome)}

    def but(self, **changes: Any) -> Self:
        """A copy with some fields replaced (outcomes are frozen)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class DeployOutcome(Outcome):
    VERB: ClassVar[str] = "deploy"
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"rolled_back_to"})
    service: str
    image: str | None
    revision: int | None
    replicas: Replicas
    rolled_back_to: int | None = None  # an atomic deploy was undone to this revision


@dataclass(frozen=True, kw_only=True)
class RollbackOutcome(Outcome):
    VERB: ClassVar[str] = "rollback"
    service: str
    image: str | None
    to_revision: int | None  # the revision whose image was put back
    revision: int | None  # the service's revision now (a new number, or the same on a no-op)


@dataclass(frozen=True)
class Revision:
    """One line of a service's history. `user`/`run_id`: who deployed it; None when made outside ajudaplay."""

    revision: int
    image: str | None
    time: str | None
    user: str | None
    run_id: str | None
    cause: str | None
    current: bool
    extra: Mapping[str, Any] = field(default_factory=dict)

    KEYS: ClassVar[tuple[str, ...]] = ("revision", "image", "time", "user", "run_id", "cause", "current")

    def as_data(self) -> dict[str, Any]:
        out = {key: getattr(self, key) for key in self.KEYS}
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out


@dataclass(frozen=True, kw_only=True)
class RevisionList(Outcome):
    VERB: ClassVar[str] = "history"
    service: str
    revisions: list[Revision]
    current: int | None  # the number of the revision that runs


@dataclass(frozen=True, kw_only=True)
class ScaleOutcome(Outcome):
    VERB: ClassVar[str] = "scale"
    service: str
    replicas: Replicas


@dataclass(frozen=True, kw_only=True)
class RestartOutcome(Outcome):
    VERB: ClassVar[str] = "restart"
    service: str
    image: str | None
    revision: int | None
    replicas: Replicas


@dataclass(frozen=True, kw_only=True)
class ServiceStatus(Outcome):
    VERB: ClassVar[str] = "status"
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"containers", "pods"})
    service: str
    image: str | None
    revision: int | None
    healthy: bool
    replicas: Replicas
    restarts: int
    why: list[dict[str, Any]]  # why it will not start (targets/problems.py: the same entry keys on both modes)
    containers: list[dict[str, Any]] | None = None  # Compose
    pods: list[dict[str, Any]] | None = None  # Kubernetes


@dataclass(frozen=True, kw_only=True)
class ConfigOutcome(Outcome):
    VERB: ClassVar[str] = "config"
    service: str
    files: list[str]  # the file names (ConfigMap keys) now installed
    restarted: bool


@dataclass(frozen=True, kw_only=True)
class SecretOutcome(Outcome):
    VERB: ClassVar[str] = "secret"
    service: str
    keys: list[str]  # names only: values never leave the target
    restarted: bool


@dataclass(frozen=True, kw_only=True)
class CertificateOutcome(Outcome):
    VERB: ClassVar[str] = "certificate"
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"path", "name"})
    path: str | None = None  # Compose: the certificate file
    name: str | None = None  # Kubernetes: the Certificate or TLS Secret
    not_after: str | None = None
    days_left: int | None = None
    expired: bool | None = None
    subject: str | None = None
    serial: str | None = None


@dataclass(frozen=True, kw_only=True)
class LogLines(Outcome):
    """Log lines of every pod/container, and (computed from them, so every mode has them) the counts
    per source and per message pattern that triage reads (ajudaplay/logpatterns.py)."""

    VERB: ClassVar[str] = "logs"
    service: str
    lines: list[str]  # each prefixed with its pod's (Compose: container's) name
    count: int
    previous: bool = False  # the last terminated container's lines (kubectl logs --previous)
    sources: dict[str, int] = field(init=False)  # {pod/container: lines}, most first
    patterns: list[dict[str, Any]] = field(init=False)  # top 10 [{pattern, count, example}]

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", logpatterns.sources(self.lines))
        object.__setattr__(self, "patterns", logpatterns.patterns(self.lines))


@dataclass(frozen=True, kw_only=True)
class FetchOutcome(Outcome):
    VERB: ClassVar[str] = "fetch"
    src: str
    dest: str
    size: int  # bytes of file content
    sha256: str  # of the content (one file: its own; a folder: of its manifest)
    files: int
    where: str  # the pod or container it came from


@dataclass(frozen=True, kw_only=True)
class UploadOutcome(FetchOutcome):
    VERB: ClassVar[str] = "upload"


@dataclass(frozen=True, kw_only=True)
class UsageOutcome(Outcome):
    VERB: ClassVar[str] = "usage"
    service: str
    pods: list[dict[str, Any]]  # one row per container (targets/usage.py: the same keys on both modes)
    totals: dict[str, Any]
    missing: list[str]  # containers with no numbers (yet)
    source: str  # where the numbers came from (metrics.k8s.io, the kubelet's summary, docker stats)


@dataclass(frozen=True, kw_only=True)
class ExecOutcome(Outcome):
    VERB: ClassVar[str] = "exec"
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"pod", "container", "pods"})
    rc: int | None  # None: skipped in check mode
    stdout: str
    stderr: str
    stdout_lines: list[str]
    stderr_lines: list[str]
    cmd: str
    pod: str | None = None  # Kubernetes
    container: str | None = None  # Kubernetes
    pods: list[dict[str, Any]] | None = None  # Kubernetes `pod: all`: one entry per pod


@dataclass(frozen=True, kw_only=True)
class DbCheckOutcome(Outcome):
    VERB: ClassVar[str] = "db_check"
    ok: bool  # the PRAGMA answered exactly "ok"
    messages: list[str]  # its lines ("ok", or what SQLite found wrong)
    quick: bool  # quick_check instead of integrity_check
    service: str
    database: str  # the inventory's name for it ("main" for the single form)
    path: str
    where: str  # the pod/container it ran in


@dataclass(frozen=True, kw_only=True)
class BackupOutcome(Outcome):
    """A kept backup: its manifest's fields (ajudaplay/database/model.py), the store, what retention deleted.
    In check mode only the names are known: the sizes and checksums are None."""

    VERB: ClassVar[str] = "backup"
    name: str
    environment: str
    target: str
    service: str
    database: str
    path: str
    created: str
    size: int | None
    sha256: str | None
    stored_size: int | None
    stored_sha256: str | None
    encrypted: bool
    verified: bool
    run_id: str
    revision: int | None
    image: str | None
    store: str  # the store's description (never its credentials)
    deleted: list[str]  # backups retention removed (check mode: would remove)
    where: str  # the pod/container the snapshot was taken in


@dataclass(frozen=True, kw_only=True)
class RestoreOutcome(Outcome):
    VERB: ClassVar[str] = "restore"
    backup: str  # the restored backup's name
    created: str  # when it was taken
    service: str
    database: str
    path: str
    store: str
    kept: str | None  # where the database it replaced now is (corrupted-YYYYmmdd-HHMMSS.db); None: there was none
    before_sha256: str | None  # of the database it replaced
    after_sha256: str | None  # of the database now in place (the backup's sha256)
    confirmed_by: str | None  # who said yes (None: confirm: false, or check mode)
    timings: dict[str, float]  # seconds per phase: verify, stopped (service down), total
    where: str  # the short-lived container the file work ran in


@dataclass(frozen=True, kw_only=True)
class BackupList(Outcome):
    VERB: ClassVar[str] = "backups"
    service: str
    database: str | None  # None: every database of the service
    store: str
    backups: list[dict[str, Any]]  # newest first: each a manifest's fields, `age_seconds` and `store`
    count: int


# The incident verbs (issue 10): what a service answers to on-call questions, the same on every mode.
@dataclass(frozen=True, kw_only=True)
class EndpointsOutcome(Outcome):
    """Where the service can be reached: Kubernetes Service endpoints and Ingress hosts; Compose published ports."""

    VERB: ClassVar[str] = "endpoints"
    service: str
    ready: list[dict[str, Any]]  # {"address", "port", "protocol", "where"}: a pod (container) that takes traffic
    not_ready: list[dict[str, Any]]  # the same keys: present but not taking traffic (failing readiness, unhealthy)
    ports: list[dict[str, Any]]  # {"name", "port", "target_port", "protocol", "published": ["ip:port", ...]}: what it exposes
    internal_urls: list[str]  # URLs other services use (Kubernetes Service DNS name; Compose service name)
    hosts: list[str]  # public host names: Kubernetes Ingress rules for the Service + the inventory's `hosts:` (Compose: only those)


@dataclass(frozen=True, kw_only=True)
class EnvironmentOutcome(Outcome):
    """The environment a service's containers get, by name only: values never leave the target."""

    VERB: ClassVar[str] = "environment"
    service: str
    names: list[str]  # variable names set in the container spec (sorted)
    expected: list[str]  # the inventory's `services.<svc>.env` list
    missing: list[str]  # expected but not set, or set from a Secret/ConfigMap key that does not exist
    refs: list[dict[str, Any]]  # {"name", "kind" (Secret|ConfigMap|env_file), "source", "key", "present"}
    # the container's limits, to read a last termination (OOMKilled) against: {"memory_bytes", "cpu_millicores"}
    # (None where there is none); from the pod template (Kubernetes), the newest container's HostConfig (Compose)
    limits: dict[str, Any] = field(default_factory=lambda: {"memory_bytes": None, "cpu_millicores": None})


def to_result(outcome: O) -> VerbResult[O]:
    """The one place an outcome becomes the engine's Result: its flags, message, changes and registered data."""
    return VerbResult(
        changed=outcome.changed, failed=outcome.failed, skipped=outcome.skipped, msg=outcome.msg,
        changes=list(outcome.changes), data=outcome.data, warnings=list(outcome.warnings),
        revisions=list(outcome.moved), rolled_back=outcome.rolled_back, outcome=outcome,
    )


VERBS: tuple[type[Outcome], ...] = (
    DeployOutcome, RollbackOutcome, RevisionList, ScaleOutcome, RestartOutcome, ServiceStatus,
    ConfigOutcome, SecretOutcome, CertificateOutcome, LogLines, FetchOutcome, UploadOutcome, UsageOutcome, ExecOutcome,
)

# The database verbs (ajudaplay/actions/database.py; documented in docs/actions-database.md).
DATABASE_VERBS: tuple[type[Outcome], ...] = (DbCheckOutcome, BackupOutcome, RestoreOutcome, BackupList)

# The incident verbs (docs/actions-network.md: endpoints; docs/actions-incident.md: environment).
INCIDENT_VERBS: tuple[type[Outcome], ...] = (EndpointsOutcome, EnvironmentOutcome)
