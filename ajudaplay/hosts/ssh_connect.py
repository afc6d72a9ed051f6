"""Opening an SSH connection with pyinfra used as a library, and explaining why one failed.

pyinfra builds and authenticates the connection (its SSHConnector honours
~/.ssh/config, keys, agents, known_hosts and StrictHostKeyChecking) inside a
private State/Inventory per host, so no global context proxy is touched. What
comes back is the paramiko SSHClient on that one persistent transport, which
hosts/pyinfra_host.py runs commands on and hosts/ssh_files.py moves files over.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import TargetUnreachable
from ajudaplay.hosts.address import HostAddress

if TYPE_CHECKING:
    from paramiko import SSHClient


def open_ssh(addr: HostAddress) -> tuple[SSHClient, Any]:
    """Build a private pyinfra State with one host and connect it: (SSH client, pyinfra host)."""
    import logging

    from pyinfra.api.config import Config
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.state import State

    _quiet_pyinfra_logger(logging.getLogger("pyinfra"))
    data: dict[str, Any] = {
        "ssh_hostname": addr.hostname,
        "ssh_port": addr.port,
        "ssh_strict_host_key_checking": "yes" if addr.host_key_check else "no",
    }
    if addr.user:
        data["ssh_user"] = addr.user
    if addr.key:
        data["ssh_key"] = addr.key
    if not addr.host_key_check:
        data["ssh_known_hosts_file"] = os.devnull  # opted out: no key is compared, none is written
    elif addr.known_hosts:
        data["ssh_known_hosts_file"] = addr.known_hosts
    config = Config(CONNECT_TIMEOUT=max(1, int(addr.connect_timeout)), PARALLEL=1)  # type: ignore[no-untyped-call]
    inventory = _ssh_inventory(addr.hostname, data)
    state = State(inventory, config)
    host = next(iter(inventory))
    try:
        host.connector.connect()
    except PyinfraError as exc:
        raise TargetUnreachable(f"{addr.url}: {explain(exc, addr)}") from exc
    except Exception as exc:  # paramiko raises a zoo of types through pyinfra
        raise TargetUnreachable(f"{addr.url}: {explain(exc, addr)}") from exc
    host.connected = True
    state.activate_host(host)
    client: SSHClient | None = getattr(host.connector, "client", None)
    if client is None:
        raise TargetUnreachable(f"{addr.url}: pyinfra returned no SSH client")
    transport = client.get_transport()
    if transport is not None:
        transport.set_keepalive(30)  # idle connections survive NAT/firewall timeouts in long runs
    if transport is not None and addr.tcp_nodelay:
        sock = transport.sock
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client, host


def wrap(command: str, env: dict[str, str] | None) -> str:
    """pyinfra's `sh -c '...'` wrapping, with the environment exported inside it."""
    from pyinfra.api.command import StringCommand
    from pyinfra.connectors.util import make_unix_command

    wrapped: str = make_unix_command(StringCommand(command), _env=env or None).get_raw_value()
    return wrapped


def _ssh_inventory(hostname: str, data: dict[str, Any]) -> Any:
    """A pyinfra Inventory holding one SSH host.

    pyinfra's Inventory looks its connectors up through importlib entry points
    (a scan of site-packages, ~20 ms of CPU) every time it is built; with one
    Inventory per target that dominated a 30-host run. The host here is always
    SSH, so the subclass names the connector class directly.
    """
    from pyinfra.api.host import Host
    from pyinfra.api.inventory import Inventory
    from pyinfra.connectors.ssh import SSHConnector

    class OneSSHHostInventory(Inventory):
        def make_hosts_and_groups(self, names: Any, groups: Any) -> None:
            (name, host_data), = names
            self.host_data[name] = dict(host_data)
            self.hosts = {name: Host(name, inventory=self, groups=[], connector_cls=SSHConnector)}

    return OneSSHHostInventory(([(hostname, data)], {}))  # type: ignore[no-untyped-call]


def explain(exc: BaseException, addr: HostAddress) -> str:
    """A one-line reason for a failed connect, from the innermost cause pyinfra/paramiko gave."""
    inner: BaseException = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        nxt = inner.__cause__ or inner.__context__
        assert nxt is not None
        inner = nxt
    text = str(inner) or type(inner).__name__
    causes = list(getattr(inner, "errors", {}).values()) or [inner]  # paramiko NoValidConnectionsError
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "connection refused"
    if isinstance(inner, socket.timeout) or isinstance(inner, TimeoutError):
        return f"connection timed out after {addr.connect_timeout:g}s"
    if "No host key for" in text or "StrictPolicy" in text:
        where = addr.known_hosts or "~/.ssh/known_hosts"
        return (
            f"host key is not in {where}; add it (ssh-keyscan -p {addr.port} {addr.hostname} >> {where}) "
            "or set `host_key_check: false` for this target"
        )
    if "does not match" in str(exc):
        return f"host key does not match the one in {addr.known_hosts or '~/.ssh/known_hosts'} (possible man-in-the-middle)"
    if "Authentication" in str(exc):
        return f"authentication failed ({exc})"
    return str(exc) or text


def _quiet_pyinfra_logger(logger: Any) -> None:
    """pyinfra logs through `logging`; without a handler Python prints its warnings to stderr."""
    import logging

    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
