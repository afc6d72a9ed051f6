"""A TLS-terminating HTTP/1.1 proxy in front of the apiserver that counts requests and injects errors or stalls."""

from __future__ import annotations

import json
import re
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from tests.infra.k8s.controlplane import ControlPlane, write_kubeconfig

_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
            410: "Expired", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
            503: "ServiceUnavailable", 504: "Timeout"}


@dataclass
class Rule:
    """One fault: kind 'error' or 'stall', on requests whose 'METHOD /path?query' matches."""

    kind: str
    match: re.Pattern[str] | None
    remaining: int | None  # None = unlimited
    status: int = 500
    seconds: float = 0.0
    hits: int = 0


@dataclass(frozen=True)
class Seen:
    """A request the proxy saw; `injected` is the fault applied to it, if any."""

    method: str
    path: str
    query: str
    user_agent: str
    injected: str | None

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}" + (f"?{self.query}" if self.query else "")


def _read_head(f: BinaryIO) -> bytes | None:
    lines: list[bytes] = []
    while True:
        line = f.readline(65537)
        if not line:
            return None if not lines else b"".join(lines)
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _headers(head: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in head.split(b"\r\n")[1:]:
        if b":" in raw:
            k, v = raw.split(b":", 1)
            out[k.decode("latin-1").strip().lower()] = v.decode("latin-1").strip()
    return out


class FaultProxy:
    """Sits between a client and the apiserver; kubeconfig points at it with the control plane's CA and tokens."""

    def __init__(self, control_plane: ControlPlane, workdir: Path | None = None) -> None:
        self.cp = control_plane
        up = urlsplit(control_plane.server)
        self.upstream = (up.hostname or "127.0.0.1", up.port or 443)
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="ajudaplay-faultproxy-", dir=control_plane.workdir))
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.server = ""
        self.context = control_plane.context

    # public API --------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "proxy-admin.kubeconfig"

    @property
    def restricted_kubeconfig(self) -> Path:
        return self.workdir / "proxy-viewer.kubeconfig"

    def pass_through(self) -> None:
        """Mode `pass`: forget all faults."""
        with self._lock:
            self.rules.clear()

    def error(self, status: int = 500, count: int | None = 1, match: str | None = None) -> Rule:
        """Answer the next `count` matching requests (None = all) with a Status error `status`."""
        return self._add(Rule("error", re.compile(match) if match else None, count, status=status))

    def stall(self, seconds: float, match: str | None = None, count: int | None = None) -> Rule:
        """Hold matching requests for `seconds` before forwarding them."""
        return self._add(Rule("stall", re.compile(match) if match else None, count, seconds=seconds))

    def count(self, match: str | None = None, user_agent: str | None = None) -> int:
        """Requests seen whose 'METHOD /path?query' matches the regex (and whose User-Agent contains `user_agent`)."""
        pat = re.compile(match) if match else None
        with self._lock:
            return sum(1 for s in self.seen if (not pat or pat.search(s.line))
                       and (user_agent is None or user_agent in s.user_agent))

    def reset_counts(self) -> None:
        with self._lock:
            self.seen.clear()

    # lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "FaultProxy":
        self.workdir.mkdir(parents=True, exist_ok=True)
        crt, key = self.cp.ca().issue("ajudaplay-fault-proxy", ["localhost"], ["127.0.0.1"])
        (self.workdir / "proxy.crt").write_bytes(crt)
        (self.workdir / "proxy.key").write_bytes(key)
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.load_cert_chain(self.workdir / "proxy.crt", self.workdir / "proxy.key")
        self._server_ctx.set_alpn_protocols(["http/1.1"])  # keep clients off HTTP/2
        self._client_ctx = ssl.create_default_context(cafile=str(self.cp.ca_file))
        self._client_ctx.set_alpn_protocols(["http/1.1"])
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(0.5)
        self.server = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        write_kubeconfig(self.kubeconfig, server=self.server, ca_file=self.cp.ca_file, token=self.cp.token,
                         user="admin", context=self.context)
        write_kubeconfig(self.restricted_kubeconfig, server=self.server, ca_file=self.cp.ca_file,
                         token=self.cp.restricted_token, user=self.cp.restricted_user, context=self.context,
                         namespace=self.cp.restricted_namespace)
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)
        if self._listener:
            self._listener.close()

    # internals ------------------------------------------------------------------------
    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def _spawn(self, target: object, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name="faultproxy")  # type: ignore[arg-type]
        t.start()
        self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self._spawn(self._serve, conn)

    def _track(self, s: socket.socket, add: bool) -> None:
        with self._lock:
            (self._socks.add if add else self._socks.discard)(s)

    def _pick(self, method: str, target: str, ua: str) -> Rule | None:
        split = target.split("?", 1)
        with self._lock:
            rule = next((r for r in self.rules if not r.match or r.match.search(f"{method} {target}")), None)
            if rule:
                rule.hits += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self.rules.remove(rule)
            self.seen.append(Seen(method, split[0], split[1] if len(split) > 1 else "", ua,
                                  f"{rule.kind}:{rule.status if rule.kind == 'error' else rule.seconds}"
                                  if rule else None))
        return rule

    def _connect_upstream(self) -> tuple[ssl.SSLSocket, BinaryIO]:
        raw = socket.create_connection(self.upstream, timeout=10)
        raw.settimeout(None)
        up = self._client_ctx.wrap_socket(raw, server_hostname=self.upstream[0])
        self._track(up, True)
        return up, up.makefile("rb")

    def _serve(self, raw: socket.socket) -> None:
        self._track(raw, True)
        up: ssl.SSLSocket | None = None
        try:
            cs = self._server_ctx.wrap_socket(raw, server_side=True)
            self._track(cs, True)
            cf = cs.makefile("rb")
            uf: BinaryIO | None = None
            while not self._stop.is_set():
                head = _read_head(cf)
                if not head:
                    return
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                method, target = request_line[0], request_line[1] if len(request_line) > 1 else "/"
                hdrs = _headers(head)
                body = self._read_body(cf, hdrs)
                rule = self._pick(method, target, hdrs.get("user-agent", ""))
                if rule and rule.kind == "stall" and self._stop.wait(rule.seconds):
                    return
                if rule and rule.kind == "error":
                    cs.sendall(self._error_response(rule.status))
                    if hdrs.get("connection", "").lower() == "close":
                        return
                    continue
                for attempt in (0, 1):  # an idle upstream keep-alive may have been closed: reconnect once
                    if up is None:
                        up, uf = self._connect_upstream()
                    assert uf is not None
                    try:
                        up.sendall(head + body)
                        resp_head = _read_head(uf)
                    except OSError:
                        resp_head = None
                    if resp_head or attempt:
                        break
                    self._close(up)
                    up = None
                if not resp_head or up is None or uf is None:
                    return
                cs.sendall(resp_head)
                if not self._relay_response(method, resp_head, uf, cs, cf, up):
                    return
        except (OSError, ValueError, ssl.SSLError):
            return
        finally:
            if up is not None:
                self._close(up)
            self._close(raw)

    def _close(self, s: socket.socket) -> None:
        self._track(s, False)
        try:
            s.close()
        except OSError:
            pass

    @staticmethod
    def _read_body(f: BinaryIO, hdrs: dict[str, str]) -> bytes:
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            parts = []
            while True:
                line = f.readline()
                parts.append(line)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = f.readline()
                        parts.append(trailer)
                        if trailer in (b"\r\n", b"\n", b""):
                            return b"".join(parts)
                parts.append(f.read(size + 2))
        n = int(hdrs.get("content-length", "0") or 0)
        return f.read(n) if n else b""

    def _relay_response(self, method: str, head: bytes, uf: BinaryIO, cs: socket.socket, cf: BinaryIO,
                        up: socket.socket) -> bool:
        """Stream the response body to the client; False when the connection must end."""
        status = int(head.split(b" ", 2)[1])
        hdrs = _headers(head)
        if status == 101:  # exec/attach/port-forward upgrade: raw bidirectional pipe
            self._spawn(self._pipe, cf, cs)
            self._pipe(uf, cs, up)
            return False
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            pass
        elif "chunked" in hdrs.get("transfer-encoding", "").lower():
            while True:  # forward chunk by chunk so watch events are not held back
                line = uf.readline()
                if not line:
                    return False
                cs.sendall(line)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = uf.readline()
                        cs.sendall(trailer)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                cs.sendall(uf.read(size + 2))
        elif "content-length" in hdrs:
            left = int(hdrs["content-length"])
            while left > 0:
                data = uf.read(min(left, 65536))
                if not data:
                    return False
                cs.sendall(data)
                left -= len(data)
        else:
            while data := uf.read1(65536):  # type: ignore[attr-defined]
                cs.sendall(data)
            return False
        return hdrs.get("connection", "").lower() != "close"

    def _pipe(self, src: BinaryIO, dst: socket.socket, also: socket.socket | None = None) -> None:
        try:
            while data := src.read1(65536):  # type: ignore[attr-defined]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (dst, also):
                if s is not None:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    @staticmethod
    def _error_response(status: int) -> bytes:
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": f"ajudaplay fault proxy: injected HTTP {status}",
                           "reason": _REASONS.get(status, "InternalError"), "code": status}).encode()
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        extra = "Retry-After: 1\r\n" if status == 429 else ""
        return (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body
