"""The fake target's Workspace: the controller itself, for TESTS of the database procedures.

Commands run with subprocess on the controller and files are the controller's
own (an inventory of a fake target gives real local paths, e.g. in a pytest
tmp_path), so the procedures meet real `sh`, `sqlite3`, `mv` and real SQLite
files. Knobs (from the fake's inventory mapping) stand in for what a real
service can do to them:

  hide_tools: [sqlite3]   those programs are not on the workspace's PATH (an image without them)
  corrupt_writes: true    write_from lands damaged pages (the checks after it must catch it)
  fail_on: [write_from]   write_from fails half way (a transfer cut short)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.targets.workspace import FileMissing, Ran

__all__ = ["LocalWorkspace", "ToolHider"]

CHUNK = 1 << 20


class ToolHider:
    """A PATH without some programs: a folder of links to everything else on the PATH (made once)."""

    def __init__(self, hidden: set[str]) -> None:
        self.hidden = hidden
        self._folder: Path | None = None
        self._lock = threading.Lock()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if not self.hidden:
            return env
        with self._lock:
            if self._folder is None:
                folder = Path(tempfile.mkdtemp(prefix="ajudaplay-fake-path-"))
                for entry in reversed(env.get("PATH", "").split(os.pathsep)):
                    base = Path(entry)
                    if not base.is_dir():
                        continue
                    for program in base.iterdir():
                        if program.name not in self.hidden:
                            (folder / program.name).unlink(missing_ok=True)
                            (folder / program.name).symlink_to(program)
                self._folder = folder
        env["PATH"] = str(self._folder)
        return env

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


class LocalWorkspace:
    """A Workspace over the controller (see the module docstring)."""

    def __init__(self, where: str, cancel: threading.Event, tools: ToolHider, *, corrupt_writes: bool = False,
                 fail_writes: bool = False) -> None:
        self.where = where
        self.cancel = cancel
        self.tools = tools
        self.corrupt_writes = corrupt_writes
        self.fail_writes = fail_writes
        self.commands: list[list[str]] = []  # what ran, in order (for assertions)

    def run(self, argv: list[str], *, timeout: float | None = None, stdin: bytes | None = None) -> Ran:
        if self.cancel.is_set():
            raise Interrupted(f"{argv[0]} in {self.where}: interrupted")
        self.commands.append(list(argv))
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       env=self.tools.env())
        except OSError as exc:
            return Ran(127, b"", f"{argv[0]}: {exc.strerror}\n".encode())
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                out, err = process.communicate(stdin, timeout=0.1)
                return Ran(process.returncode, out, err)
            except subprocess.TimeoutExpired:
                if self.cancel.is_set() or (deadline is not None and time.monotonic() > deadline):
                    process.kill()
                    process.communicate()
                    if self.cancel.is_set():
                        raise Interrupted(f"{argv[0]} in {self.where}: interrupted, stopped") from None
                    raise TargetError(f"{argv[0]} in {self.where}: still running after {timeout} s, stopped") from None

    def read_to(self, path: str, sink: BinaryIO) -> str:
        digest = hashlib.sha256()
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise FileMissing(f"{path} does not exist in {self.where}") from None
        with handle:
            while chunk := handle.read(CHUNK):
                if self.cancel.is_set():
                    raise Interrupted(f"reading {path} in {self.where}: interrupted")
                digest.update(chunk)
                sink.write(chunk)
        return digest.hexdigest()

    def write_from(self, source: BinaryIO, size: int, path: str) -> str:
        sent = hashlib.sha256()
        left = size
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            while left > 0:
                if self.cancel.is_set():
                    raise Interrupted(f"writing {path} in {self.where}: interrupted")
                if self.fail_writes and left < size:
                    raise TargetError(f"writing {path} in {self.where}: the stream broke after {size - left} bytes "
                                      "(fake fail_on: write_from)")
                chunk = source.read(min(CHUNK, left, max(1, size // 2) if self.fail_writes else CHUNK))
                if not chunk:
                    raise TargetError(f"writing {path} in {self.where}: the source ended {left} bytes short")
                sent.update(chunk)
                out.write(chunk)
                left -= len(chunk)
        if self.corrupt_writes:
            with open(path, "r+b") as damaged:  # page 1's header survives, the rest is noise
                damaged.seek(100)
                damaged.write(b"\xde\xad" * 2000)
        landed = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                landed.update(chunk)
        if landed.hexdigest() != sent.hexdigest() and not self.corrupt_writes:
            raise TargetError(f"writing {path} in {self.where}: what landed differs from what was sent (sha256)")
        return landed.hexdigest()
