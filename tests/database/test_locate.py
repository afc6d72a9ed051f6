"""Where a database is and which store applies, from a real inventory file (loader + locate.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ajudaplay.database.locate import database_of, inventory_dir, store_spec
from ajudaplay.errors import InvalidInput, TargetError
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.inventory.model import Inventory

INVENTORY = """\
backup_store: {type: controller, path: backups}
targets:
  cluster:
    fake: {}
    services:
      api: {database: {path: /app/data/ajudadorabot.db}}
      worker: {database: {main: {path: /app/data/main.db}, audit: {path: /app/data/audit.db}}}
      web: {}
  small:
    fake: {}
    backup_store: {type: s3, bucket: b, access_key_id: "{{ k }}", secret_access_key: "{{ s }}"}
    services: {api: {database: {path: /data/app.db}}}
"""


def load(tmp_path: Path, text: str = INVENTORY) -> Inventory:
    path = tmp_path / "prod.yml"
    path.write_text(text)
    return load_inventory(path)


def test_one_database_is_main_and_several_go_by_name(tmp_path: Path) -> None:
    inv = load(tmp_path)
    cluster = inv.targets["cluster"]
    assert database_of(cluster, "api", None).path == "/app/data/ajudadorabot.db"
    assert database_of(cluster, "api", "main").name == "main"
    assert database_of(cluster, "worker", "audit").path == "/app/data/audit.db"
    with pytest.raises(TargetError, match=r"has 2 databases \(audit, main\): say which with `database: NAME`"):
        database_of(cluster, "worker", None)
    with pytest.raises(TargetError, match=r"has no database 'nope' in the inventory \(it has: audit, main"):
        database_of(cluster, "worker", "nope")
    with pytest.raises(TargetError) as missing:
        database_of(cluster, "web", None)
    assert str(missing.value) == ("target 'cluster': service 'web' has no database in the inventory "
                                  "(add services.web.database: {path: /app/data/app.db} under targets.cluster)")


def test_a_target_inherits_the_inventory_store_unless_it_has_its_own(tmp_path: Path) -> None:
    inv = load(tmp_path)
    cluster, small = inv.targets["cluster"], inv.targets["small"]
    assert store_spec(cluster) == {"type": "controller", "path": "backups"}
    assert (store_spec(small) or {})["type"] == "s3"
    assert store_spec(small, {"type": "controller", "path": "/x"}) == {"type": "controller", "path": "/x"}
    assert inventory_dir(cluster) == tmp_path


@pytest.mark.parametrize(("database", "said"), [
    ("{path: relative.db}", "a database's path must be absolute"),
    ("{main: {pth: /x.db}}", "unknown key 'pth' in a database"),
    ("{main: {}}", "a database needs `path:`"),
    ("{path: /x.db, extra: 1}", "unknown key 'extra' in a database"),
])
def test_a_malformed_database_is_said_where_it_is(tmp_path: Path, database: str, said: str) -> None:
    with pytest.raises(InvalidInput, match=said):
        load(tmp_path, f"targets:\n  t1:\n    fake: {{}}\n    services:\n      api: {{database: {database}}}\n")


def test_an_unknown_store_type_is_refused_by_the_schema(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="backup_store"):
        load(tmp_path, "backup_store: {type: ftp, path: /x}\ntargets:\n  t1: {fake: {}}\n")


def test_db_check_if_present_skips_a_service_without_a_database_and_nothing_else(tmp_path: Path) -> None:
    """Procedures that run on every service (triage-latency.yml) ask `if_present: true`: a service with no
    database in the inventory is skipped; one with a database is checked; an unknown service still fails."""
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.actions.database import run_db_check
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.fake import FakeTarget

    target = FakeTarget(load(tmp_path).targets["cluster"])
    ctx = ActionContext(target=target, step=StepContext(run_id="r"), vars={}, render=lambda value: value)
    skipped = run_db_check(ctx, {"service": "web", "if_present": True})
    assert skipped.skipped and "web has no database in the inventory" in skipped.msg
    with pytest.raises(TargetError, match="has no database in the inventory"):
        run_db_check(ctx, {"service": "web"})  # without it, the missing key is an error naming the key
    with pytest.raises(TargetError, match="no service 'nope'"):
        run_db_check(ctx, {"service": "nope", "if_present": True})
    from ajudaplay.targets.workspace import FileMissing

    with pytest.raises(FileMissing, match="/app/data/ajudadorabot.db does not exist"):
        run_db_check(ctx, {"service": "api", "if_present": True})  # it has one: checked (the fake has no file)
