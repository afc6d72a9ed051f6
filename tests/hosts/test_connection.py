"""PyinfraSSHHost / LocalHost: commands, files, host keys, unreachable hosts, timeouts."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from ajudaplay.errors import TargetError, TargetUnreachable
from ajudaplay.hosts.address import parse_connection
from ajudaplay.hosts.pyinfra_host import connect_host
from ajudaplay.targets.host import HostTarget
from tests.hosts.conftest import MARK, ssh_connection


def test_run_reports_rc_output_env_stdin(target: HostTarget) -> None:
    host = target.host()
    res = host.run("echo out; echo err >&2; exit 4")
    assert (res.rc, res.stdout, res.stderr, res.ok) == (4, "out\n", "err\n", False)
    res = host.run('printf "%s|" "$A" "$B"; cat', env={"A": "x y", "B": "it's $HOME"}, stdin="line1\nline2")
    assert res.stdout == "x y|it's $HOME|line1\nline2"


def test_run_timeout_stops_the_command(target: HostTarget) -> None:
    marker = f"/tmp/ajudaplay-timeout-{uuid.uuid4().hex[:8]}"
    res = target.host().run(f"sleep 1.2; touch {marker}", timeout=0.3)
    assert res.rc == 124 and "timed out after 0.3s" in res.stderr and res.duration < 1.1
    import time

    time.sleep(1.3)
    assert target.host().run(f"test -e {marker}").rc != 0, "the timed-out command kept running"


def test_binary_files_roundtrip_atomically_with_mode(target: HostTarget, workdir: str) -> None:
    host = target.host()
    path = f"{workdir}/blob"
    payload = os.urandom(300_000) + b"\0\r\n\xff"
    host.write_file(path, payload, 0o600)
    assert host.read_file(path) == payload
    assert host.run(f"stat -c %a {path}").stdout.strip() == "600"
    host.write_file(path, b"second")  # mode None keeps the existing mode
    assert host.read_file(path) == b"second"
    assert host.run(f"stat -c %a {path}").stdout.strip() == "600"
    assert host.run(f"ls -a {workdir}").stdout.split() == [".", "..", "blob"]  # no temp files left
    assert host.read_file(f"{workdir}/missing") is None
    with pytest.raises(TargetError, match="cannot write"):
        host.write_file(f"{workdir}/no/such/dir/f", b"x")


def test_unknown_host_key_is_refused_with_a_hint(sshd: Any, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(TargetUnreachable) as info:
        connect_host(ssh_connection(sshd, known_hosts=str(empty)), "web")
    message = str(info.value)
    assert message.startswith(f"ssh://ajtest@127.0.0.1:{sshd.port}: host key is not in {empty}")
    assert "host_key_check: false" in message
    assert info.value.__cause__ is not None


def test_mismatched_host_key_is_refused(sshd: Any, tmp_path: Path) -> None:
    wrong = tmp_path / "known_hosts"
    other = tmp_path / "other_key"
    os.system(f"ssh-keygen -q -t ed25519 -N '' -f {other}")
    pub = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {pub}\n")
    with pytest.raises(TargetUnreachable, match="does not match"):
        connect_host(ssh_connection(sshd, known_hosts=str(wrong)), "web")


def test_host_key_check_opt_out_connects(sshd: Any, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    host = connect_host(ssh_connection(sshd, known_hosts=str(empty), host_key_check=False), "web")
    try:
        assert host.run("whoami").stdout.strip() == "ajtest"
    finally:
        host.close()
    assert empty.read_text() == ""  # opting out never writes keys


def test_host_key_check_opt_out_ignores_a_changed_key(sshd: Any, tmp_path: Path) -> None:
    wrong = tmp_path / "known_hosts"
    other = tmp_path / "other_key"
    os.system(f"ssh-keygen -q -t ed25519 -N '' -f {other}")
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(other.with_suffix('.pub').read_text().split()[:2])}\n")
    before = wrong.read_text()
    host = connect_host(ssh_connection(sshd, known_hosts=str(wrong), host_key_check=False), "web")
    try:
        assert host.run("echo ok").stdout == "ok\n"
    finally:
        host.close()
    assert wrong.read_text() == before


def test_unreachable_when_sshd_is_down(sshd: Any) -> None:
    addr = "127.0.0.19"
    sshd.stop([addr])
    try:
        with pytest.raises(TargetUnreachable) as info:
            connect_host(ssh_connection(sshd, addr=addr), "web")
        assert str(info.value) == f"ssh://ajtest@{addr}:{sshd.port}: connection refused"
        assert info.value.__cause__ is not None
    finally:
        sshd.start([addr])


def test_connection_lost_mid_run_is_unreachable(sshd: Any) -> None:
    addr = "127.0.0.18"
    host = connect_host(ssh_connection(sshd, addr=addr), "web")
    try:
        assert host.run("true").ok
        sshd.stop([addr])
        with pytest.raises(TargetUnreachable):
            host.run("true")
    finally:
        host.close()
        sshd.start([addr])


def test_bad_user_is_an_authentication_error(sshd: Any) -> None:
    with pytest.raises(TargetUnreachable, match="authentication failed"):
        connect_host(ssh_connection(sshd, user="nosuchuser"), "web")


@pytest.mark.parametrize(
    "connection, expected",
    [
        ({"host": "@local"}, "@local"),
        ({}, "@local"),
        ({"host": "ssh://deploy@10.0.0.5"}, "ssh://deploy@10.0.0.5:22"),
        ({"host": "deploy@10.0.0.5:2222"}, "ssh://deploy@10.0.0.5:2222"),
        ({"host": "10.0.0.5", "user": "ops", "port": 2200}, "ssh://ops@10.0.0.5:2200"),
    ],
)
def test_parse_connection(connection: dict[str, Any], expected: str) -> None:
    assert parse_connection(connection, "t").url == expected


def test_password_is_refused_with_a_hint() -> None:
    with pytest.raises(TargetError, match="password authentication is not supported; use `key"):
        parse_connection({"host": "ssh://a@b", "password": "x"}, "t")


def test_target_close_is_idempotent_and_reopens(sshd: Any) -> None:
    from ajudaplay.inventory.model import TargetSpec

    t = HostTarget(TargetSpec(name="w", kind="host", mark=MARK, connection=ssh_connection(sshd)))
    t.close()
    assert t.host().run("echo 1").stdout == "1\n"
    t.close()
    t.close()
    assert t.host().run("echo 2").stdout == "2\n"
    t.close()


def test_large_stdout_and_stderr_do_not_stall(target: HostTarget) -> None:
    """Megabytes on stderr while stdout is quiet must not deadlock the shared SSH window."""
    res = target.host().run(
        "head -c 5000000 /dev/zero | tr '\\0' e >&2; echo done; head -c 3000000 /dev/zero | tr '\\0' o", timeout=60
    )
    assert res.rc == 0
    assert len(res.stderr) == 5_000_000 and set(res.stderr) == {"e"}
    assert res.stdout.startswith("done\n") and len(res.stdout) == 5 + 3_000_000
