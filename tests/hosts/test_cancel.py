"""A cancelled command is stopped with everything it started, on @local and over real SSH.

`HostConnection.run(..., cancel=event)`: once the event is set the command's
processes (its group, and strays in sessions of their own) get SIGTERM, then
SIGKILL, and run raises Interrupted. Checked from outside with pgrep on the
machine the processes run on (the loopback sshd's users are local users), and
end to end: SIGINT / SIGTERM to a real `ajudaplay run` over SSH.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ajudaplay.errors import Interrupted
from ajudaplay.hosts.base import HostConnection
from ajudaplay.hosts.pyinfra_host import PyinfraSSHHost, connect_host
from tests.hosts.conftest import ssh_connection

SSH_USER = "ajtest07"
SHAPES = {
    "plain": "{s}",
    "ignores INT and TERM": "trap '' INT TERM; {s}",
    "own session": "setsid {s} & {s} & wait",
    "detached, output closed": "({s} >/dev/null 2>&1 </dev/null &); {s}",
}


def _pattern() -> str:
    return f"sleep {random.randint(3_000_000, 3_999_999)}"


def _pids(pattern: str, user: str | None = None) -> list[str]:
    who = ["-u", user] if user else []
    return subprocess.run(["pgrep", *who, "-f", pattern], capture_output=True, text=True).stdout.split()


def _wait(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def _gone(pattern: str, user: str | None = None, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while _pids(pattern, user):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture(params=["local", "ssh"])
def conn(request: pytest.FixtureRequest) -> Iterator[tuple[HostConnection, str | None]]:
    if request.param == "local":
        host = connect_host({"host": "@local"}, "local")
        user = None
    else:
        host = connect_host(ssh_connection(request.getfixturevalue("sshd"), user=SSH_USER, addr="127.0.0.7"), "ssh")
        user = SSH_USER
    yield host, user
    host.close()


@pytest.mark.parametrize("shape", list(SHAPES))
def test_cancel_stops_the_command_and_what_it_started(conn: tuple[HostConnection, str | None], shape: str) -> None:
    host, user = conn
    pattern = _pattern()
    cancel = threading.Event()
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(host.run(SHAPES[shape].format(s=pattern), cancel=cancel))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    _wait(lambda: bool(_pids(pattern, user)))
    time.sleep(0.2)
    cancel.set()
    worker.join(15)
    assert not worker.is_alive()
    assert isinstance(outcome[0], Interrupted) and "was stopped" in str(outcome[0])
    assert _gone(pattern, user), _pids(pattern, user)
    assert host.run("echo back").stdout == "back\n"  # the connection (and over SSH, a new shell) serves on


def test_a_command_with_stdin_is_stopped_too(conn: tuple[HostConnection, str | None]) -> None:
    host, user = conn  # over SSH: a channel of its own, not the shared shell
    pattern = _pattern()
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    with pytest.raises(Interrupted):
        host.run(f"cat >/dev/null; {pattern}", stdin="data", cancel=cancel)
    assert _gone(pattern, user)


def test_a_set_cancel_starts_nothing(conn: tuple[HostConnection, str | None], tmp_path: Path) -> None:
    host, _ = conn
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Interrupted, match="no further command"):
        host.run("touch /tmp/ajudaplay-never-$$", cancel=cancel)


def test_an_unset_cancel_changes_nothing(conn: tuple[HostConnection, str | None]) -> None:
    host, _ = conn
    res = host.run('echo "$AJUDAPLAY_CMD" | wc -c; exit 3', cancel=threading.Event())
    assert (res.rc, res.stdout.strip()) == (3, "33")  # 32 hex digits and a newline: the marker is there


def test_the_shared_shell_is_not_wedged_by_a_cancel(sshd: Any) -> None:
    host = connect_host(ssh_connection(sshd, user=SSH_USER, addr="127.0.0.7"), "ssh")
    assert isinstance(host, PyinfraSSHHost)
    try:
        host.run("true")
        before = host._shell._channel
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        with pytest.raises(Interrupted):
            host.run(_pattern(), cancel=cancel)
        assert host._shell._channel is None  # dropped, never written to again
        assert [host.run(f"echo {i}").stdout for i in range(3)] == ["0\n", "1\n", "2\n"]
        assert host._shell._channel is not None and host._shell._channel is not before
    finally:
        host.close()


def test_a_remote_command_past_its_deadline_is_stopped_on_the_host(sshd: Any) -> None:
    # No `timeout` wrapper on the host (forced off): our own deadline must stop the command there.
    host = connect_host(ssh_connection(sshd, user=SSH_USER, addr="127.0.0.7"), "ssh")
    assert isinstance(host, PyinfraSSHHost)
    try:
        host._has_timeout = False
        pattern = _pattern()
        res = host.run(pattern, timeout=0.2)  # deadline = timeout + grace + 3 s
        assert res.rc == 124 and "timed out" in res.stderr
        assert _gone(pattern, SSH_USER)
    finally:
        host.close()


# end to end: a real `ajudaplay run` over SSH, stopped by a signal ----------------------------
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_a_run_over_ssh_stops_the_remote_command(sshd: Any, tmp_path: Path, sig: int) -> None:
    pattern = _pattern()
    playbook = [{"hosts": "all", "tasks": [
        {"name": "long", "shell": f"trap '' INT TERM; setsid {pattern} & {pattern}"},
        {"name": "never", "shell": "true"},
    ]}]
    (tmp_path / "site.yml").write_text(yaml.safe_dump(playbook))
    target = {**ssh_connection(sshd, user=SSH_USER, addr="127.0.0.7"), "lock_path": f"/tmp/ajudaplay-cancel-{pattern[6:]}"}
    (tmp_path / "inv.yml").write_text(yaml.safe_dump({"targets": {"web": target}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ajudaplay", "run", str(tmp_path / "site.yml"), "-i", str(tmp_path / "inv.yml"),
         "--output", "json", "--no-journal"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    try:
        _wait(lambda: len(_pids(pattern, SSH_USER)) >= 2, timeout=30)
        time.sleep(0.3)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert _gone(pattern, SSH_USER), _pids(pattern, SSH_USER)
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    results = [(e["task"], e["status"]) for e in events if e["event"] == "task_result" and e["task"] != "acquire lock"]
    assert results == [("long", "interrupted")]
    assert events[-1]["outcome"] == "interrupted" and events[-1]["stats"]["web"]["interrupted"] == 1
    assert not Path(target["lock_path"]).exists()  # released, after the command had stopped
