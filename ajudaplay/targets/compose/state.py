"""What ajudaplay keeps next to a Compose project: the override file and revisions.

Compose has no rollout history, so each deploy is recorded as a numbered
revision in `<project_dir>/.ajudaplay/revisions.json`. Numbering follows
kubectl: a revision is one image; deploying (or rolling back to) an image that
is already in the history moves it to a new, highest number, so "previous" is
always the second-highest revision, as `kubectl rollout undo` computes it.

A deploy writes its intent first (a `pending` revision), then acts, then
`commit`s it or marks it `aborted`: a run that dies in between leaves a
pending entry that the next action resolves from what runs (reconcile.py).
Only committed revisions are history; aborted ones stay visible until the
next commit.

The image is set through `<project_dir>/.ajudaplay/override.yml`, passed to
Compose with `-f` after the user's files: the user's compose file is never
rewritten.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ajudaplay.errors import TargetError

HISTORY_LIMIT = 10  # like a Deployment's revisionHistoryLimit default
PENDING, COMMITTED, ABORTED = "pending", "committed", "aborted"


@dataclass
class Revision:
    """One deployed image of a service, numbered."""

    revision: int
    image: str
    time: str
    run_id: str
    user: str
    cause: str = "deploy"
    status: str = COMMITTED  # pending | committed | aborted (older files: committed)
    config: str = ""  # Compose's config-hash label of the containers when committed ("" = unknown)
    note: str = ""  # why it was aborted, or how the record was resolved


@dataclass
class RevisionStore:
    """The per-service revision history (the JSON document on the host)."""

    services: dict[str, list[Revision]] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes | None, where: str) -> RevisionStore:
        if not data:
            return cls()
        try:
            doc = json.loads(data)
            return cls(
                {name: [Revision(**r) for r in revs] for name, revs in doc.get("services", {}).items()}
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise TargetError(
                f"{where}: revision history is corrupt ({exc}); move it aside to start a new history"
            ) from exc

    def dump(self) -> bytes:
        doc = {"version": 2, "services": {k: [asdict(r) for r in v] for k, v in sorted(self.services.items())}}
        return (json.dumps(doc, indent=2) + "\n").encode()

    def entries(self, service: str) -> list[Revision]:
        """Every entry (committed, pending, aborted), oldest first."""
        return sorted(self.services.get(service, []), key=lambda r: r.revision)

    def history(self, service: str) -> list[Revision]:
        """Committed revisions, oldest first: what rollback can return to."""
        return [r for r in self.entries(service) if r.status == COMMITTED]

    def current(self, service: str) -> Revision | None:
        revs = self.history(service)
        return revs[-1] if revs else None

    def previous(self, service: str) -> Revision | None:
        """The second-highest revision (what `kubectl rollout undo` picks)."""
        revs = self.history(service)
        return revs[-2] if len(revs) >= 2 else None

    def pending(self, service: str) -> Revision | None:
        return next((r for r in reversed(self.entries(service)) if r.status == PENDING), None)

    def find(self, service: str, number: int) -> Revision | None:
        return next((r for r in self.history(service) if r.revision == number), None)

    def begin(self, service: str, image: str, run_id: str, user: str, cause: str) -> Revision:
        """Record the intent to run `image` as a pending revision (an older pending one is superseded)."""
        revs = self.entries(service)
        for old in revs:
            if old.status == PENDING:
                old.status, old.note = ABORTED, f"superseded by run {run_id}"
        rev = Revision((revs[-1].revision + 1) if revs else 1, image, now_iso(), run_id, user, cause, PENDING)
        self.services[service] = [*revs, rev]
        return rev

    def commit(self, service: str, rev: Revision, cause: str | None = None, config: str = "", note: str = "") -> Revision:
        """`rev` is what runs now; returns the current revision (the old one when the image did not change)."""
        current = self.current(service)
        if current is not None and current.image == rev.image:
            self.services[service] = [r for r in self.entries(service) if r is not rev]
            current.config = config or current.config
            return current
        rev.status, rev.cause, rev.config, rev.note = COMMITTED, cause or rev.cause, config, note
        revs = [r for r in self.entries(service) if r is rev or not (r.status == COMMITTED and r.image == rev.image)]
        committed = [r for r in revs if r.status == COMMITTED][-HISTORY_LIMIT:]
        later = [r for r in revs if r.status != COMMITTED and r.revision > rev.revision]  # failures since
        self.services[service] = sorted([*committed, *later], key=lambda r: r.revision)
        return rev

    def abort(self, rev: Revision, note: str) -> None:
        rev.status, rev.note = ABORTED, note[:500]

    def record(self, service: str, image: str, run_id: str, user: str, cause: str, config: str = "") -> Revision:
        """Add `image` as the newest committed revision; an older entry with that image is renumbered away."""
        revs = self.entries(service)
        rev = Revision((revs[-1].revision + 1) if revs else 1, image, now_iso(), run_id, user, cause, PENDING)
        self.services[service] = [*revs, rev]
        return self.commit(service, rev, config=config)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Override:
    """The Compose override ajudaplay owns: per service image and env files."""

    version: str | None = None  # mirrors the user's file: Compose v1 refuses mixed versions
    services: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes | None, where: str) -> Override:
        if not data:
            return cls()
        import yaml

        from ajudaplay.errors import InvalidInput
        from ajudaplay.yamlmarks import safe_load

        try:
            doc = safe_load(data.decode("utf-8", "replace"), where) or {}  # alias-bounded, like every YAML we read
            services = {str(k): dict(v or {}) for k, v in (doc.get("services") or {}).items()}
        except (yaml.YAMLError, InvalidInput, AttributeError, TypeError, ValueError) as exc:
            raise TargetError(f"{where}: override file is not valid YAML ({exc}); remove it and deploy again") from exc
        version = doc.get("version")
        return cls(str(version) if version is not None else None, services)

    def dump(self) -> bytes:
        import yaml

        doc: dict[str, Any] = {}
        if self.version:
            doc["version"] = self.version
        doc["services"] = {k: v for k, v in sorted(self.services.items()) if v}
        header = "# Managed by ajudaplay: images deployed and env files. Do not edit; see docs/compose.md.\n"
        return (header + yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)).encode()

    def image(self, service: str) -> str | None:
        value = self.services.get(service, {}).get("image")
        return str(value) if value else None

    def with_image(self, service: str, image: str) -> Override:
        services = {k: dict(v) for k, v in self.services.items()}
        services.setdefault(service, {})["image"] = image
        return Override(self.version, services)

    def without_image(self, service: str) -> Override:
        """The service's image back to the compose file's own."""
        services = {k: dict(v) for k, v in self.services.items()}
        services.get(service, {}).pop("image", None)
        return Override(self.version, services)

    def with_env_file(self, service: str, path: str) -> Override:
        services = {k: dict(v) for k, v in self.services.items()}
        entry = services.setdefault(service, {})
        files = list(entry.get("env_file") or [])
        if path not in files:
            files.append(path)
        entry["env_file"] = files
        return Override(self.version, services)


def compose_version(data: bytes | None) -> str | None:
    """The `version:` of the user's first compose file, so the override can match it."""
    if not data:
        return None
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("version:"):
            value = line.split(":", 1)[1].split("#", 1)[0].strip().strip("'\"")
            return value or None
    return None
