"""Where a service's database is and where its backups go, from the inventory.

    targets:
      cluster:
        services:
          api:
            deployment: api
            database: {path: /app/data/ajudadorabot.db}          # one database, named "main"
            # or by name: database: {main: {path: ...}, audit: {path: ...}}
        backup_store: {type: s3, bucket: backups}               # this target's store (optional)
    backup_store: {type: controller, path: backups}             # the inventory's store (optional)

The loader already validated the shapes (inventory.schema.json); this module
turns them into a DatabaseSpec, and says exactly which key to add when one is
missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ajudaplay.database.model import DatabaseSpec
from ajudaplay.errors import TargetError

if TYPE_CHECKING:
    from ajudaplay.inventory.model import TargetSpec

__all__ = ["DEFAULT_NAME", "database_of", "databases_of", "inventory_dir", "store_spec"]

DEFAULT_NAME = "main"


def databases_of(spec: TargetSpec, service: str) -> dict[str, DatabaseSpec]:
    """Every database the inventory names for `service` on this target, by name (may be empty)."""
    raw = (spec.services.get(service) or {}).get("database")
    if not isinstance(raw, Mapping):
        return {}
    if "path" in raw and isinstance(raw["path"], str):
        return {DEFAULT_NAME: DatabaseSpec(service, DEFAULT_NAME, raw["path"])}
    return {str(name): DatabaseSpec(service, str(name), str(entry["path"]))
            for name, entry in raw.items() if isinstance(entry, Mapping) and isinstance(entry.get("path"), str)}


def database_of(spec: TargetSpec, service: str, name: str | None) -> DatabaseSpec:
    """The database a step names (`database: NAME`, optional when the service has one), or a TargetError
    that names the inventory key to add."""
    if service not in spec.services:
        raise TargetError(f"target {spec.name!r}: no service {service!r} in the inventory "
                          f"(services of {spec.name}: {', '.join(sorted(spec.services)) or 'none'})")
    found = databases_of(spec, service)
    if not found:
        raise TargetError(f"target {spec.name!r}: service {service!r} has no database in the inventory "
                          f"(add services.{service}.database: {{path: /app/data/app.db}} under targets.{spec.name})")
    if name is None:
        if len(found) == 1:
            return next(iter(found.values()))
        raise TargetError(f"target {spec.name!r}: service {service!r} has {len(found)} databases "
                          f"({', '.join(sorted(found))}): say which with `database: NAME`")
    if name not in found:
        raise TargetError(f"target {spec.name!r}: service {service!r} has no database {name!r} in the inventory "
                          f"(it has: {', '.join(sorted(found))}; add services.{service}.database.{name}: "
                          f"{{path: ...}} under targets.{spec.name})")
    return found[name]


def store_spec(spec: TargetSpec, override: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
    """The store mapping that applies: the step's `store:`, else the target's `backup_store`, else the
    inventory's (the loader copied it onto each target), else None (the default controller folder)."""
    if override:
        return override
    return spec.backup_store


def inventory_dir(spec: TargetSpec) -> Path:
    """The inventory file's folder: a relative controller store path is relative to it."""
    return Path(spec.mark.file).parent if spec.mark.file else Path.cwd()
