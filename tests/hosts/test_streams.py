"""HostConnection.stream_from / stream_to on `@local` and over real SSH: 50 MB, never held whole.

Memory is measured with tracemalloc (every Python allocation, paramiko's packets
and prefetch buffers included) around the transfer; the bound (8 MB) is a
sixth of the file, so a transfer that buffers the file fails. The host side is
checked with its own tools (`sha256sum`, `stat`, `ls -a`), not through the
methods under test.
"""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import pytest

from ajudaplay.errors import Interrupted, Mark, TargetError
from ajudaplay.hosts.base import HostConnection
from ajudaplay.hosts.pyinfra_host import connect_host
from tests.hosts.conftest import ssh_connection

SIZE = 50 * 1024 * 1024
PEAK_LIMIT = 8 * 1024 * 1024
MARK = Mark("tests/hosts", 1, 1)


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def host(request: pytest.FixtureRequest) -> Iterator[HostConnection]:
    """The same HostConnection over @local and over real SSH (user ajtest on loopback)."""
    connection: dict[str, Any] = ({"host": "@local"} if request.param == "local"
                                  else ssh_connection(request.getfixturevalue("sshd")))
    conn = connect_host(connection, f"h-{request.param}")
    yield conn
    conn.close()


@pytest.fixture
def folder(host: HostConnection) -> Iterator[str]:
    """A fresh folder on the host, owned by the connecting user."""
    path = f"/tmp/ajudaplay-streams-{uuid.uuid4().hex[:10]}"
    assert host.run(f"mkdir -p {path}").ok
    yield path
    host.run(f"rm -rf {path}")


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A 50 MB random file on the controller and its sha256."""
    path = tmp_path_factory.mktemp("streams") / "big.bin"
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range(SIZE // (1 << 20)):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            out.write(chunk)
    return path, digest.hexdigest()


class HashingSink:
    """A sink that keeps only a sha256 and a count (so memory measures the transfer, not the sink)."""

    def __init__(self, cancel: threading.Event | None = None, cancel_after: int | None = None) -> None:
        self.digest = hashlib.sha256()
        self.count = 0
        self.cancel, self.cancel_after = cancel, cancel_after

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.count += len(data)
        if self.cancel is not None and self.cancel_after is not None and self.count >= self.cancel_after:
            self.cancel.set()
        return len(data)


class WatchedSource:
    """A file read in chunks that can set `cancel`, or run a check, once `after` bytes were read."""

    def __init__(self, handle: BinaryIO, after: int, action: Any) -> None:
        self.handle, self.after, self.action, self.count, self.fired = handle, after, action, 0, False

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.count += len(chunk)
        if not self.fired and self.count >= self.after:
            self.fired = True
            self.action()
        return chunk


def host_sha(host: HostConnection, path: str) -> str:
    done = host.run(f"sha256sum {path}")
    assert done.ok, done.stderr
    return done.stdout.split()[0]


def listing(host: HostConnection, folder: str) -> list[str]:
    done = host.run(f"ls -A {folder}")
    assert done.ok, done.stderr
    return done.stdout.split()


def measured(call: Any) -> tuple[Any, int]:
    """(result, peak traced bytes) of one call."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_stream_from_50mb_in_chunks(host: HostConnection, folder: str) -> None:
    path = f"{folder}/big.bin"
    assert host.run(f"head -c {SIZE} /dev/urandom > {path}").ok
    sink = HashingSink()
    found, peak = measured(lambda: host.stream_from(path, sink))  # type: ignore[arg-type]
    assert found is True
    assert sink.count == SIZE and sink.digest.hexdigest() == host_sha(host, path)
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB for a {SIZE / 1e6:.0f} MB file: buffered, not streamed"


def test_stream_to_50mb_atomic_with_mode(host: HostConnection, folder: str, big: tuple[Path, str]) -> None:
    src, sha = big
    path = f"{folder}/big.bin"
    assert host.run(f"printf old > {path}").ok
    seen: list[str] = []

    def halfway() -> None:  # the old file stays whole until the rename; only a temp file is growing
        seen.append(host.run(f"cat {path}").stdout)
        seen.append(" ".join(listing(host, folder)))

    with open(src, "rb") as handle:
        source = WatchedSource(handle, SIZE // 2, halfway)
        _, peak = measured(lambda: host.stream_to(source, path, 0o640))  # type: ignore[arg-type]
    assert seen[0] == "old"
    assert len(seen[1].split()) == 2 and any(".big.bin.ajudaplay-" in n for n in seen[1].split()), seen[1]
    assert host_sha(host, path) == sha
    assert host.run(f"stat -c %a {path}").stdout.strip() == "640"
    assert listing(host, folder) == ["big.bin"]
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB for a {SIZE / 1e6:.0f} MB file: buffered, not streamed"


def test_stream_to_new_file_is_0600_by_default(host: HostConnection, folder: str) -> None:
    import io

    path = f"{folder}/secret.db"
    host.stream_to(io.BytesIO(b"\0binary\xff\r\n"), path)
    assert host.run(f"stat -c %a {path}").stdout.strip() == "600"
    assert host_sha(host, path) == hashlib.sha256(b"\0binary\xff\r\n").hexdigest()


def test_stream_from_missing_is_false_and_missing_folder_is_a_clear_error(host: HostConnection, folder: str) -> None:
    import io

    assert host.stream_from(f"{folder}/nothing", HashingSink()) is False  # type: ignore[arg-type]
    with pytest.raises(TargetError, match=rf"{host.name}: cannot read {folder}: "):
        host.stream_from(folder, HashingSink())  # type: ignore[arg-type]
    with pytest.raises(TargetError, match=rf"{host.name}: cannot write {folder}/no/such/file"):
        host.stream_to(io.BytesIO(b"x"), f"{folder}/no/such/file")
    assert listing(host, folder) == []


def test_cancel_mid_stream_to_leaves_no_temp_file_and_the_old_file(host: HostConnection, folder: str,
                                                                  big: tuple[Path, str]) -> None:
    src, _ = big
    path = f"{folder}/big.bin"
    assert host.run(f"printf old > {path}").ok
    cancel = threading.Event()
    with open(src, "rb") as handle:
        source = WatchedSource(handle, 8 << 20, cancel.set)
        with pytest.raises(Interrupted, match="interrupted"):
            host.stream_to(source, path, 0o600, cancel=cancel)  # type: ignore[arg-type]
    assert source.count < SIZE  # stopped mid-transfer, not at the end
    assert listing(host, folder) == ["big.bin"]
    assert host.run(f"cat {path}").stdout == "old"
    # the connection still works after the aborted transfer
    assert host.stream_from(path, sink := HashingSink()) and sink.count == 3  # type: ignore[arg-type]


def test_cancel_mid_stream_from_stops_and_the_connection_still_works(host: HostConnection, folder: str) -> None:
    path = f"{folder}/big.bin"
    assert host.run(f"head -c {SIZE} /dev/urandom > {path}").ok
    cancel = threading.Event()
    sink = HashingSink(cancel, cancel_after=4 << 20)
    with pytest.raises(Interrupted, match="interrupted"):
        host.stream_from(path, sink, cancel=cancel)  # type: ignore[arg-type]
    assert sink.count < SIZE
    again = HashingSink()
    assert host.stream_from(path, again) and again.digest.hexdigest() == host_sha(host, path)  # type: ignore[arg-type]
    assert listing(host, folder) == ["big.bin"]
