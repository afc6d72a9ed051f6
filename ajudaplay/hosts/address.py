"""Parse a host/compose target's `connection` mapping into a typed address.

Kept apart from the pyinfra code so inventory validation and error messages can
use it without importing pyinfra or paramiko.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ajudaplay.errors import TargetError

LOCAL = "@local"
LOCAL_NAMES = (LOCAL, "localhost-local", "local")


@dataclass(frozen=True)
class HostAddress:
    """Where and how to connect: `@local`, or SSH with user, port, key and host-key policy."""

    local: bool
    hostname: str = ""
    user: str | None = None
    port: int = 22
    key: str | None = None
    known_hosts: str | None = None
    host_key_check: bool = True
    connect_timeout: float = 10.0
    tcp_nodelay: bool = True

    @property
    def url(self) -> str:
        """The address as users write it, for messages: `@local` or `ssh://user@host:port`."""
        if self.local:
            return LOCAL
        user = f"{self.user}@" if self.user else ""
        return f"ssh://{user}{self.hostname}:{self.port}"


def is_local(connection: dict[str, Any]) -> bool:
    """Whether a connection mapping means the controller itself (`@local`, also the default)."""
    return str(connection.get("host") or LOCAL).strip() in LOCAL_NAMES


def parse_connection(connection: dict[str, Any], name: str) -> HostAddress:
    """Turn {"host": "@local" | "ssh://user@host:port", "key": ..., ...} into a HostAddress."""
    if connection.get("password") is not None:
        raise TargetError(
            f"target {name!r}: SSH password authentication is not supported; "
            "use `key: path/to/private_key` (or an ssh-agent)"
        )
    raw = str(connection.get("host") or LOCAL).strip()
    timeout = float(connection.get("connect_timeout", 10.0))
    nodelay = bool(connection.get("tcp_nodelay", True))
    if raw in LOCAL_NAMES:
        return HostAddress(local=True, connect_timeout=timeout, tcp_nodelay=nodelay)
    text = raw if "://" in raw else f"ssh://{raw}"
    parts = urlsplit(text)
    if parts.scheme != "ssh" or not parts.hostname:
        raise TargetError(
            f"target {name!r}: cannot read host {raw!r}; expected '@local' or 'ssh://user@host:port'"
        )
    try:
        port = parts.port or int(connection.get("port", 22))
    except ValueError as exc:
        raise TargetError(f"target {name!r}: bad port in {raw!r}: {exc}") from exc
    user = unquote(parts.username) if parts.username else connection.get("user")
    key = connection.get("key")
    known_hosts = connection.get("known_hosts")
    return HostAddress(
        local=False,
        hostname=parts.hostname,
        user=str(user) if user else None,
        port=port,
        key=os.path.expanduser(str(key)) if key else None,
        known_hosts=os.path.expanduser(str(known_hosts)) if known_hosts else None,
        host_key_check=bool(connection.get("host_key_check", True)),
        connect_timeout=timeout,
        tcp_nodelay=nodelay,
    )
