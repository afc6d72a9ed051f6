"""Backup stores: where packed backups and their manifests are kept, listed and pruned.

Three kinds, chosen per inventory (`backup_store:`, a target may override it):

  {type: controller, path: DIR}     a folder on the controller (the default: $AJUDAPLAY_BACKUPS or
                                    ~/.local/share/ajudaplay/backups; relative to the inventory file)
  {type: host, path: /var/backups}  a folder on a Compose target's host, through its HostConnection
  {type: s3, bucket, prefix, ...}   S3-compatible object storage through boto3 (s3_store.py)

Every store has the same layout, so a backup can be moved between them by hand:

    <folder or prefix>/<environment>/<target>/<service>/<database>/<name>.db.gz[.enc]
                                                                  /<name>.json   (the Manifest)

The manifest is written after the data, and deleted before it: a backup
without a manifest is unfinished (or half deleted) and is never listed,
restored or counted by retention. Everything read back from a store is data:
a manifest is listed only when its name and fields match the place it was
found in, so a crafted manifest cannot point a fetch or a delete elsewhere.

This module holds what all stores share (the protocol, the layout, listing
order, retention and `open_store`); folder_stores.py and s3_store.py hold
the kinds.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol

from ajudaplay.database.model import Manifest
from ajudaplay.errors import TargetError

if TYPE_CHECKING:
    from ajudaplay.database.transfer import Writable
    from ajudaplay.hosts.base import HostConnection

__all__ = [
    "BackupPlace", "Store", "StoreError", "age_seconds", "already_stored", "backup_name", "created_at", "data_file",
    "default_folder", "list_prefix", "listing_entry", "manifest_file", "manifests_in", "newest_first", "open_store",
    "superseded", "utc_stamp",
]

STORE_TYPES = ("controller", "host", "s3")
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # one path segment: no "/", no "..", no hidden file
_S3_KEYS = {"type", "bucket", "prefix", "endpoint_url", "region", "access_key_id", "secret_access_key"}
_FOLDER_KEYS = {"type", "path"}


class StoreError(TargetError):
    """A backup store cannot be opened, read or written; the message names the store and how to fix it."""


class Store(Protocol):
    """A place for packed backups (see the module docstring)."""

    description: str  # "controller folder /x", "folder /var/backups on host deploy@h", "s3://bucket/prefix"

    def scratch_dir(self) -> Path | None:
        """A controller folder for temp files that `put` can take without a copy, or None (use tempfile)."""
        ...

    def put(self, manifest: Manifest, packed_path: Path, *, cancel: threading.Event | None = None) -> None:
        """Store the packed file, then its manifest (only then is the backup listed). Interrupted when
        `cancel` is set on the way (the backup is then not listed)."""
        ...

    def fetch_to(self, manifest: Manifest, dest_path: Path, *, cancel: threading.Event | None = None) -> None:
        """Stream the stored object to `dest_path` (0600); CorruptBackup unless its size and sha256 are
        the manifest's stored_size and stored_sha256, Interrupted when `cancel` is set (dest_path is
        removed in both cases)."""
        ...

    def fetch_into(self, manifest: Manifest, sink: Writable, *, cancel: threading.Event | None = None) -> None:
        """Stream the stored object into `sink` (a file, an archive.Unpacker: unpack while it downloads), then
        CorruptBackup unless it was the manifest's stored_size and stored_sha256 bytes: whatever `sink`
        received is trusted only when this returns."""
        ...

    def list(self, environment: str, target: str | None = None, service: str | None = None,
             database: str | None = None) -> list[Manifest]:
        """The finished backups of an environment (optionally narrowed), newest first."""
        ...

    def delete(self, manifest: Manifest) -> None:
        """Remove a backup: its manifest first (it stops being listed), then its data."""
        ...


# -- layout ------------------------------------------------------------------------------------------------


def utc_stamp(when: datetime) -> str:
    """The manifest's `created`: UTC, ISO 8601, second precision, with "Z"."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def created_at(manifest: Manifest) -> datetime:
    """The manifest's `created` as an aware UTC datetime."""
    when = datetime.fromisoformat(manifest.created.replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def age_seconds(manifest: Manifest, now: datetime) -> float:
    """How old a backup is at `now` (an aware datetime), in seconds."""
    return (now - created_at(manifest)).total_seconds()


def backup_name(database: str, when: datetime, run_id: str) -> str:
    """`<database>-<YYYYmmdd-HHMMSS>-<run id first 8>` (UTC): what `-e backup=NAME` names."""
    stamp = when.astimezone(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run = re.sub(r"[^A-Za-z0-9]", "", run_id)[:8] or "run"
    return f"{database}-{stamp}-{run}"


def _segment(value: str, what: str) -> str:
    if not _SEGMENT.match(value):
        raise StoreError(f"{what} {value!r} cannot name a folder in a backup store (letters, digits, '_', '.', '-', "
                         "not starting with '.' or '-'); rename it in the inventory")
    return value


@dataclass(frozen=True)
class BackupPlace:
    """The folder (relative to the store's root) of one target/service/database's backups."""

    environment: str
    target: str
    service: str
    database: str

    @classmethod
    def of(cls, manifest: Manifest) -> BackupPlace:
        return cls(manifest.environment, manifest.target, manifest.service, manifest.database)

    def parts(self) -> list[str]:
        return [_segment(self.environment, "environment"), _segment(self.target, "target"),
                _segment(self.service, "service"), _segment(self.database, "database")]

    def folder(self) -> str:
        return "/".join(self.parts())


def data_file(manifest: Manifest) -> str:
    """The data object's path relative to the store's root."""
    suffix = ".db.gz.enc" if manifest.encrypted else ".db.gz"
    return f"{BackupPlace.of(manifest).folder()}/{_segment(manifest.name, 'backup')}{suffix}"


def manifest_file(manifest: Manifest) -> str:
    """The manifest's path relative to the store's root."""
    return f"{BackupPlace.of(manifest).folder()}/{_segment(manifest.name, 'backup')}.json"


def already_stored(manifest: Manifest, where: str) -> str:
    """The refusal to overwrite a kept backup (two backups of one database in one second of one run)."""
    return (f"{where} already holds a backup named {manifest.name}: not replaced (one backup per database per "
            "second and run; take the next one a second later)")


def list_prefix(environment: str, target: str | None, service: str | None, database: str | None) -> str:
    """The deepest folder (relative to the root) that holds every backup a listing asks for."""
    parts = [_segment(environment, "environment")]
    for value, what in ((target, "target"), (service, "service"), (database, "database")):
        if value is None:
            break
        parts.append(_segment(value, what))
    return "/".join(parts)


def manifests_in(files: Iterable[str], read: Callable[[str], bytes | None], *, environment: str,
                 target: str | None = None, service: str | None = None,
                 database: str | None = None) -> list[Manifest]:
    """The finished backups among a store's `files` (paths relative to its root), newest first.

    A manifest counts only when it parses, its fields name the folder it is
    in and its own file name, and its data file is there too; everything else
    (unfinished uploads, half-deleted backups, stray or crafted files) is
    skipped. `read` returns a manifest file's bytes, None when it vanished.
    """
    present = set(files)
    wanted = {"environment": environment, "target": target, "service": service, "database": database}
    found: list[Manifest] = []
    for path in sorted(present):
        if not path.endswith(".json"):
            continue
        raw = read(path)
        if raw is None:
            continue
        try:
            manifest = Manifest.from_json(raw.decode("utf-8"))
            created_at(manifest)
            if manifest_file(manifest) != path or data_file(manifest) not in present:
                continue
        except (ValueError, TypeError, AttributeError, StoreError):
            continue
        if all(value is None or getattr(manifest, key) == value for key, value in wanted.items()):
            found.append(manifest)
    return newest_first(found)


def listing_entry(manifest: Manifest, store: str, now: datetime) -> dict[str, Any]:
    """One backup as listings show it (`ajudaplay backups --output json`, the `backups` action): the
    manifest's fields, its age in seconds at `now`, and the store's description."""
    return {**asdict(manifest), "age_seconds": round(age_seconds(manifest, now), 1), "store": store}


def newest_first(manifests: Iterable[Manifest]) -> list[Manifest]:
    """Newest first by `created`, then by name (two backups in one second keep one order)."""
    return sorted(manifests, key=lambda m: (created_at(m), m.name), reverse=True)


# -- retention ---------------------------------------------------------------------------------------------


def superseded(manifests: Iterable[Manifest], keep_last: int | None, keep_days: float | None,
               now: datetime) -> list[Manifest]:
    """The backups retention deletes, oldest first; pure (nothing is deleted here).

    Per target/service/database, newest first: a backup is a candidate when
    `keep_last` newer backups exist before it, or when it is older than
    `keep_days` days (either rule suffices; neither given: nothing). Only
    candidates older than the newest verified backup are deleted: that one is
    always kept, and so is every backup newer than it (no verified backup
    supersedes those yet). So a run of failed or unverified backups never
    deletes the last good one.
    """
    if keep_last is not None and keep_last < 1:
        raise ValueError(f"keep_last must be 1 or more, not {keep_last}")
    if keep_days is not None and keep_days < 0:
        raise ValueError(f"keep_days must be 0 or more, not {keep_days}")
    if keep_last is None and keep_days is None:
        return []
    groups: dict[BackupPlace, list[Manifest]] = {}
    for manifest in manifests:
        groups.setdefault(BackupPlace.of(manifest), []).append(manifest)
    doomed: list[Manifest] = []
    for group in groups.values():
        ordered = newest_first(group)
        newest_verified = next((i for i, m in enumerate(ordered) if m.verified), None)
        if newest_verified is None:
            continue
        for rank, manifest in enumerate(ordered):
            if rank <= newest_verified:
                continue
            too_many = keep_last is not None and rank >= keep_last
            too_old = keep_days is not None and now - created_at(manifest) > timedelta(days=keep_days)
            if too_many or too_old:
                doomed.append(manifest)
    return list(reversed(newest_first(doomed)))


# -- opening a store ---------------------------------------------------------------------------------------


def default_folder() -> Path:
    """The controller folder used when the inventory names no store."""
    configured = os.environ.get("AJUDAPLAY_BACKUPS")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".local" / "share" / "ajudaplay" / "backups"


def open_store(spec: Mapping[str, Any] | None, *, inventory_dir: Path, host: HostConnection | None,
               target: str | None = None) -> Store:
    """The store a (rendered) `backup_store` mapping names; None: the default controller folder.

    `host` is the target's host connection (a Compose target's), needed by
    `type: host`; `target` names the target in messages. Raises StoreError for
    a mapping that names no usable store. Opening connects to nothing: the
    first put/list/fetch does.
    """
    from ajudaplay.database.folder_stores import ControllerFolder, HostFolder

    where = f"target {target!r}: backup_store" if target else "backup_store"
    if spec is None:
        return ControllerFolder(default_folder())
    if not isinstance(spec, Mapping):
        raise StoreError(f"{where} must be a mapping like {{type: controller, path: backups}}, not {spec!r}")
    kind = spec.get("type", "controller")
    if kind not in STORE_TYPES:
        raise StoreError(f"{where}: unknown type {kind!r} (use one of: {', '.join(STORE_TYPES)})")
    allowed = _S3_KEYS if kind == "s3" else _FOLDER_KEYS
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise StoreError(f"{where}: unknown key(s) {', '.join(unknown)} for type {kind} "
                         f"(it takes: {', '.join(sorted(allowed))})")
    if kind == "s3":
        return _s3(spec, where)
    path = spec.get("path")
    if kind == "controller":
        if path is None:
            return ControllerFolder(default_folder())
        if not isinstance(path, str) or not path:
            raise StoreError(f"{where}: path must be a folder name, not {path!r}")
        folder = Path(path).expanduser()
        return ControllerFolder(folder if folder.is_absolute() else inventory_dir / folder)
    if not isinstance(path, str) or not path.startswith("/"):
        raise StoreError(f"{where}: type host needs an absolute path on the host (e.g. path: /var/backups/ajudaplay), "
                         f"not {path!r}")
    if host is None:
        raise StoreError(f"{where}: type host keeps backups in a folder on a Compose target's host, and this target "
                         "has no host connection (on Kubernetes use type controller or s3)")
    return HostFolder(host, path)


def _s3(spec: Mapping[str, Any], where: str) -> Store:
    from ajudaplay.database.s3_store import S3Store

    def text(key: str, required: bool = False) -> str | None:
        value = spec.get(key)
        if value is None or value == "":
            if required:
                raise StoreError(f"{where}: type s3 needs `{key}`")
            return None
        if not isinstance(value, str):
            raise StoreError(f"{where}: `{key}` must be a string")
        return value

    bucket = text("bucket", required=True)
    assert bucket is not None
    key_id, secret = text("access_key_id"), text("secret_access_key")
    if (key_id is None) != (secret is None):
        raise StoreError(f"{where}: give both access_key_id and secret_access_key, or neither "
                         "(then boto3's chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, an instance role)")
    return S3Store(bucket=bucket, prefix=text("prefix") or "", endpoint_url=text("endpoint_url"),
                   region=text("region"), access_key_id=key_id, secret_access_key=secret)
