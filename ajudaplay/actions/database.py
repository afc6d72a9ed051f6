"""Database actions: db_check, backup, restore, backups — the service's SQLite database on every mode.

Each action reads its (already rendered) arguments, finds the database in the
inventory (`services.<svc>.database`, ajudaplay/database/locate.py) and the
backup store (the step's `store:`, else the target's or the inventory's
`backup_store:`, rendered here because it may read secret variables), masks
every secret it is given (the key, the store's credentials) before anything
can print it, and runs the procedure of ajudaplay/database/procedures.py over
the target's ServiceData. The procedures and their guarantees are documented
in docs/actions-database.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ajudaplay.actions.base import ActionSpec, Registry
from ajudaplay.actions.service import _args, _bool, _int, _service, _step  # the service actions' argument rules
from ajudaplay.errors import TargetError

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.database.procedures import Place
    from ajudaplay.database.stores import Store
    from ajudaplay.targets.base import Result, ServiceData

__all__ = ["register"]

_STORE_SECRETS = ("access_key_id", "secret_access_key")


def register(registry: Registry) -> None:
    """Add the database actions to `registry`."""
    for name, fn, text in (
        ("db_check", run_db_check, "Run PRAGMA integrity_check (or quick_check) on a service's SQLite database."),
        ("backup", run_backup, "Take a consistent, verified, compressed (optionally encrypted) backup of a database."),
        ("restore", run_restore, "Restore a database from a verified backup: by name, the latest, or at a time."),
        ("backups", run_backups, "List the backups a store holds for a service, newest first."),
    ):
        registry.register(ActionSpec(name, fn, description=text))


# helpers ---------------------------------------------------------------------------------------------------
def _text(a: dict[str, Any], key: str) -> str | None:
    value = a.get(key)
    return None if value is None or value == "" else str(value)


def _place(ctx: ActionContext, action: str, a: dict[str, Any]) -> tuple[ServiceData, Place]:
    from ajudaplay.database.locate import database_of
    from ajudaplay.database.procedures import Place
    from ajudaplay.targets.base import data_of

    data = data_of(ctx.target, action)
    db = database_of(ctx.target.spec, _service(action, a), _text(a, "database"))
    environment = str(ctx.vars.get("inventory_name") or "default")
    return data, Place(environment, ctx.target.name, db)


def _store(ctx: ActionContext, action: str, a: dict[str, Any]) -> Store:
    """The store this step uses; its credentials are masked before the store is opened."""
    from ajudaplay.database.locate import inventory_dir, store_spec
    from ajudaplay.database.stores import open_store
    from ajudaplay.targets.base import HostShell, capable

    given = a.get("store")
    if given is not None and not isinstance(given, Mapping):
        raise TargetError(f"{action}.store: expected a mapping like {{type: controller, path: backups}}, got {given!r}")
    spec = store_spec(ctx.target.spec, given)
    if spec is not None and not given:
        spec = ctx.render(dict(spec))  # the inventory's, written with templates of secret variables
    for key in _STORE_SECRETS:
        if spec is not None and spec.get(key):
            ctx.add_secret(str(spec[key]))
    host = None
    if spec is not None and spec.get("type") == "host" and capable(ctx.target, HostShell):
        host = ctx.target.host()
    return open_store(spec, inventory_dir=inventory_dir(ctx.target.spec), host=host, target=ctx.target.name)


def _key(ctx: ActionContext, action: str, a: dict[str, Any]) -> str | None:
    key = _text(a, "key")
    if key is not None:
        ctx.add_secret(key)
    return key


def _revision_image(ctx: ActionContext, service: str) -> tuple[int | None, str | None]:
    """What the service runs, for the manifest; unknown (None) when the target cannot say."""
    from ajudaplay.targets.base import ServiceOps, capable

    if not capable(ctx.target, ServiceOps):
        return None, None
    try:
        result = ctx.target.status(ctx.step, service)
    except TargetError:
        return None, None
    status = result.outcome
    return (status.revision, status.image) if status is not None else (None, None)


# actions ---------------------------------------------------------------------------------------------------
def run_db_check(ctx: ActionContext, args: Any) -> Result:
    """db_check: {service, database, quick}; read-only, so it runs in check mode too."""
    from ajudaplay.database.procedures import db_check
    from ajudaplay.outcomes import to_result

    a = _args("db_check", args)
    if _bool("db_check", a, "if_present", False):
        from ajudaplay.database.locate import databases_of
        from ajudaplay.results import Result

        service = _service("db_check", a)
        if service in ctx.target.spec.services and not databases_of(ctx.target.spec, service):
            return Result(skipped=True, msg=f"{service} has no database in the inventory: nothing to check")
    data, place = _place(ctx, "db_check", a)
    quick = _bool("db_check", a, "quick", False)
    return to_result(db_check(_step("db_check", ctx, a), data, place.db, quick))


def run_backup(ctx: ActionContext, args: Any) -> Result:
    """backup: {service, database, store, encrypt, key, keep_last, keep_days}."""
    from ajudaplay.database.procedures import backup
    from ajudaplay.outcomes import to_result

    a = _args("backup", args)
    data, place = _place(ctx, "backup", a)
    key = _key(ctx, "backup", a)
    encrypt = _bool("backup", a, "encrypt", key is not None)
    if encrypt and key is None:
        raise TargetError("backup.encrypt: needs `key: \"{{ backup_key }}\"` (a secret variable): the passphrase "
                          "the backup is encrypted with, and restore needs")
    if not encrypt:
        key = None  # `encrypt: false` wins: a playbook may pass the inventory's key always and choose per run
    keep_last = _int("backup", a, "keep_last", 1)
    keep_days = _number("backup", a, "keep_days")
    store = _store(ctx, "backup", a)
    revision, image = _revision_image(ctx, place.db.service)
    return to_result(backup(_step("backup", ctx, a), data, place, store, passphrase=key, keep_last=keep_last,
                            keep_days=keep_days, revision=revision, image=image))


def _number(action: str, a: dict[str, Any], key: str) -> float | None:
    value = a.get(key)
    if value is None or value == "":
        return None
    try:
        number = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        number = -1.0
    if number < 0:
        raise TargetError(f"{action}.{key}: expected a number of days >= 0, got {value!r}")
    return number


def run_restore(ctx: ActionContext, args: Any) -> Result:
    """restore: {service, database, backup, before, latest, key, confirm}; one of backup/before/latest."""
    from ajudaplay.database.procedures import Choice, parse_before, restore
    from ajudaplay.outcomes import to_result

    a = _args("restore", args)
    data, place = _place(ctx, "restore", a)
    name, before = _text(a, "backup"), _text(a, "before")
    latest = _bool("restore", a, "latest", False)
    if sum((name is not None, before is not None, latest)) > 1:
        raise TargetError("restore: give one of backup (a name), before (a time) or latest: true")
    choice = Choice(name=name, before=parse_before(before) if before is not None else None)
    key = _key(ctx, "restore", a)
    confirm = _bool("restore", a, "confirm", True)
    store = _store(ctx, "restore", a)
    return to_result(restore(_step("restore", ctx, a), data, place, store, choice, passphrase=key, confirm=confirm))


def run_backups(ctx: ActionContext, args: Any) -> Result:
    """backups: {service, database}; read-only, so it runs in check mode too."""
    from ajudaplay.database.locate import database_of
    from ajudaplay.database.procedures import list_backups
    from ajudaplay.outcomes import to_result

    a = _args("backups", args)
    service = _service("backups", a)
    name = _text(a, "database")
    if name is not None:
        database_of(ctx.target.spec, service, name)  # an unknown name is an error, not an empty list
    store = _store(ctx, "backups", a)
    environment = str(ctx.vars.get("inventory_name") or "default")
    return to_result(list_backups(store, environment, ctx.target.name, service, name))
