"""DNS answers for the runbook's "DNS Issues": from the controller (dnspython) and as read inside a service.

`resolve` asks the controller's resolver (or a given `nameserver` ip[:port], for
split-horizon checks and tests) for each name and record type; NXDOMAIN, an
empty answer and a timeout are answers (a `status`), never exceptions.
`parse_getent` / `parse_nslookup` read what a service's own tools print (the
action runs them through exec), and `compare` says where the two views differ.
What a resolver or a tool returns is data: it is never rendered or executed.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable

__all__ = ["TYPES", "compare", "parse_getent", "parse_nslookup", "parse_nameserver", "resolve"]

TYPES = ("A", "AAAA", "CNAME")
DEFAULT_TYPES = ("A", "AAAA")


def parse_nameserver(text: str) -> tuple[str, int]:
    """`ip`, `ip:port`, `[v6]:port` -> (ip, port); ValueError with the reason otherwise."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.lstrip(":"))
    elif text.count(":") == 1:
        host, _, raw = text.partition(":")
        port = int(raw)
    ipaddress.ip_address(host)  # a name here would need a resolver to find the resolver
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return host, port


def resolve(names: Iterable[str], types: Iterable[str] = DEFAULT_TYPES, *, nameserver: str | None = None,
            timeout: float = 5.0) -> dict[str, dict[str, dict[str, Any]]]:
    """{name: {type: {"status": ok|nxdomain|noanswer|timeout|error, "answers": [...], "error"?}}}."""
    import dns.exception
    import dns.resolver

    if nameserver:
        resolver = dns.resolver.Resolver(configure=False)
        host, port = parse_nameserver(nameserver)
        resolver.nameservers = [host]
        resolver.port = port
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration as exc:
            return {n: {t: {"status": "error", "answers": [], "error": f"no resolver configured: {exc}"} for t in types}
                    for n in names}
    resolver.lifetime = timeout
    resolver.timeout = timeout
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        out[name] = {}
        for rtype in types:
            try:
                answer = resolver.resolve(name, rtype, raise_on_no_answer=False, search=False)
                values = sorted({_text(r) for r in answer} if answer.rrset is not None else set())
                entry: dict[str, Any] = {"status": "ok" if values else "noanswer", "answers": values}
                canonical = str(answer.canonical_name).rstrip(".")
                if canonical and canonical != name.rstrip("."):
                    entry["canonical"] = canonical  # the name was an alias (CNAME chain) of this one
            except dns.resolver.NXDOMAIN:
                entry = {"status": "nxdomain", "answers": []}
            except dns.resolver.NoNameservers as exc:
                entry = {"status": "error", "answers": [], "error": _short(exc)}
            except dns.exception.Timeout:
                entry = {"status": "timeout", "answers": [], "error": f"no answer within {timeout:g} s"}
            except dns.exception.DNSException as exc:
                entry = {"status": "error", "answers": [], "error": _short(exc)}
            out[name][rtype] = entry
    return out


def _text(record: Any) -> str:
    """An A/AAAA address, or a CNAME target without its final dot."""
    target = getattr(record, "target", None)
    return str(target).rstrip(".") if target is not None else str(record.to_text())


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def parse_getent(text: str) -> list[str]:
    """`getent ahosts NAME` lines ("ADDR  STREAM name") -> the distinct addresses, in order."""
    seen: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if parts and _is_ip(parts[0]) and parts[0] not in seen:
            seen.append(parts[0])
    return seen


_NXDOMAIN = re.compile(r"NXDOMAIN|can't find|can't resolve|not found", re.I)
_CNAME = re.compile(r"canonical name\s*=\s*(\S+)", re.I)


def parse_nslookup(text: str) -> tuple[list[str], list[str], bool]:
    """busybox or BIND `nslookup NAME` output -> (addresses, cnames, nxdomain); the server's own lines are skipped."""
    addresses: list[str] = []
    cnames = [m.group(1).rstrip(".") for m in _CNAME.finditer(text)]
    named = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.lower().startswith("name:"):
            named = True  # the answers come after the first Name: line (before it: the server's address)
            continue
        if named and stripped.lower().startswith("address"):
            value = stripped.split(":", 1)[1].strip() if ":" in stripped else ""
            value = value.split()[0] if value else ""
            if value.startswith("[") or ("#" in value):
                continue
            if _is_ip(value) and value not in addresses:
                addresses.append(value)
    return addresses, cnames, bool(_NXDOMAIN.search(text)) and not addresses


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def family(addresses: Iterable[str]) -> dict[str, list[str]]:
    """Addresses split into A and AAAA."""
    out: dict[str, list[str]] = {"A": [], "AAAA": []}
    for a in addresses:
        out["AAAA" if ":" in a else "A"].append(a)
    return {k: sorted(v) for k, v in out.items()}


def compare(controller: dict[str, dict[str, dict[str, Any]]],
            inside: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Where the service's answers differ from the controller's: one item per name and type compared.

    Only types both sides looked up are compared; a side that failed (timeout, error) differs
    from an answer, and two failures of the same kind agree.
    """
    mismatches: list[dict[str, Any]] = []
    for name, by_type in controller.items():
        theirs = inside.get(name) or {}
        for rtype, mine in by_type.items():
            other = theirs.get(rtype)
            if other is None:
                continue
            same = (sorted(mine.get("answers") or []) == sorted(other.get("answers") or [])
                    and (mine.get("answers") or mine.get("status") == other.get("status")))
            if not same:
                mismatches.append({"name": name, "type": rtype, "controller": mine.get("answers") or [],
                                   "controller_status": mine.get("status"), "service": other.get("answers") or [],
                                   "service_status": other.get("status")})
    return mismatches
