"""Type shapes of registered data: what docs/actions-service.md promises, and how modes compare.

Two small tools:
- `mismatches(value, spec)` checks a registered value against a documented spec, where a spec is a
  Python type (`int`, `str`, ...), a tuple of them (`(str, None)`: may be null), a dict of specs
  (these keys must be there; others may be) or a one-element list `[spec]` (every item matches).
- `shape(value)` turns a value into its type shape (`{"replicas": "int", "lines": ["str"]}`), and
  `disagreements(shapes)` lists the keys whose shapes differ between modes. `null` and an empty
  list say nothing about a type, so they agree with anything; the documented spec is where a key
  that must not be null is policed.
"""

from __future__ import annotations

from typing import Any

Spec = Any  # type | tuple[type | None, ...] | dict[str, Spec] | list[Spec]

# every registered value has these (ajudaplay/engine/step.py registered_value)
COMMON: dict[str, Spec] = {"changed": bool, "failed": bool, "skipped": bool, "msg": str, "changes": [str]}

# docs/actions-service.md, "Registered data": the keys every mode registers, with the types it gives
REPLICAS: dict[str, Spec] = {"desired": int, "current": int, "ready": int, "available": int}
DEPLOY: dict[str, Spec] = {"service": str, "image": str, "revision": int, "replicas": REPLICAS}
DEPLOY_UNDONE: dict[str, Spec] = {**DEPLOY, "rolled_back_to": int}
ROLLBACK: dict[str, Spec] = {"service": str, "image": str, "to_revision": int, "revision": int}
REVISION: dict[str, Spec] = {"revision": int, "image": str, "time": (str, None), "user": (str, None),
                             "run_id": (str, None), "cause": (str, None), "current": bool}
HISTORY: dict[str, Spec] = {"service": str, "revisions": [REVISION], "current": int}
SCALE: dict[str, Spec] = {"service": str, "replicas": REPLICAS}
RESTART: dict[str, Spec] = {"service": str, "image": str, "revision": int, "replicas": REPLICAS}
WHY: dict[str, Spec] = {"object": str, "pod": str, "container": str, "reason": str, "message": str,
                        "exit_code": (int, None), "count": int, "last_seen": (str, None), "source": str}
STATUS: dict[str, Spec] = {"service": str, "image": str, "revision": int, "healthy": bool, "replicas": REPLICAS,
                           "restarts": int, "why": [WHY]}
CONFIG: dict[str, Spec] = {"service": str, "files": [str], "restarted": bool}
SECRET: dict[str, Spec] = {"service": str, "keys": [str], "restarted": bool}
NUMBER = (int, float)
MEASURED: dict[str, Spec] = {"cpu_millicores": NUMBER, "memory_bytes": int, "cpu_limit_millicores": (*NUMBER, None),
                             "cpu_percent": (*NUMBER, None), "memory_limit_bytes": (int, None),
                             "memory_percent": (*NUMBER, None)}
USAGE: dict[str, Spec] = {"service": str, "pods": [{"pod": str, "container": str, **MEASURED}],
                          "totals": {"cpu_millicores": NUMBER, "memory_bytes": int}, "missing": [str], "source": str}
LOGS: dict[str, Spec] = {"service": str, "lines": [str], "count": int, "previous": bool, "sources": dict,
                         "patterns": [dict]}
COPY: dict[str, Spec] = {"src": str, "dest": str, "size": int, "sha256": str, "files": int, "where": str}
EXEC: dict[str, Spec] = {"rc": int, "stdout": str, "stderr": str, "stdout_lines": [str], "stderr_lines": [str],
                         "cmd": str}

# docs/actions-database.md, "Registered data"
DB_CHECK: dict[str, Spec] = {"ok": bool, "messages": [str], "quick": bool, "service": str, "database": str,
                             "path": str, "where": str}
BACKUP: dict[str, Spec] = {"name": str, "environment": str, "target": str, "service": str, "database": str,
                           "path": str, "created": str, "size": int, "sha256": str, "stored_size": int,
                           "stored_sha256": str, "encrypted": bool, "verified": bool, "run_id": str,
                           "revision": (int, None), "image": (str, None), "store": str, "deleted": [str],
                           "where": str}
RESTORE: dict[str, Spec] = {"backup": str, "created": str, "service": str, "database": str, "path": str,
                            "store": str, "kept": (str, None), "before_sha256": (str, None),
                            "after_sha256": (str, None), "confirmed_by": (str, None), "timings": dict, "where": str}
BACKUPS: dict[str, Spec] = {"service": str, "database": (str, None), "store": str, "count": int,
                            "backups": [{"name": str, "created": str, "size": int, "encrypted": bool,
                                         "verified": bool, "age_seconds": NUMBER, "store": str}]}

_NAMES = {type(None): "null", bool: "bool", int: "int", float: "float", str: "str"}


def type_name(value: Any) -> str:
    """bool before int: True is an int to Python, not to a playbook; str subclasses (engine Data) are str."""
    for kind, name in _NAMES.items():
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return name
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def mismatches(value: Any, spec: Spec, path: str = "") -> list[str]:
    """Every way `value` departs from `spec`, as "path: problem" lines (empty: it conforms)."""
    where = path or "(value)"
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping, got {type_name(value)}"]
        problems = [f"{path + '.' if path else ''}{key}: missing" for key in spec if key not in value]
        for key, sub in spec.items():
            if key in value:
                problems += mismatches(value[key], sub, f"{path + '.' if path else ''}{key}")
        return problems
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type_name(value)}"]
        return [p for i, item in enumerate(value) for p in mismatches(item, spec[0], f"{path}[{i}]")]
    allowed = spec if isinstance(spec, tuple) else (spec,)
    names = {_NAMES.get(t if t is not None else type(None), getattr(t, "__name__", str(t))) for t in allowed}
    if type_name(value) not in names:
        return [f"{where}: expected {' or '.join(sorted(names))}, got {type_name(value)} {value!r:.60}"]
    return []


def shape(value: Any) -> Any:
    """The type shape: scalars by name, dicts key by key, lists by the merged shape of their items."""
    if isinstance(value, dict):
        return {str(k): shape(v) for k, v in value.items()}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = _merge(merged, shape(item))
        return [] if merged is None else [merged]
    return type_name(value)


def _merge(a: Any, b: Any) -> Any:
    if a is None or a == b:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) for k in {**a, **b}}
    if a == "null":
        return b
    if b == "null":
        return a
    return "|".join(sorted(set(str(a).split("|")) | set(str(b).split("|"))))


def disagreements(shapes: dict[str, Any], path: str = "") -> list[str]:
    """Keys present in several modes whose shapes differ, as "path: mode=shape, ..." lines."""
    present = {m: s for m, s in shapes.items() if s not in ("null", [])}
    if len(present) < 2:
        return []
    kinds = {m: "dict" if isinstance(s, dict) else "list" if isinstance(s, list) else s for m, s in present.items()}
    if len(set(kinds.values())) > 1:
        return [f"{path or '(value)'}: " + ", ".join(f"{m}={_show(s)}" for m, s in sorted(present.items()))]
    first = next(iter(present.values()))
    if isinstance(first, dict):
        keys = sorted({k for s in present.values() for k in s})
        return [p for k in keys for p in disagreements({m: s[k] for m, s in present.items() if k in s},
                                                       f"{path + '.' if path else ''}{k}")]
    if isinstance(first, list):
        return disagreements({m: s[0] for m, s in present.items()}, f"{path}[]")
    return []


def _show(s: Any) -> str:
    return "dict" if isinstance(s, dict) else f"list[{_show(s[0])}]" if isinstance(s, list) and s else str(s)
