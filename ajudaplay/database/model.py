"""The data the database verbs share: where a database is, and what a backup says about itself."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DatabaseSpec:
    """One SQLite database of a service, from the inventory's `services.<svc>.database`."""

    service: str  # the playbook's service name
    name: str  # "main" for the single-database form `database: {path: ...}`, else the key
    path: str  # absolute path inside the service's container


@dataclass(frozen=True)
class Manifest:
    """What a stored backup says about itself; written beside it (`<name>.json`) after the data, so a
    backup without a manifest is an unfinished one and is never listed or restored."""

    name: str  # "<database>-<YYYYmmdd-HHMMSS>-<run id 8>": what `-e backup=NAME` names
    environment: str  # the inventory's name
    target: str
    service: str
    database: str
    path: str  # the database's path in the service
    created: str  # UTC, ISO 8601 with "Z", second precision: when the snapshot was taken
    size: int  # bytes of the SQLite file (uncompressed, unencrypted)
    sha256: str  # of the SQLite file
    stored_size: int  # bytes of the stored object
    stored_sha256: str  # of the stored object (what a restore checks first)
    encrypted: bool
    verified: bool  # integrity_check of the snapshot said "ok" before it was kept
    run_id: str
    revision: int | None = None  # the service's revision when the backup was taken
    image: str | None = None
    compression: str = "gzip"
    key_id: str | None = None  # first 8 hex of sha256(key) when encrypted: names the key, never reveals it

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
