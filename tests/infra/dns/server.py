"""A tiny authoritative DNS server on 127.0.0.1 for the dns tests: dnspython builds the answers.

It stands in for a public resolver (nothing outside this machine can be
reached from the tests): the test gives it a zone as {name: {type: [values]}}
and points the `dns` action's `nameserver` at it. Names it does not know get
NXDOMAIN; a known name without the asked type gets an empty answer (NOERROR);
names listed in `silent` are never answered (a resolver that times out).
One UDP socket on a free port, served by a daemon thread.
"""

from __future__ import annotations

import socket
import threading
from typing import Any


class DNSServer:
    """`with DNSServer({"api.example.test": {"A": ["127.0.0.1"]}}) as dns: dns.address` -> "127.0.0.1:PORT"."""

    def __init__(self, zone: dict[str, dict[str, list[str]]], silent: tuple[str, ...] = ()) -> None:
        self.zone = {k.rstrip(".").lower(): v for k, v in zone.items()}
        self.silent = {s.rstrip(".").lower() for s in silent}
        self.queries: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="test-dns")

    def __enter__(self) -> DNSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self.sock.close()

    def _serve(self) -> None:
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                query = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 - a test server ignores garbage
                continue
            question = query.question[0]
            name = str(question.name).rstrip(".").lower()
            rtype = dns.rdatatype.to_text(question.rdtype)
            self.queries.append((name, rtype))
            if name in self.silent:
                continue
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.AA
            known = self.zone.get(name)
            if known is None:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            else:
                for value in known.get("CNAME", []) if rtype != "CNAME" else []:
                    reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "CNAME", value + "."))
                    target = self.zone.get(value.rstrip(".").lower()) or {}
                    if target.get(rtype):
                        reply.answer.append(dns.rrset.from_text(value + ".", 60, "IN", rtype, *target[rtype]))
                values = known.get(rtype, [])
                if values:
                    shown = [v + "." if rtype == "CNAME" else v for v in values]
                    reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", rtype, *shown))
            try:
                self.sock.sendto(reply.to_wire(), peer)
            except OSError:
                pass
