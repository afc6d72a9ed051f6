"""Network actions: `endpoints` (where a service takes traffic) and `dns` (names from here and from inside).

`endpoints` is a read-only service verb (ServiceOps.endpoints) on every mode;
the public host names the inventory gives a service (`services.S.hosts`) are
added here, once for all modes (Compose has no Ingress to read them from).
`dns` resolves names from the controller (ajudaplay.integrations.dns) and from
inside the service through `exec`, and compares the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ajudaplay.actions.base import ActionSpec, Registry, from_service
from ajudaplay.actions.service import _args, _service  # the service actions' argument rules
from ajudaplay.errors import InvalidInput, TargetError

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.results import Result

__all__ = ["inventory_hosts", "register", "run_dns", "run_endpoints", "service_answers"]


def register(registry: Registry) -> None:
    """Add the network actions to `registry`."""
    registry.register(ActionSpec("endpoints", run_endpoints,
                                 description="Read a service's ready/not-ready addresses, ports, internal URLs and hosts."))
    registry.register(ActionSpec("dns", run_dns, controller=True, on_target=_dns_inside,
                                 description="Resolve names from the controller and inside a service, and compare."))


def _dns_inside(args: Any) -> bool:
    """dns resolves inside the service too when `from` says so, or by default when a `service` is named."""
    if isinstance(args, dict) and args.get("from") in (None, "") and args.get("service"):
        return True
    return from_service(args)


def inventory_hosts(ctx: ActionContext, service: str) -> list[str]:
    """The inventory's `services.<service>.hosts` for this target (a name or a list of names)."""
    mapping = ctx.target.spec.services.get(service)
    raw = mapping.get("hosts") if isinstance(mapping, dict) else None
    if raw is None or raw == "":
        return []
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(h, str) and h.strip() for h in items):
        raise TargetError(f"target {ctx.target.name!r}: services.{service}.hosts: expected a list of host names")
    return [h.strip() for h in items]


def run_endpoints(ctx: ActionContext, args: Any) -> Result:
    """endpoints: {service}; read-only, so it runs in check mode too."""
    from ajudaplay.outcomes import to_result
    from ajudaplay.targets.base import service_ops

    service = _service("endpoints", _args("endpoints", args))
    try:
        result = service_ops(ctx.target, "endpoints").endpoints(ctx.step, service)
    except InvalidInput as exc:
        raise TargetError(str(exc)) from exc
    extra = [h for h in inventory_hosts(ctx, service) if h not in (result.outcome.hosts if result.outcome else [])]
    if result.outcome is None or not extra:
        return result
    return to_result(result.outcome.but(hosts=[*result.outcome.hosts, *extra]))


# dns -----------------------------------------------------------------------------------
# Inside the service: for each name (argv words of this fixed script, never a shell line made
# from them) `getent ahosts` (glibc, musl), else `nslookup` (busybox, BIND), bounded by
# `timeout` when the image has it. Every block starts with a marker line the parser splits on.
_LOOKUP = r"""t=$1; shift
if command -v timeout >/dev/null 2>&1; then bound="timeout $t"; else bound=; fi
if command -v getent >/dev/null 2>&1; then tool=getent
elif command -v nslookup >/dev/null 2>&1; then tool=nslookup
else echo "@@ajudaplay-none"; exit 127; fi
for n in "$@"; do
  echo "@@ajudaplay-name $tool $n"
  if [ "$tool" = getent ]; then $bound getent ahosts "$n"; else $bound nslookup "$n" 2>&1; fi
  echo "@@ajudaplay-rc $?"
done"""


def _names(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise TargetError("dns.names: expected a host name or a list of host names")
    names: list[str] = []
    for item in items:
        name = str(item).strip().rstrip(".")
        if not name or len(name) > 253 or any(c.isspace() for c in name) or name.startswith("-"):
            raise TargetError(f"dns.names: {item!r} is not a host name")
        if name not in names:
            names.append(name)
    return names


def _types(value: Any) -> list[str]:
    from ajudaplay.integrations.dns import DEFAULT_TYPES, TYPES

    if value in (None, "", []):
        return list(DEFAULT_TYPES)
    items = value.replace(",", " ").split() if isinstance(value, str) else value  # -e types=A,CNAME too
    types = [str(t).strip().upper() for t in items] if isinstance(items, list) else []
    bad = [t for t in types if t not in TYPES]
    if not types or bad:
        raise TargetError(f"dns.types: expected some of {', '.join(TYPES)}, got {value!r}")
    return list(dict.fromkeys(types))


def run_dns(ctx: ActionContext, args: Any) -> Result:
    """dns: {names, types, nameserver, from, service, timeout}; read-only, runs in check mode too."""
    from ajudaplay.integrations import dns
    from ajudaplay.integrations.dns import compare, resolve
    from ajudaplay.results import Result

    if not isinstance(args, dict):
        raise TargetError(f"dns: expected a mapping of arguments, got {type(args).__name__}")
    names, types = _names(args.get("names")), _types(args.get("types"))
    service = args.get("service")
    origin = str(args.get("from") or ("both" if service else "controller"))
    if origin not in ("controller", "service", "both"):
        raise TargetError(f"dns.from: expected controller, service or both, got {origin!r}")
    if origin != "controller":
        service = _service("dns", _args("dns", args))
    try:
        timeout = float(args.get("timeout") or 5)
    except (TypeError, ValueError):
        timeout = -1.0
    if timeout <= 0:
        raise TargetError(f"dns.timeout: expected a number of seconds > 0, got {args.get('timeout')!r}")
    nameserver = args.get("nameserver") or None
    if nameserver is not None:
        try:
            dns.parse_nameserver(str(nameserver))
        except ValueError as exc:
            raise TargetError(f"dns.nameserver: expected IP or IP:PORT, got {nameserver!r} ({exc})") from None
    data: dict[str, Any] = {"names": names, "types": types, "nameserver": nameserver,
                            "answers": {}, "from_service": {}, "agree": None, "mismatches": []}
    if origin in ("controller", "both"):
        data["answers"] = resolve(names, types, nameserver=None if nameserver is None else str(nameserver),
                                  timeout=timeout)
    if origin in ("service", "both"):
        assert isinstance(service, str)
        data["service"] = service
        data["from_service"], data["tool"] = service_answers(ctx, service, names, types, timeout)
    if origin == "both":
        data["mismatches"] = compare(data["answers"], data["from_service"])
        data["agree"] = not data["mismatches"]
    return Result(changed=False, data=data, msg=_summary(data), warnings=_warnings(data))


def service_answers(ctx: ActionContext, service: str, names: list[str], types: list[str],
                    timeout: float) -> tuple[dict[str, dict[str, dict[str, Any]]], str]:
    """The names as the service resolves them (exec), in `resolve`'s shape, and the tool used."""
    import dataclasses

    from ajudaplay.targets.base import service_ops

    # Lookups change nothing: they run in check mode too. The exec gets time for every name.
    step = dataclasses.replace(ctx.step, check=False, timeout=timeout * len(names) + 10)
    argv = ["sh", "-c", _LOOKUP, "ajudaplay-dns", str(max(1, int(timeout + 0.999))), *names]
    try:
        result = service_ops(ctx.target, "dns").exec(step, service, argv)
    except InvalidInput as exc:
        raise TargetError(str(exc)) from exc
    return parse_lookups(str(result.data.get("stdout") or ""), result.data, service, types)


def parse_lookups(stdout: str, data: dict[str, Any], service: str,
                  types: list[str]) -> tuple[dict[str, dict[str, dict[str, Any]]], str]:
    """The lookup script's output -> ({name: {type: {status, answers}}}, tool); pure, tested on each tool's output."""
    from ajudaplay.integrations.dns import family, parse_getent, parse_nslookup

    if "@@ajudaplay-none" in stdout or (data.get("rc") == 127 and "@@ajudaplay-name" not in stdout):
        raise TargetError(f"neither getent nor nslookup found in the image of {service} "
                          "(dns from the service runs the image's own tools)")
    if "@@ajudaplay-name" not in stdout:
        detail = (str(data.get("stderr") or "") or stdout).strip()[-300:]
        raise TargetError(f"dns from {service}: could not run sh in the service (rc {data.get('rc')}): {detail}")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    tool = ""
    for block in stdout.split("@@ajudaplay-name ")[1:]:
        head, _, body = block.partition("\n")
        tool, _, name = head.strip().partition(" ")
        text, _, rc_text = body.rpartition("@@ajudaplay-rc ")
        rc = int(rc_text.split()[0]) if rc_text.split() and rc_text.split()[0].isdigit() else -1
        entries: dict[str, dict[str, Any]] = {}
        if tool == "getent":
            addresses, cnames, missing = parse_getent(text), list[str](), rc == 2
        else:
            addresses, cnames, missing = parse_nslookup(text)
        by_family = family(addresses)
        for rtype in types:
            if rtype == "CNAME" and tool == "getent":
                continue  # getent does not say whether a name is an alias: not compared
            values = cnames if rtype == "CNAME" else by_family.get(rtype, [])
            if values:
                entries[rtype] = {"status": "ok", "answers": sorted(values)}
            elif missing:
                entries[rtype] = {"status": "nxdomain", "answers": []}
            elif rc in (124, 143) or "timed out" in text.lower():
                entries[rtype] = {"status": "timeout", "answers": [], "error": "the lookup timed out in the service"}
            elif rc == 0 or addresses:
                entries[rtype] = {"status": "noanswer", "answers": []}
            else:
                said = [line for line in text.strip().splitlines() if line.strip()]
                entries[rtype] = {"status": "error", "answers": [],
                                  "error": (said[-1].strip() if said else f"exit status {rc}")[:300]}
        out[name] = entries
    return out, tool


def _summary(data: dict[str, Any]) -> str:
    parts = []
    for name in data["names"]:
        mine = (data["answers"] or data["from_service"]).get(name) or {}
        shown = [f"{t} {' '.join(e['answers']) or e['status']}" for t, e in mine.items()]
        parts.append(f"{name}: {', '.join(shown) or 'not asked'}")
    if data["agree"] is not None:
        parts.append("the service agrees" if data["agree"] else f"{len(data['mismatches'])} mismatch(es) with the service")
    return "; ".join(parts)


def _warnings(data: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for side, label in (("answers", "from the controller"), ("from_service", f"from {data.get('service')}")):
        for name, by_type in (data[side] or {}).items():
            failed = sorted(t for t, e in by_type.items() if e["status"] in ("nxdomain", "timeout", "error"))
            if failed:
                said = ", ".join(t + " " + str(by_type[t]["status"]) for t in failed)
                found.append(f"{name} {label}: {said}")
    return found
