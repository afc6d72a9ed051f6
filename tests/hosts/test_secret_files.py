"""Secret files are never readable by others, not even while they are being written (real sshd).

A watcher process on the server side (this machine: the test sshd is on
loopback) polls the folder while a large file is written through the
connection and records the mode of every file it sees, the temp file
included. Before the fix the SSH path created the temp file with the
server's default mode (0644 under umask 022) and chmod-ed it after the last byte.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from ajudaplay.hosts.base import HostConnection
from ajudaplay.hosts.pyinfra_host import connect_host
from tests.hosts.conftest import ssh_connection

WATCHER = r"""
import os, sys, time
folder, stop = sys.argv[1], sys.argv[2]
print("ready", flush=True)
deadline = time.monotonic() + 120
while not os.path.exists(stop) and time.monotonic() < deadline:
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        break
    for entry in entries:
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except FileNotFoundError:
            continue
        print(f"{mode & 0o7777:o} {entry.name}", flush=True)
"""


@pytest.fixture(params=["ssh", "local"])
def host(request: pytest.FixtureRequest) -> Iterator[HostConnection]:
    connection: dict[str, Any] = (
        ssh_connection(request.getfixturevalue("sshd")) if request.param == "ssh" else {"host": "@local"}
    )
    conn = connect_host(connection, f"h-{request.param}")
    yield conn
    conn.close()


@pytest.fixture
def folder(host: HostConnection) -> Iterator[Path]:
    path = Path(f"/tmp/ajudaplay-secret-{uuid.uuid4().hex[:10]}")
    assert host.run(f"mkdir -p {path}").rc == 0
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def test_secret_file_is_0600_from_its_first_byte(host: HostConnection, folder: Path) -> None:
    stop = folder.with_name(folder.name + ".stop")
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER, str(folder), str(stop)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None and watcher.stdout.readline().strip() == "ready"
        content = os.urandom(1024) * (24 * 1024)  # 24 MiB: the write takes long enough to be watched
        target = folder / "secret.env"
        host.write_file(str(target), content, 0o600)
        time.sleep(0.05)
    finally:
        stop.touch()
        out, _ = watcher.communicate(timeout=30)
        stop.unlink()
    seen = [line.split(" ", 1) for line in out.splitlines() if line]
    temps = [(mode, name) for mode, name in seen if name.startswith(".secret.env.ajudaplay-")]
    assert temps, f"the watcher never saw the temp file; it saw {sorted(set(n for _, n in seen))}"
    readable = sorted({(mode, name) for mode, name in seen if int(mode, 8) & 0o077})
    assert not readable, f"group/world permissions seen while writing: {readable}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes() == content
    assert [p.name for p in folder.iterdir()] == ["secret.env"]  # no temp file left behind


def test_write_keeps_an_existing_mode_and_every_byte(host: HostConnection, folder: Path) -> None:
    target = folder / "data.bin"
    content = bytes(range(256)) * 64  # not UTF-8: written as bytes, never as text
    host.write_file(str(target), b"old", 0o640)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    host.write_file(str(target), content)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_bytes() == content
    assert host.read_file(str(target)) == content


def test_write_into_a_missing_folder_is_a_target_error(host: HostConnection, folder: Path) -> None:
    from ajudaplay.errors import TargetError

    with pytest.raises(TargetError, match="cannot write"):
        host.write_file(str(folder / "nope" / "secret.env"), b"s3cr3t-value", 0o600)
    assert not (folder / "nope").exists()
