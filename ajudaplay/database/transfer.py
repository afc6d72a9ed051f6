"""Controller-side pieces every backup transfer shares: private temp files, checked and cancellable streams.

A backup moves between the controller and a store in chunks; each chunk
passes through these wrappers, which keep the size and sha256 of what went by
(a fetched object is checked against its manifest) and stop the transfer
with Interrupted as soon as the step's cancel event is set (Ctrl-C, SIGTERM,
a task timeout), so a 200 MB upload does not hold a Ctrl-C for its length.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from ajudaplay.database.stores import Store

from ajudaplay.database.model import Manifest
from ajudaplay.errors import Interrupted

__all__ = [
    "CheckedSink", "CancellableReader", "Writable", "check_fetched", "fetch_file", "new_private_file", "stop_if_cancelled",
]


def new_private_file(path: Path) -> BinaryIO:
    """A new controller file, 0600 before its first byte (a database copy is as private as the database)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def stop_if_cancelled(cancel: threading.Event | None, what: str) -> None:
    """Interrupted once the step's cancel event is set."""
    if cancel is not None and cancel.is_set():
        raise Interrupted(f"{what}: interrupted")


class Writable(Protocol):
    """Anything bytes can be written to: a file, a CheckedSink, an archive Packer or Unpacker."""

    def write(self, data: bytes, /) -> int: ...


class CheckedSink:
    """Writes to `sink`, keeping size and sha256 of what was written; Interrupted once `cancel` is set."""

    def __init__(self, sink: Writable, cancel: threading.Event | None = None, what: str = "transfer") -> None:
        self.sink = sink
        self.cancel = cancel
        self.what = what
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        stop_if_cancelled(self.cancel, self.what)
        if data:
            self.sink.write(data)
            self.digest.update(data)
            self.size += len(data)
        return len(data)

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


class CancellableReader:
    """A binary file for reading whose read() raises Interrupted once `cancel` is set (seekable like the file:
    boto3 seeks to retry a part)."""

    def __init__(self, source: BinaryIO, cancel: threading.Event | None, what: str) -> None:
        self.source = source
        self.cancel = cancel
        self.what = what

    def read(self, size: int = -1) -> bytes:
        stop_if_cancelled(self.cancel, self.what)
        return self.source.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.source.seek(offset, whence)

    def tell(self) -> int:
        return self.source.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.source.close()

    def __getattr__(self, name: str) -> object:  # anything else a reader asks of a file (name, fileno, ...)
        return getattr(self.source, name)


def check_fetched(manifest: Manifest, size: int, sha256: str, where: str) -> None:
    """CorruptBackup unless what was fetched is what the manifest says was stored."""
    from ajudaplay.database.archive import CorruptBackup  # archive uses this module's writers

    if size != manifest.stored_size or sha256 != manifest.stored_sha256:
        raise CorruptBackup(
            f"backup {manifest.name} in {where} does not match its manifest (stored {manifest.stored_size} bytes, "
            f"sha256 {manifest.stored_sha256[:16]}…; found {size} bytes, sha256 {sha256[:16]}…): it was altered or "
            "damaged in the store, so it is refused; nothing was changed (restore another backup by name)")


def fetch_file(store: Store, manifest: Manifest, dest_path: Path, cancel: threading.Event | None) -> None:
    """`Store.fetch_to` for every store: `fetch_into` a new 0600 file, removed again on any failure."""
    try:
        with new_private_file(dest_path) as handle:
            store.fetch_into(manifest, handle, cancel=cancel)
    except BaseException:
        try:
            os.unlink(dest_path)
        except FileNotFoundError:
            pass
        raise
