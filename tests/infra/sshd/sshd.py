"""A real OpenSSH server on loopback for tests and benchmarks.

    from tests.infra.sshd.sshd import SSHServer
    with SSHServer() as srv:
        subprocess.run(["ssh", *srv.ssh_options(), "ajtest01@127.0.0.2", "true"])
        srv.stop()   # host goes down mid-run (open sessions are killed too)
        srv.start()  # ... and comes back on the same port with the same keys

The server listens on 127.0.0.1 .. 127.0.0.<n_addresses>, loopback only (never
0.0.0.0), same port, keys and users everywhere, so tests can address up to 40
"hosts". One sshd process per address (OpenSSH allows at most 16 ListenAddress
sockets per process, and it lets a single "host" go down: stop(["127.0.0.5"])). Needs root (sshd, useradd) and openssh-server:
run tests/infra/sshd/setup.sh first. Standard library only.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SETUP_HINT = "run tests/infra/sshd/setup.sh (as root) first"
USERS = ["ajtest"] + [f"ajtest{i:02d}" for i in range(1, 31)]


def ensure_users(users=USERS) -> None:
    """Create the test users idempotently: /bin/sh login shell (root's bash
    profile starts pyenv, ~150 ms per command), a home, group docker."""
    missing = [u for u in users if not _user_exists(u)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"test users {missing} missing and not root: {SETUP_HINT}")
    subprocess.run(["groupadd", "-f", "docker"], check=True)
    for u in missing:
        # -p '*': no password but NOT locked ('!'), which sshd without PAM
        # would refuse even for public-key logins.
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", "-G", "docker", "-p", "*", u],
                       check=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _free_port(addresses) -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if all(_can_bind(a, port) for a in addresses):
            return port
    raise RuntimeError("no free port on all loopback addresses")


def _can_bind(addr: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((addr, port))
            return True
        except OSError:
            return False


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


class SSHServer:
    def __init__(self, n_addresses: int = 40, users=USERS, port: int | None = None,
                 log_level: str = "ERROR"):
        if not os.path.exists(SSHD):
            raise RuntimeError(f"{SSHD} not found (openssh-server missing): {SETUP_HINT}")
        if shutil.which("ssh-keygen") is None:
            raise RuntimeError(f"ssh-keygen not found (openssh-client missing): {SETUP_HINT}")
        ensure_users(users)
        self.users = list(users)
        self.addresses = [f"127.0.0.{i}" for i in range(1, n_addresses + 1)]
        self.dir = Path(tempfile.mkdtemp(prefix="ajudaplay-sshd-"))
        os.chmod(self.dir, 0o755)  # sshd (as the user) reads authorized_keys here
        self.port = port or _free_port(self.addresses)
        self.host_key = self.dir / "ssh_host_ed25519_key"
        self.client_key = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.authorized_keys = self.dir / "authorized_keys"
        self.config = self.dir / "sshd_config"
        self.log = self.dir / "sshd.log"
        self.procs: dict[str, subprocess.Popen] = {}
        self._log_level = log_level
        self._prepare()

    # -- setup -----------------------------------------------------------------
    def _prepare(self) -> None:
        for key in (self.host_key, self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ajudaplay-test",
                            "-f", str(key)], check=True)
        pub = self.client_key.with_suffix(".pub").read_text()
        self.authorized_keys.write_text(pub)
        os.chmod(self.authorized_keys, 0o644)
        host_pub = " ".join(self.host_key.with_suffix(".pub").read_text().split()[:2])
        names = ",".join([f"[{a}]:{self.port}" for a in self.addresses] + [f"[localhost]:{self.port}"])
        self.known_hosts.write_text(f"{names} {host_pub}\n")
        # ListenAddress and PidFile are given per process on the command line.
        self.config.write_text(f"""\
HostKey {self.host_key}
AuthorizedKeysFile {self.authorized_keys} .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM: faster logins; needs non-locked accounts (useradd -p '*').
UsePAM no
# Temp dir and homes are not owned the way StrictModes wants.
StrictModes no
UseDNS no
# 30 parallel clients connecting at once must not be throttled/dropped.
MaxStartups 100:30:200
MaxSessions 100
LoginGraceTime 30
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
PermitRootLogin no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel {self._log_level}
""")

    # -- lifecycle -------------------------------------------------------------
    def start(self, addresses=None, timeout: float = 10.0) -> "SSHServer":
        """Start sshd on all (or the given) addresses; returns once they answer."""
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege-separation dir
        todo = [a for a in (addresses or self.addresses) if not self.running_on(a)]
        with open(self.log, "ab") as logf:
            for a in todo:
                # New session: not hit by the test runner's Ctrl-C.
                self.procs[a] = subprocess.Popen(
                    [SSHD, "-D", "-e", "-f", str(self.config), "-o", f"ListenAddress={a}:{self.port}",
                     "-o", f"PidFile={self.dir}/sshd-{a}.pid"],
                    stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
        deadline = time.monotonic() + timeout
        for a in todo:
            while not self._banner_ok(a):
                if self.procs[a].poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"sshd on {a}:{self.port} did not come up:\n"
                                       f"{self.log.read_text()[-2000:]}")
                time.sleep(0.01)
        return self

    def _banner_ok(self, addr: str) -> bool:
        try:
            with socket.create_connection((addr, self.port), timeout=1) as s:
                return s.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def running_on(self, addr: str) -> bool:
        p = self.procs.get(addr)
        return p is not None and p.poll() is None

    @property
    def running(self) -> bool:
        return any(self.running_on(a) for a in self.addresses)

    def stop(self, addresses=None) -> None:
        """Kill sshd (all, or the given addresses) with all its open sessions:
        simulates hosts going down mid-run. start() brings them back."""
        for a in list(addresses or self.procs):
            p = self.procs.pop(a, None)
            if p is None:
                continue
            # sshd puts each connection in its own session (setsid), so walk the
            # process tree: listener, connection handlers, user commands.
            for pid in [p.pid] + _descendants(p.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "SSHServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- helpers for clients ---------------------------------------------------
    def ssh_options(self) -> list[str]:
        """Options for the `ssh` command line (add USER@127.0.0.x and a command)."""
        return ["-i", str(self.client_key), "-p", str(self.port),
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]

    def docker_env(self, user: str = "ajtest", addr: str = "127.0.0.1") -> dict:
        """Environment for `docker`/`docker-compose` over SSH to this server: the
        docker CLI runs plain `ssh` from PATH, so put a wrapper that adds our
        key/known_hosts (via -F) first on PATH."""
        bindir = self.dir / "bin"
        if not bindir.exists():
            bindir.mkdir()
            (self.dir / "ssh_config").write_text(self.ssh_config())
            wrapper = bindir / "ssh"
            wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {self.dir}/ssh_config "$@"\n')
            wrapper.chmod(0o755)
        return {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '')}",
                "DOCKER_HOST": f"ssh://{user}@{addr}:{self.port}"}

    def ssh_config(self) -> str:
        """An ssh_config snippet matching every loopback test address."""
        return (f"Host 127.0.0.* localhost\n  Port {self.port}\n  IdentityFile {self.client_key}\n"
                f"  IdentitiesOnly yes\n  UserKnownHostsFile {self.known_hosts}\n"
                f"  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n")


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["ensure-users"]:
        ensure_users()
        print(f"users ok: {USERS[0]}, {USERS[1]}..{USERS[-1]} (shell /bin/sh, group docker)")
    elif sys.argv[1:] == ["serve"]:  # manual use: runs until Ctrl-C
        with SSHServer() as srv:
            print(f"sshd on 127.0.0.1-{srv.addresses[-1]} port {srv.port}")
            print("ssh " + " ".join(srv.ssh_options()) + " ajtest01@127.0.0.2 true", flush=True)
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
    else:
        sys.exit("usage: sshd.py ensure-users | serve")
