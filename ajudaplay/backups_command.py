"""`ajudaplay backups -i ENV [--service S] [--output json]`: what the backup stores hold, newest first.

A command of its own (not a playbook): it reads the inventory, renders each
target's `backup_store` with that target's variables (credentials may be
secret variables: they are never printed, and every message goes through the
inventory's Redactor), opens the store and lists the finished backups of the
target's services that have a database. A host store connects to its
Compose target's host; nothing else is connected to. Targets that share one
store mapping share one store object (one S3 client, one listing pass per
target). A store that cannot be read is reported on stderr and makes the exit
status FAILED; the backups of the other stores are still listed.

Heavy modules are imported inside the command, as in cli.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TextIO

from ajudaplay.exitcodes import ExitCode

if TYPE_CHECKING:
    from ajudaplay.database.model import Manifest
    from ajudaplay.database.stores import Store
    from ajudaplay.inventory.model import Inventory, TargetSpec
    from ajudaplay.redaction import Redactor
    from ajudaplay.targets.base import Target

__all__ = ["cmd_backups", "collect", "print_backups"]

HEADERS = ["NAME", "TARGET", "SERVICE", "DATABASE", "CREATED (UTC)", "AGE", "SIZE", "STORED", "ENCRYPTED",
           "VERIFIED", "STORE"]


def cmd_backups(args: argparse.Namespace, registry_factory: Callable[[], Any]) -> int:
    """The command body: `args.inventory` (-i), `args.service` (None: every service with a database),
    `args.output` ("console" or "json"). Exit OK, or FAILED when some store could not be listed."""
    from ajudaplay.inventory.loader import load_inventory, resolve_inventory_arg
    from ajudaplay.redaction import Redactor

    inventory = load_inventory(resolve_inventory_arg(args.inventory, Path.cwd()))
    redactor = Redactor(list(inventory.secret_values))
    entries, problems = collect(inventory, getattr(args, "service", None), redactor, datetime.now(timezone.utc))
    print_backups(entries, sys.stdout, as_json=getattr(args, "output", "console") == "json")
    for problem in problems:
        print(f"ajudaplay: {problem}", file=sys.stderr)
    return int(ExitCode.FAILED if problems else ExitCode.OK)


def collect(inventory: Inventory, service: str | None, redactor: Redactor,
            now: datetime) -> tuple[list[dict[str, Any]], list[str]]:
    """Every listed backup (listing entries, newest first) and the problems met, already redacted.

    Raises InvalidInput when `service` has a database on no target (nothing to list, a typo).
    """
    from ajudaplay.database.locate import databases_of
    from ajudaplay.database.stores import listing_entry, newest_first
    from ajudaplay.errors import AjudaplayError, Diagnostic, InvalidInput

    wanted = {name: [s for s in ([service] if service else sorted(spec.services)) if databases_of(spec, s)]
              for name, spec in sorted(inventory.targets.items())}
    if service and not any(wanted.values()):
        raise InvalidInput([Diagnostic(None, f"no target of {inventory.path} has a database for service {service!r}",
                                       f"add services.{service}.database: {{path: /app/data/app.db}} under a target"
                                       f" (services with one: {', '.join(_with_database(inventory)) or 'none'})")])
    where: dict[Manifest, str] = {}  # each listed backup -> its store's description
    problems: list[str] = []
    opened: list[Target] = []
    stores: dict[str, Store] = {}
    try:
        for name, services in wanted.items():
            if not services:
                continue
            try:
                store = _store_for(inventory, inventory.targets[name], stores, opened)
                for svc in services:
                    where.update((manifest, store.description) for manifest in store.list(inventory.name, name, svc))
            except AjudaplayError as exc:
                problems.append(redactor.text(f"target {name!r}: {exc}"))
    finally:
        for target in opened:
            target.close()
    return [redactor.data(listing_entry(m, where[m], now)) for m in newest_first(where)], problems


def _with_database(inventory: Inventory) -> list[str]:
    from ajudaplay.database.locate import databases_of

    return sorted({s for spec in inventory.targets.values() for s in spec.services if databases_of(spec, s)})


def _store_for(inventory: Inventory, spec: TargetSpec, stores: dict[str, Store], opened: list[Target]) -> Store:
    """The target's store: its backup_store rendered with its variables, opened once per distinct mapping."""
    from ajudaplay.database.locate import inventory_dir, store_spec
    from ajudaplay.database.stores import open_store
    from ajudaplay.engine.variables import target_vars
    from ajudaplay.templating import Templar

    raw = store_spec(spec)
    rendered: Any = None
    if raw is not None:
        templar = Templar()
        rendered = templar.render(raw, target_vars(templar, inventory, spec.name, {}), spec.mark)
    is_host = isinstance(rendered, dict) and rendered.get("type") == "host"
    key = json.dumps([rendered, spec.name if is_host else None, str(inventory_dir(spec))], sort_keys=True, default=str)
    if key not in stores:
        host = None
        if is_host:
            from ajudaplay.targets.base import HostShell, capable
            from ajudaplay.targets.factory import make_target

            target = make_target(spec)
            opened.append(target)
            if capable(target, HostShell):  # Compose targets have a host; on Kubernetes open_store says what to use
                host = target.host()
        stores[key] = open_store(rendered, inventory_dir=inventory_dir(spec), host=host)  # collect() names the target
    return stores[key]


def human_size(size: int) -> str:
    """1.5 KiB, 200.0 MiB: binary units, one decimal."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop returns at GiB


def human_age(seconds: float) -> str:
    """Like human_duration for under a day (5.0s, 3m04s, 2h05m); 3d04h beyond."""
    from ajudaplay.report.common import human_duration

    if seconds < 86400:
        return human_duration(max(seconds, 0.0))
    days, rest = divmod(int(seconds), 86400)
    return f"{days}d{rest // 3600:02d}h"


def print_backups(entries: list[dict[str, Any]], stream: TextIO, *, as_json: bool) -> None:
    """The listing: a JSON array of listing entries, or an aligned table (newest first)."""
    from ajudaplay.report.history import _table

    if as_json:
        stream.write(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
        return
    if not entries:
        stream.write("no backups found\n")
        return
    rows = [[e["name"], e["target"], e["service"], e["database"], e["created"].replace("T", " ").rstrip("Z"),
             human_age(e["age_seconds"]), human_size(e["size"]), human_size(e["stored_size"]),
             "yes" if e["encrypted"] else "no", "yes" if e["verified"] else "NO", e["store"]] for e in entries]
    stream.write("\n".join(_table(HEADERS, rows)) + "\n")
