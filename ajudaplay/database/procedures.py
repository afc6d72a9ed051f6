"""db_check, backup, restore and the backup list, as procedures over a ServiceData target and a Store.

Mode-agnostic: the target gives a Workspace (a running container, or while
the service is stopped a short-lived one on its volumes); everything else
happens on the controller, in a private scratch folder (0700, removed on
every exit):

  backup   VACUUM INTO a snapshot beside the live database (consistent while the service
           writes) -> stream it to the controller (sha256 compared) -> integrity_check there ->
           gzip (+ AES-256-GCM) -> store, manifest last -> retention
  restore  choose (name | latest | newest at or before a time) -> fetch (stored sha256) ->
           decrypt, gunzip (size, sha256) -> integrity_check, all BEFORE the service is touched ->
           confirm -> offline: keep the live file as corrupted-<UTC>.db, stream the backup to a
           temporary name, integrity_check it there, rename -> the service starts again

A failure inside the offline part puts the moved-aside file back before the
service starts again, so the service comes back with the database it had; a
Ctrl-C does not stop that putting back (the workspace gets a cancel event
that follows the step's except while it runs).
"""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator, cast

from ajudaplay.database.model import DatabaseSpec, Manifest
from ajudaplay.database.sqlite import SqlTool, check_local_file, snapshot_name
from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.outcomes import BackupList, BackupOutcome, Change, DbCheckOutcome, RestoreOutcome

if TYPE_CHECKING:
    from ajudaplay.database.archive import Packer, Unpacker
    from ajudaplay.database.stores import Store
    from ajudaplay.targets.base import ServiceData, StepContext
    from ajudaplay.targets.workspace import Workspace

__all__ = ["Choice", "Place", "backup", "choose", "db_check", "list_backups", "parse_before", "restore"]

METER_EVERY = 5.0  # seconds between two progress lines of one copy
MB = 1 << 20
_SIDE_FILES = ("", "-wal", "-shm", "-journal")  # a database and what SQLite keeps beside it


@dataclass(frozen=True)
class Place:
    """Whose database: the inventory's environment, the target, and the database spec."""

    environment: str
    target: str
    db: DatabaseSpec


@dataclass(frozen=True)
class Choice:
    """Which backup a restore takes: by name, the newest at or before a time, else the latest."""

    name: str | None = None
    before: datetime | None = None  # aware (UTC when written without an offset)

    def describe(self) -> str:
        if self.name:
            return f"backup {self.name}"
        if self.before:
            return f"the newest backup taken at or before {self.before.strftime('%Y-%m-%d %H:%M:%S UTC')}"
        return "the latest backup"


def parse_before(text: str) -> datetime:
    """`before:` as the runbook writes it ("2024-01-01 10:00:00"), or ISO 8601; UTC unless an offset is given."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise TargetError(f"restore.before: {text!r} is not a time; write it as \"2024-01-01 10:00:00\" (UTC) or "
                          "ISO 8601 with an offset (2024-01-01T10:00:00+02:00)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@contextmanager
def _scratch(store: Store) -> Iterator[Path]:
    """A private controller folder for the copies (in the store's scratch folder when it has one)."""
    folder = Path(tempfile.mkdtemp(prefix="ajudaplay-db-", dir=store.scratch_dir()))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# db_check --------------------------------------------------------------------------------------------------
def db_check(ctx: StepContext, data: ServiceData, db: DatabaseSpec, quick: bool) -> DbCheckOutcome:
    """PRAGMA integrity_check (quick_check) inside the running service; read-only, so also in check mode."""
    with data.live_workspace(ctx, db.service) as ws:
        check = SqlTool.detect(ws, db.service, ctx.timeout).check(db.path, quick)
        where = ws.where
    pragma = "quick_check" if quick else "integrity_check"
    msg = (f"{db.path}: {pragma} ok" if check.ok else
           f"{db.path} in {where}: {pragma} found problems: {'; '.join(check.messages[:5])}"
           + (f" (and {len(check.messages) - 5} more)" if len(check.messages) > 5 else ""))
    return DbCheckOutcome(failed=not check.ok, msg=msg, ok=check.ok, messages=check.messages, quick=quick,
                          service=db.service, database=db.name, path=db.path, where=where)


# backup ----------------------------------------------------------------------------------------------------
def backup(ctx: StepContext, data: ServiceData, place: Place, store: Store, *, passphrase: str | None,
           keep_last: int | None, keep_days: float | None, revision: int | None = None,
           image: str | None = None) -> BackupOutcome:
    """A consistent, verified, packed copy of the database kept in `store`, then retention (see module doc)."""
    from ajudaplay.database.archive import Packer
    from ajudaplay.database.stores import backup_name, utc_stamp

    db = place.db
    created = _now()
    name = backup_name(db.name, created, ctx.run_id)
    base: dict[str, Any] = dict(name=name, environment=place.environment, target=place.target, service=db.service,
                database=db.name, path=db.path, created=utc_stamp(created), encrypted=passphrase is not None,
                run_id=ctx.run_id, revision=revision, image=image)
    if ctx.check:
        planned = Manifest(**base, size=0, sha256="", stored_size=0, stored_sha256="", verified=True)
        doomed = _retention(store, planned, keep_last, keep_days, include_new=True)
        return BackupOutcome(changed=True, msg=f"would back up {db.path} of {db.service} as {name} to "
                             f"{store.description}" + (f" and delete {len(doomed)} older" if doomed else ""),
                             changes=[Change(f"backup {db.service}/{db.name}", None, name)],
                             **base, size=None, sha256=None, stored_size=None, stored_sha256=None, verified=False,
                             store=store.description, deleted=[m.name for m in doomed], where="")
    with _scratch(store) as scratch, _shielded(ctx) as (inner, shield):
        copy, packed = scratch / "snapshot.db", scratch / "packed"
        with data.live_workspace(inner, db.service) as ws:
            where = ws.where
            tool = SqlTool.detect(ws, db.service, ctx.timeout)
            ctx.log(f"snapshot of {db.path} in {where} (VACUUM INTO, {tool.program})")
            snapshot = tool.snapshot(db.path)
            try:  # packed while it arrives; kept only if the copy then passes integrity_check
                with open(copy, "wb") as plain, Packer(packed, passphrase, cancel=ctx.cancel) as packer:
                    tee = _Tee(plain, packer, _Meter(ctx.progress, f"copying the snapshot of {db.service}/{db.name} "
                                                            "to the controller"))
                    sent = ws.read_to(snapshot, cast(BinaryIO, tee))
                    stored_size, stored_sha = packer.finish()
            finally:
                with shield.holding():  # a Ctrl-C must not leave a copy of the database in the service
                    tool.remove(snapshot)
        if tee.digest.hexdigest() != sent:
            raise TargetError(f"backup of {db.path}: the copy on the controller differs from the snapshot in {where} "
                              "(sha256); nothing was kept, try again")
        check = check_local_file(copy)
        if not check.ok:
            raise TargetError(f"backup of {db.path} from {where}: the snapshot fails integrity_check "
                              f"({'; '.join(check.messages[:5])}): the database itself is damaged, nothing was kept "
                              "(see db_check, and restore a good backup)")
        size = tee.size
        manifest = Manifest(**base, size=size, sha256=sent, stored_size=stored_size, stored_sha256=stored_sha,
                            verified=True)
        store.put(manifest, packed, cancel=ctx.cancel)
    ctx.log(f"kept {name} in {store.description}")
    doomed = _retention(store, manifest, keep_last, keep_days, include_new=False)
    for old in doomed:
        store.delete(old)
    return BackupOutcome(changed=True, msg=f"{db.service}/{db.name}: backup {name} ({size} bytes, verified) in "
                         f"{store.description}" + (f"; deleted {len(doomed)} older" if doomed else ""),
                         changes=[Change(f"backup {db.service}/{db.name}", None, name)],
                         **{k: v for k, v in dataclasses.asdict(manifest).items() if k not in ("key_id", "compression")},
                         store=store.description, deleted=[m.name for m in doomed], where=where)


class _Meter:
    """Says how far a long copy got (`ctx.progress`: the console's live line, JSON `progress` events), at
    most every METER_EVERY seconds: a 200 MB database is a wait an operator should see moving."""

    def __init__(self, progress: Callable[[str], None], what: str, total: int | None = None) -> None:
        self.progress, self.what, self.total = progress, what, total
        self.done, self._said = 0, 0.0

    def add(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._said >= METER_EVERY:
            self._said = now
            of = f" of {self.total / MB:.0f}" if self.total else ""
            self.progress(f"{self.what}: {self.done / MB:.0f}{of} MB")


class _MeteredReader:
    """A source whose reads are counted by a _Meter (what `write_from` streams into the service)."""

    def __init__(self, source: BinaryIO, meter: _Meter) -> None:
        self.source, self.meter = source, meter

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.meter.add(len(data))
        return data


class _Tee:
    """A sink writing each chunk to the plain copy and the packer, hashing it on the way."""

    def __init__(self, plain: BinaryIO, packer: Packer, meter: _Meter) -> None:
        self.plain, self.packer, self.meter = plain, packer, meter
        self.digest, self.size = hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.meter.add(len(data))
        self.plain.write(data)
        self.packer.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.plain.flush()


def _retention(store: Store, newest: Manifest, keep_last: int | None, keep_days: float | None, *,
               include_new: bool) -> list[Manifest]:
    """What retention deletes once `newest` is kept (stores.superseded: never the newest verified one)."""
    from ajudaplay.database.stores import superseded

    if keep_last is None and keep_days is None:
        return []
    kept = store.list(newest.environment, newest.target, newest.service, newest.database)
    if include_new:
        kept = [newest, *kept]
    return [m for m in superseded(kept, keep_last, keep_days, _now()) if m.name != newest.name]


# choosing and listing ------------------------------------------------------------------------------------
def choose(manifests: list[Manifest], choice: Choice, where: str) -> Manifest:
    """The backup a restore takes from a newest-first list, or a TargetError listing what there is."""
    from ajudaplay.database.stores import created_at

    if choice.name:
        for manifest in manifests:
            if manifest.name == choice.name:
                return manifest
        raise TargetError(f"no backup named {choice.name} in {where}; {_some(manifests)}")
    good = [m for m in manifests if m.verified]
    if choice.before is not None:
        before = choice.before
        good = [m for m in good if created_at(m) <= before]
    if not good:
        raise TargetError(f"{choice.describe()}: there is none in {where}; {_some(manifests)}")
    return good[0]


def _some(manifests: list[Manifest]) -> str:
    if not manifests:
        return "it holds no backups of this database (run the backup action first)"
    shown = ", ".join(f"{m.name} ({m.created})" for m in manifests[:5])
    return f"newest: {shown}" + (f" and {len(manifests) - 5} older" if len(manifests) > 5 else "")


def list_backups(store: Store, environment: str, target: str, service: str, database: str | None) -> BackupList:
    """What the store holds for the service (one database, or all), newest first, with their age in seconds."""
    from ajudaplay.database.stores import listing_entry

    now = _now()
    found = store.list(environment, target, service, database)
    rows = [listing_entry(m, store.description, now) for m in found]
    return BackupList(msg=f"{len(rows)} backup(s) of {service} in {store.description}", service=service,
                      database=database, store=store.description, backups=rows, count=len(rows))


# restore ---------------------------------------------------------------------------------------------------
def _verified_copy(store: Store, manifest: Manifest, passphrase: str | None, scratch: Path,
                   cancel: threading.Event, meter: _Meter) -> Path:
    """The backup as a plain SQLite file on the controller, checked three ways (stored sha256; size and sha256
    after decrypting and unpacking; integrity_check), or an error saying nothing was changed."""
    from ajudaplay.database.archive import CorruptBackup, Unpacker

    plain = scratch / "restore.db"
    with Unpacker(plain, passphrase, name=manifest.name, cancel=cancel) as unpacker:  # unpacked as it downloads
        sink = _HeldErrors(unpacker, meter)
        store.fetch_into(manifest, sink, cancel=cancel)  # the stored size and sha256 first: altered in the store?
        sink.raise_held()  # then what unpacking found on the way
        size, sha = unpacker.finish()  # then the tag (encrypted) and the gzip trailer
    if (size, sha) != (manifest.size, manifest.sha256):
        raise CorruptBackup(f"backup {manifest.name} unpacks to {size} bytes (sha256 {sha[:16]}…), its manifest says "
                            f"{manifest.size} (sha256 {manifest.sha256[:16]}…): refused; nothing was changed")
    check = check_local_file(plain)
    if not check.ok:
        raise CorruptBackup(f"backup {manifest.name} fails integrity_check ({'; '.join(check.messages[:5])}): "
                            "refused; nothing was changed (restore another backup by name)")
    return plain


class _HeldErrors:
    """A sink that keeps the first ArchiveError of the unpacker it feeds and drops the rest of the stream, so
    that a backup altered in the store is refused for its stored checksum (the store's check, at the end),
    not for whatever gzip error the altered bytes happened to cause on the way."""

    def __init__(self, unpacker: Unpacker, meter: _Meter) -> None:
        self.unpacker, self.meter = unpacker, meter
        self.held: BaseException | None = None

    def write(self, data: bytes) -> int:
        from ajudaplay.database.archive import ArchiveError

        self.meter.add(len(data))
        if self.held is None:
            try:
                self.unpacker.write(data)
            except ArchiveError as exc:
                self.held = exc
        return len(data)

    def raise_held(self) -> None:
        if self.held is not None:
            raise self.held


class _Shield:
    """A cancel event for the offline work: it follows the step's, except while `holding()` runs (putting the
    old database back must finish even after a Ctrl-C, or the service would start without it)."""

    def __init__(self, outer: threading.Event) -> None:
        self.outer, self.inner = outer, threading.Event()
        self._holding, self._done = False, threading.Event()
        self._thread = threading.Thread(target=self._follow, name="restore-cancel", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._done.wait(0.05):
            if self.outer.is_set() and not self._holding:
                self.inner.set()

    @contextmanager
    def holding(self) -> Iterator[None]:
        self._holding = True
        self.inner.clear()
        try:
            yield
        finally:
            self._holding = False
            if self.outer.is_set():
                self.inner.set()

    def close(self) -> None:
        self._done.set()
        self._thread.join()


@contextmanager
def _shielded(ctx: StepContext) -> Iterator[tuple[StepContext, _Shield]]:
    """The step context with a cancel event that follows the step's, except while `shield.holding()`."""
    shield = _Shield(ctx.cancel)
    try:
        yield dataclasses.replace(ctx, cancel=shield.inner), shield
    finally:
        shield.close()


def restore(ctx: StepContext, data: ServiceData, place: Place, store: Store, choice: Choice, *,
            passphrase: str | None, confirm: bool) -> RestoreOutcome:
    """One procedure (see the module docstring); check mode verifies and says, and never stops the service."""
    db = place.db
    started = time.monotonic()
    manifests = store.list(place.environment, place.target, db.service, db.name)
    manifest = choose(manifests, choice, f"{store.description} ({place.target}/{db.service}/{db.name})")
    common: dict[str, Any] = dict(backup=manifest.name, created=manifest.created, service=db.service, database=db.name,
                  path=db.path, store=store.description)
    with _scratch(store) as scratch:
        ctx.log(f"verifying {manifest.name} from {store.description}")
        plain = _verified_copy(store, manifest, passphrase, scratch, ctx.cancel,
                               _Meter(ctx.progress, f"fetching and verifying {manifest.name}", manifest.stored_size))
        verified = time.monotonic()
        if ctx.check:
            return RestoreOutcome(changed=True, msg=f"would stop {db.service}, keep {db.path} as corrupted-<time>.db "
                                  f"and restore {manifest.name} ({manifest.created}, verified), then start it again",
                                  changes=[Change(f"{db.service}/{db.name} database", None, manifest.name)],
                                  **common, kept=None, before_sha256=None, after_sha256=manifest.sha256,
                                  confirmed_by=None, timings={"verify": round(verified - started, 3)}, where="")
        who = ctx.confirm(f"restore {manifest.name} ({manifest.created}) into {db.service} on {place.target}: "
                          f"stop {db.service}, keep {db.path} aside, put the backup in place, start it again?") \
            if confirm else None
        with _shielded(ctx) as (inner, shield), data.offline(inner, db.service) as ws:
            stopped = time.monotonic()
            kept, before = _swap(inner, ws, db, manifest, plain, shield)
            where = ws.where
    done = time.monotonic()
    timings = {"verify": round(verified - started, 3), "stopped": round(done - stopped, 3),
               "total": round(done - started, 3)}
    return RestoreOutcome(changed=True, msg=f"{db.service}/{db.name}: restored {manifest.name} ({manifest.created})"
                          + (f"; the database it had is kept as {kept}" if kept else ""),
                          changes=[Change(f"{db.service}/{db.name} database", before, manifest.sha256)],
                          **common, kept=kept, before_sha256=before, after_sha256=manifest.sha256, confirmed_by=who,
                          timings=timings, where=where)


def _present(ws: Workspace, path: str) -> list[str]:
    """Which of the database's files (itself, -wal, -shm, -journal) exist, as suffixes."""
    script = 'for s in "" -wal -shm -journal; do if [ -e "$1$s" ]; then echo "=$s"; fi; done'
    ran = ws.run(["sh", "-c", script, "sh", path])
    if not ran.ok:
        raise TargetError(f"cannot look at {path} in {ws.where}: {ran.text().strip()}")
    return [line[1:] for line in ran.stdout.decode("utf-8", "replace").splitlines() if line.startswith("=")]


def _sha256(ws: Workspace, path: str) -> str | None:
    ran = ws.run(["sha256sum", "--", path])
    word = ran.stdout.decode("ascii", "replace").split()[:1] if ran.ok else []
    return word[0] if word and len(word[0]) == 64 else None


def _mv(ws: Workspace, src: str, dest: str) -> None:
    ran = ws.run(["mv", "-f", "--", src, dest])
    if not ran.ok:
        raise TargetError(f"mv {src} {dest} failed in {ws.where}: {ran.text().strip() or f'exit status {ran.rc}'}")


def _same_owner_and_mode(ws: Workspace, reference: str, path: str) -> None:
    """Give the restored file the replaced one's mode and (where allowed) owner, so the service reads it as
    before; best effort (busybox has no --reference, a non-root workspace cannot chown: both are fine)."""
    script = ('m=$(stat -c %a "$1") && chmod "$m" "$2"; '
              'o=$(stat -c %u:%g "$1") && [ "$o" != "$(stat -c %u:%g "$2")" ] && chown "$o" "$2"; exit 0')
    ws.run(["sh", "-c", script, "sh", reference, path])


def _swap(ctx: StepContext, ws: Workspace, db: DatabaseSpec, manifest: Manifest, plain: Path,
          shield: _Shield) -> tuple[str | None, str | None]:
    """In the offline workspace: the live files aside as corrupted-<UTC>.db, the backup in through a temporary
    name and a rename; on any failure the files aside go back. Returns (kept path, its sha256)."""
    folder = posixpath.dirname(db.path) or "/"
    present = _present(ws, db.path)
    kept: str | None = None
    before = _sha256(ws, db.path) if "" in present else None
    moved: list[str] = []
    temporary = snapshot_name(db.path, "restore")
    tool = SqlTool.detect(ws, db.service, ctx.timeout)
    try:
        if present:
            stamp = _now().strftime("%Y%m%d-%H%M%S")
            kept = posixpath.join(folder, f"corrupted-{stamp}.db")
            n = 1
            while _present(ws, kept):
                n += 1
                kept = posixpath.join(folder, f"corrupted-{stamp}-{n}.db")
            for suffix in present:
                _mv(ws, db.path + suffix, kept + suffix)
                moved.append(suffix)
            ctx.log(f"kept {db.path} as {kept}")
        with open(plain, "rb") as source:
            meter = _Meter(ctx.progress, f"writing {manifest.name} into {ws.where}", manifest.size)
            landed = ws.write_from(cast(BinaryIO, _MeteredReader(source, meter)), manifest.size, temporary)
        if landed != manifest.sha256:
            raise TargetError(f"the restored file in {ws.where} has sha256 {landed[:16]}…, the backup "
                              f"{manifest.sha256[:16]}…")
        check = tool.check(temporary)
        if not check.ok:
            raise TargetError(f"the restored file fails integrity_check in {ws.where}: {'; '.join(check.messages[:5])}")
        if kept is not None and "" in moved:
            _same_owner_and_mode(ws, kept, temporary)
        _mv(ws, temporary, db.path)
    except BaseException as exc:
        with shield.holding():
            _put_back(ws, tool, db.path, kept, moved, temporary, exc)
        if isinstance(exc, KeyboardInterrupt):
            raise
        undone = (f"the database it had is back in place (moved back from {kept})" if moved
                  else "the database was not touched") + "; the service is started again with it"
        if isinstance(exc, Interrupted):
            raise Interrupted(f"restore of {manifest.name} into {db.path} interrupted ({exc}); {undone}") from exc
        raise TargetError(f"restore of {manifest.name} into {db.path} failed ({exc}); {undone}") from exc
    return kept, before


def _put_back(ws: Workspace, tool: SqlTool, path: str, kept: str | None, moved: list[str], temporary: str,
              exc: BaseException) -> None:
    """Undo the swap: drop the temporary file, move the kept files back. A failure here is said, with where
    the old database is, since the service will start without it."""
    try:
        tool.remove(temporary)
        if kept is not None:
            for suffix in moved:
                _mv(ws, kept + suffix, path + suffix)
    except BaseException as again:
        raise TargetError(f"restore failed ({exc}), and putting the old database back failed too ({again}): it is at "
                          f"{kept} in the service's volume; move it back to {path} by hand") from exc
