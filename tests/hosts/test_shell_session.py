"""Commands run in the connection's long-lived shell give what a channel of their own gives.

The reference is `_run_on_channel` (one SSH channel per command, the way every
command ran before the shell session): same exit status, same stdout and
stderr bytes, and no command can leave anything behind for the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ajudaplay.errors import TargetUnreachable
from ajudaplay.hosts.pyinfra_host import PyinfraSSHHost, _wrap, connect_host
from tests.hosts.conftest import ssh_connection

COMMANDS = [
    "true",
    "false",
    "printf abc",  # no trailing newline
    "printf 'a\\n\\nb\\n\\n'",  # trailing blank lines are output too
    "echo out; echo err >&2; exit 3",
    "for i in 1 2 3; do echo $i; echo e$i >&2; done",
    "printf '\\001\\002\\377 bytes'",
    "printf '\\n%s %d\\n' 0123456789abcdef0123456789abcdef 0",  # looks like an end-of-command line
    "cat; echo after-stdin",  # stdin is at end of file: cat returns at once
    "exit 300",
    "echo 'unbalanced",  # a syntax error stays inside the command's own sh -c
    "set -e; false; echo never",
    "echo $0",
    "head -c 300000 /dev/zero | tr '\\0' x; head -c 200000 /dev/zero | tr '\\0' y >&2",
    "cd / && pwd",
]


@pytest.fixture
def host(sshd: Any) -> Iterator[PyinfraSSHHost]:
    conn = connect_host(ssh_connection(sshd), "shell")
    assert isinstance(conn, PyinfraSSHHost)
    yield conn
    conn.close()


def on_channel(host: PyinfraSSHHost, command: str) -> tuple[int, str, str]:
    import time

    res = host._run_on_channel(command, _wrap(command, None), None, None, time.monotonic(), None)
    return res.rc, res.stdout, res.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_same_result_as_a_channel_of_its_own(host: PyinfraSSHHost, command: str) -> None:
    res = host.run(command)
    assert (res.rc, res.stdout, res.stderr) == on_channel(host, command)


def test_one_shell_serves_many_commands_and_keeps_no_state(host: PyinfraSSHHost) -> None:
    home = host.run("pwd").stdout
    host.run("cd /tmp; export LEFT=over; umask 077; exit 7")
    shell = host._shell._channel
    assert shell is not None
    res = host.run('pwd; echo "${LEFT:-unset}"; umask')
    assert res.stdout == home + "unset\n" + on_channel(host, "umask")[1]
    assert host._shell._channel is shell  # still the same shell


def test_a_command_that_kills_the_shell_is_reported_and_the_next_one_works(host: PyinfraSSHHost) -> None:
    host.run("true")
    with pytest.raises(TargetUnreachable, match="connection lost while running a command"):
        host.run("kill -9 $PPID; sleep 5")  # $PPID of the command's sh is the session's shell
    assert host.run("echo back").stdout == "back\n"


def test_env_and_timeout_go_through_the_shell(host: PyinfraSSHHost) -> None:
    res = host.run('printf "%s" "$A"', env={"A": "it's $HOME"}, timeout=5)
    assert (res.rc, res.stdout) == (0, "it's $HOME")
    res = host.run("sleep 3", timeout=0.3)
    assert res.rc == 124 and "timed out after 0.3s" in res.stderr
    assert host.run("echo fine").stdout == "fine\n"


def test_login_output_is_not_taken_for_a_command_output(sshd: Any) -> None:
    rc_file = Path("/home/ajtest20/.ssh/rc")  # sshd runs it with /bin/sh at the start of every session
    rc_file.parent.mkdir(exist_ok=True)
    rc_file.write_text("echo printed by .ssh/rc\n")
    try:
        conn = connect_host(ssh_connection(sshd, user="ajtest20", addr="127.0.0.20"), "rc")
        try:
            assert conn.run("echo first").stdout == "first\n"
            assert conn.run("echo second").stdout == "second\n"
        finally:
            conn.close()
    finally:
        rc_file.unlink()
