"""What ajudaplay keeps next to a Compose project: the override file and revisions.

Compose has no rollout history, so each deploy is recorded as a numbered
revision in `<project_dir>/.ajudaplay/revisions.json`. Numbering follows
kubectl: a revision is one image; deploying (or rolling back to) an image that
is already in the history moves it to a new, highest number, so "previous" is
always the second-highest revision, as `kubectl rollout undo` computes it.

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


@dataclass
class Revision:
    """One deployed image of a service, numbered."""

    revision: int
    image: str
    time: str
    run_id: str
    user: str
    cause: str = "deploy"


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
        doc = {"version": 1, "services": {k: [asdict(r) for r in v] for k, v in sorted(self.services.items())}}
        return (json.dumps(doc, indent=2) + "\n").encode()

    def history(self, service: str) -> list[Revision]:
        """Revisions, oldest first."""
        return sorted(self.services.get(service, []), key=lambda r: r.revision)

    def current(self, service: str) -> Revision | None:
        revs = self.history(service)
        return revs[-1] if revs else None

    def previous(self, service: str) -> Revision | None:
        """The second-highest revision (what `kubectl rollout undo` picks)."""
        revs = self.history(service)
        return revs[-2] if len(revs) >= 2 else None

    def find(self, service: str, number: int) -> Revision | None:
        return next((r for r in self.history(service) if r.revision == number), None)

    def record(self, service: str, image: str, run_id: str, user: str, cause: str) -> Revision:
        """Add `image` as the newest revision; an older entry with that image is renumbered away."""
        revs = self.history(service)
        number = (revs[-1].revision + 1) if revs else 1
        kept = [r for r in revs if r.image != image]
        rev = Revision(number, image, now_iso(), run_id, user, cause)
        kept.append(rev)
        self.services[service] = kept[-HISTORY_LIMIT:]
        return rev


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

        try:
            doc = yaml.safe_load(data) or {}
            services = {str(k): dict(v or {}) for k, v in (doc.get("services") or {}).items()}
        except (yaml.YAMLError, AttributeError, TypeError, ValueError) as exc:
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
