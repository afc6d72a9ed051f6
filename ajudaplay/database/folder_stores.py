"""The two folder stores: a folder on the controller, and a folder on a Compose target's host.

One FolderStore holds the store logic (layout, data before manifest,
checked fetches, listing) over a small file interface with two
implementations: the controller's own file system (`_LocalFiles`) and a
HostConnection (`_HostFiles`: SFTP streams and shell commands over SSH, or
the local host). Files are written atomically (temp file + rename) and are
0600 in 0700 folders: a backup is as private as the database.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shlex
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from ajudaplay.database.archive import CHUNK, ArchiveError
from ajudaplay.database.model import Manifest
from ajudaplay.database.stores import StoreError, already_stored, data_file, list_prefix, manifest_file, manifests_in
from ajudaplay.database.transfer import (
    CancellableReader, CheckedSink, Writable, check_fetched, fetch_file, new_private_file, stop_if_cancelled,
)
from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.hosts.base import HostConnection

__all__ = ["ControllerFolder", "FolderStore", "HostFolder"]

STALE_SCRATCH = 24 * 3600.0  # seconds: temp files of a run killed before it could remove them


class _Files(Protocol):
    """The file operations a folder store needs, on some machine."""

    def makedirs(self, path: str) -> None: ...

    def put(self, source: Path, path: str, cancel: threading.Event | None) -> None:
        """Atomically create or replace `path` with the controller file `source` (0600); Interrupted when
        `cancel` is set (nothing is left at `path`)."""
        ...

    def get(self, path: str, sink: BinaryIO, cancel: threading.Event | None) -> bool:
        """Stream `path` into `sink`; False when it does not exist."""
        ...

    def read(self, path: str) -> bytes | None: ...

    def write(self, path: str, content: bytes) -> None:
        """Atomically write a small file (0600)."""
        ...

    def files_under(self, path: str) -> list[str]:
        """Every regular file below `path` (relative to it, "/"-separated); [] when it does not exist."""
        ...

    def remove(self, path: str) -> None:
        """Delete a file; no error when it is already gone."""
        ...


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class FolderStore:
    """Backups in a folder (see stores.py for the layout), over some machine's files."""

    def __init__(self, files: _Files, root: str, description: str) -> None:
        self._files = files
        self.root = root
        self.description = description

    def _path(self, relative: str) -> str:
        return posixpath.join(self.root, relative)

    def scratch_dir(self) -> Path | None:
        return None

    def put(self, manifest: Manifest, packed_path: Path, *, cancel: threading.Event | None = None) -> None:
        stop_if_cancelled(cancel, f"storing backup {manifest.name}")  # a hard link reads nothing that could stop
        size = os.stat(packed_path).st_size
        if size != manifest.stored_size:
            raise StoreError(f"{self.description}: {packed_path} has {size} bytes, its manifest says "
                             f"{manifest.stored_size}: not stored")
        data = self._path(data_file(manifest))
        try:
            if self._files.read(self._path(manifest_file(manifest))) is not None:
                raise StoreError(already_stored(manifest, self.description))
            self._files.makedirs(posixpath.dirname(data))
            self._files.put(packed_path, data, cancel)
            self._files.write(self._path(manifest_file(manifest)), manifest.to_json().encode("utf-8"))
        except (StoreError, Interrupted):
            raise
        except (TargetError, OSError) as exc:
            raise StoreError(f"{self.description}: cannot store backup {manifest.name}: {_why(exc)}") from exc

    def fetch_to(self, manifest: Manifest, dest_path: Path, *, cancel: threading.Event | None = None) -> None:
        fetch_file(self, manifest, dest_path, cancel)

    def fetch_into(self, manifest: Manifest, sink: Writable, *, cancel: threading.Event | None = None) -> None:
        where = self.description
        checked = CheckedSink(sink, cancel, f"fetching backup {manifest.name}")
        try:
            if not self._files.get(self._path(data_file(manifest)), cast(BinaryIO, checked), cancel):
                raise StoreError(f"backup {manifest.name}: its data file {data_file(manifest)} is missing from "
                                 f"{where}; nothing was changed")
        except (OSError, TargetError) as exc:
            if isinstance(exc, (StoreError, ArchiveError)):  # a sink (an Unpacker) says what it found
                raise
            raise StoreError(f"{where}: cannot read backup {manifest.name}: {_why(exc)}") from exc
        check_fetched(manifest, checked.size, checked.hexdigest(), where)

    def list(self, environment: str, target: str | None = None, service: str | None = None,
             database: str | None = None) -> list[Manifest]:
        prefix = list_prefix(environment, target, service, database)
        try:
            files = [f"{prefix}/{name}" for name in self._files.files_under(self._path(prefix))]
            return manifests_in(files, lambda rel: self._files.read(self._path(rel)), environment=environment,
                                target=target, service=service, database=database)
        except (TargetError, OSError) as exc:
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{self.description}: cannot list backups: {_why(exc)}") from exc

    def delete(self, manifest: Manifest) -> None:
        try:
            self._files.remove(self._path(manifest_file(manifest)))
            self._files.remove(self._path(data_file(manifest)))
        except (TargetError, OSError) as exc:
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{self.description}: cannot delete backup {manifest.name}: {_why(exc)}") from exc


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    return str(exc)


# -- the controller ----------------------------------------------------------------------------------------


class _LocalFiles:
    """The controller's file system."""

    def makedirs(self, path: str) -> None:
        """Every missing folder down to `path`, each 0700 (os.makedirs gives the mode to the last one only)."""
        missing: list[Path] = []
        folder = Path(path)
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:
                pass

    def put(self, source: Path, path: str, cancel: threading.Event | None) -> None:
        tmp = Path(f"{posixpath.dirname(path)}/.{posixpath.basename(path)}.{uuid.uuid4().hex[:8]}.part")
        try:
            try:  # a hard link costs nothing when the packed file is on the same file system (scratch_dir)
                os.link(source, tmp)
                os.chmod(tmp, 0o600)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                with open(source, "rb") as src, new_private_file(tmp) as dst:
                    shutil.copyfileobj(CancellableReader(src, cancel, f"storing {path}"), dst, CHUNK)
                    dst.flush()
                    os.fsync(dst.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise

    def get(self, path: str, sink: BinaryIO, cancel: threading.Event | None) -> bool:
        try:
            with open(path, "rb") as handle:
                shutil.copyfileobj(handle, sink, CHUNK)
        except FileNotFoundError:
            return False
        return True

    def read(self, path: str) -> bytes | None:
        try:
            return Path(path).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, path: str, content: bytes) -> None:
        tmp = Path(f"{posixpath.dirname(path)}/.{posixpath.basename(path)}.{uuid.uuid4().hex[:8]}.part")
        try:
            with new_private_file(tmp) as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise

    def files_under(self, path: str) -> list[str]:
        found: list[str] = []
        for folder, _dirs, names in os.walk(path):
            relative = os.path.relpath(folder, path)
            for name in names:
                found.append(name if relative == "." else f"{relative}/{name}".replace(os.sep, "/"))
        return found

    def remove(self, path: str) -> None:
        _unlink(Path(path))


class ControllerFolder(FolderStore):
    """A folder on the controller (the default store)."""

    def __init__(self, root: Path) -> None:
        super().__init__(_LocalFiles(), str(root), f"controller folder {root}")

    def scratch_dir(self) -> Path | None:
        """`<root>/.tmp`: packed files made there are stored by a hard link instead of a copy.

        What a killed run left there (a snapshot copy can be as big as the
        database) is removed once it is older than STALE_SCRATCH: no run lasts that long.
        """
        scratch = Path(self.root) / ".tmp"
        try:
            _LocalFiles().makedirs(str(scratch))
            now = time.time()
            for entry in os.scandir(scratch):
                if now - entry.stat(follow_symlinks=False).st_mtime > STALE_SCRATCH:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        _unlink(Path(entry.path))
        except OSError as exc:
            raise StoreError(f"{self.description}: cannot create {scratch}: {_why(exc)}") from exc
        return scratch


# -- a Compose target's host -------------------------------------------------------------------------------


class _HostFiles:
    """A host's files through its HostConnection: streams for data, one shell command per listing."""

    TIMEOUT = 60.0  # one small command (mkdir, find, rm) never takes longer

    def __init__(self, host: HostConnection) -> None:
        self.host = host

    def _run(self, command: str, what: str) -> str:
        result = self.host.run(command, timeout=self.TIMEOUT)
        if not result.ok:
            detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [f"exit status {result.rc}"]
            raise StoreError(f"{what}: {detail[0]}")
        return result.stdout

    def makedirs(self, path: str) -> None:
        self._run(f"umask 077 && mkdir -p {shlex.quote(path)}", f"cannot create {path}")

    def put(self, source: Path, path: str, cancel: threading.Event | None) -> None:
        with open(source, "rb") as handle:
            self.host.stream_to(handle, path, 0o600, cancel=cancel)

    def get(self, path: str, sink: BinaryIO, cancel: threading.Event | None) -> bool:
        return self.host.stream_from(path, sink, cancel=cancel)

    def read(self, path: str) -> bytes | None:
        return self.host.read_file(path)

    def write(self, path: str, content: bytes) -> None:
        self.host.write_file(path, content, 0o600)

    def files_under(self, path: str) -> list[str]:
        q = shlex.quote(path)
        out = self._run(f"if [ -d {q} ]; then cd {q} && find . -type f; fi", f"cannot list {path}")
        return [line[2:] for line in out.splitlines() if line.startswith("./")]

    def remove(self, path: str) -> None:
        self._run(f"rm -f {shlex.quote(path)}", f"cannot delete {path}")


class HostFolder(FolderStore):
    """A folder on a Compose target's host (over SSH, or the local host)."""

    def __init__(self, host: HostConnection, root: str) -> None:
        super().__init__(_HostFiles(host), root.rstrip("/") or "/", f"folder {root} on host {host.name}")
