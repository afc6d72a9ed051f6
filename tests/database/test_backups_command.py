"""`ajudaplay backups` (ajudaplay/backups_command.py): what the stores of an inventory hold, newest first.

Real stores: a controller folder, a folder on a Compose target's host (@local: the same HostConnection
code path as SSH, whose streams tests/database/test_stores.py runs over the real sshd), and moto's S3
server standing in for the cloud (tests/infra/s3). Backups are put with the stores' own `put`.
"""

from __future__ import annotations

import argparse
import json
import os
import textwrap
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from ajudaplay.backups_command import cmd_backups, human_age, human_size
from ajudaplay.database.archive import pack
from ajudaplay.database.model import Manifest
from ajudaplay.database.stores import backup_name, open_store, utc_stamp
from ajudaplay.errors import InvalidInput
from ajudaplay.exitcodes import ExitCode
from ajudaplay.hosts.local import LocalHost
from tests.infra.s3.s3server import MotoServer

SECRET = "s3cr3t-prefix-value"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def project(tmp_path: Path, moto: MotoServer) -> Iterator[dict[str, Any]]:
    import boto3

    bucket = f"bk-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto.endpoint_url, **moto.credentials).create_bucket(Bucket=bucket)
    host_folder = f"/tmp/ajudaplay-test-{uuid.uuid4().hex[:10]}"
    inventory = tmp_path / "inv" / "prod.yml"
    inventory.parent.mkdir()
    inventory.write_text(textwrap.dedent(f"""
        backup_store: {{type: controller, path: backups}}
        secrets:
          vars: [s3_prefix, s3_secret_key]
        vars:
          s3_prefix: {SECRET}
          s3_secret_key: {moto.credentials['aws_secret_access_key']}
        targets:
          cluster:
            compose: {{host: "@local", project_dir: /tmp/ajudaplay-bk-cluster}}
            services:
              api: {{service: api, database: {{path: /app/data/app.db}}}}
              nginx: {{service: nginx}}
          small:
            compose: {{host: "@local", project_dir: /tmp/ajudaplay-bk-small}}
            backup_store: {{type: host, path: {host_folder}}}
            services:
              api: {{service: api, database: {{main: {{path: /app/data/app.db}}, audit: {{path: /app/data/audit.db}}}}}}
          cloud:
            compose: {{host: "@local", project_dir: /tmp/ajudaplay-bk-cloud}}
            backup_store:
              type: s3
              bucket: {bucket}
              prefix: "{{{{ s3_prefix }}}}"
              endpoint_url: {moto.endpoint_url}
              region: us-east-1
              access_key_id: {moto.credentials['aws_access_key_id']}
              secret_access_key: "{{{{ s3_secret_key }}}}"
            services:
              api: {{service: api, database: {{path: /app/data/app.db}}}}
              worker: {{service: worker, database: {{path: /data/w.db}}}}
    """))
    stores = {
        "cluster": open_store({"type": "controller", "path": "backups"}, inventory_dir=inventory.parent, host=None),
        "small": open_store({"type": "host", "path": host_folder}, inventory_dir=tmp_path, host=LocalHost("small")),
        "cloud": open_store({"type": "s3", "bucket": bucket, "prefix": SECRET, "endpoint_url": moto.endpoint_url,
                             "access_key_id": moto.credentials["aws_access_key_id"],
                             "secret_access_key": moto.credentials["aws_secret_access_key"]},
                            inventory_dir=tmp_path, host=None),
    }
    yield {"inventory": inventory, "stores": stores, "tmp": tmp_path, "bucket": bucket}
    os.system(f"rm -rf {host_folder}")


def put(project: dict[str, Any], target: str, service: str, database: str, age: timedelta, *,
        key: str | None = None, verified: bool = True) -> Manifest:
    tmp: Path = project["tmp"]
    src = tmp / f"{uuid.uuid4().hex}.db"
    src.write_bytes(b"SQLite format 3\x00" + os.urandom(3000) + b"\x00" * 7000)
    packed = tmp / f"{src.name}.pack"
    stored = pack(src, packed, key)
    when = datetime.now(timezone.utc).replace(microsecond=0) - age  # now, not at import: a suite runs for long
    m = Manifest(name=backup_name(database, when, uuid.uuid4().hex), environment="prod", target=target,
                 service=service, database=database, path="/app/data/app.db", created=utc_stamp(when), size=10016,
                 sha256="0" * 64, stored_size=stored[0], stored_sha256=stored[1], encrypted=key is not None,
                 verified=verified, run_id="r")
    project["stores"][target].put(m, packed)
    return m


def run(project: dict[str, Any], capsys: pytest.CaptureFixture[str], *, service: str | None = None,
        output: str = "json") -> tuple[int, str, str]:
    args = argparse.Namespace(inventory=str(project["inventory"]), service=service, output=output)
    rc = cmd_backups(args, lambda: None)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_lists_every_store_newest_first(project: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    a = put(project, "cluster", "api", "main", timedelta(hours=5))
    b = put(project, "small", "api", "audit", timedelta(minutes=10), key="k")
    c = put(project, "cloud", "worker", "main", timedelta(days=3), verified=False)
    d = put(project, "small", "api", "main", timedelta(minutes=1))
    rc, out, err = run(project, capsys)
    assert (rc, err) == (int(ExitCode.OK), "")
    entries = json.loads(out)
    assert [e["name"] for e in entries] == [d.name, b.name, a.name, c.name]
    assert [(e["target"], e["encrypted"], e["verified"]) for e in entries] == [
        ("small", False, True), ("small", True, True), ("cluster", False, True), ("cloud", False, False)]
    assert entries[2]["store"] == f"controller folder {project['inventory'].parent / 'backups'}"
    assert entries[0]["store"].startswith("folder /tmp/ajudaplay-test-")
    assert 5 * 3600 - 5 <= entries[2]["age_seconds"] <= 5 * 3600 + 120
    assert entries[1]["stored_size"] == b.stored_size and entries[1]["sha256"] == b.sha256
    assert SECRET not in out  # the S3 prefix came from a secret variable: masked in the store column
    assert entries[3]["store"].startswith(f"s3://{project['bucket']}/")


def test_service_filter_and_table(project: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    put(project, "cluster", "api", "main", timedelta(days=2, hours=4))
    put(project, "cloud", "worker", "main", timedelta(minutes=2), key="k", verified=False)
    rc, out, _ = run(project, capsys, service="api", output="console")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TARGET", "SERVICE", "DATABASE", "CREATED", "(UTC)", "AGE", "SIZE", "STORED",
                                "ENCRYPTED", "VERIFIED", "STORE"]
    assert len(lines) == 2 and " cluster " in lines[1] and " 2d04h " in lines[1] and "9.8 KiB" in lines[1]
    rc, out, _ = run(project, capsys, service="worker", output="console")
    assert " NO " in out.splitlines()[1] and " yes " in out.splitlines()[1]  # unverified, encrypted
    assert SECRET not in out


def test_empty_and_unknown_service(project: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(project, capsys, output="console")
    assert (rc, out) == (0, "no backups found\n")
    with pytest.raises(InvalidInput) as caught:
        run(project, capsys, service="nginx")
    assert "has a database for service 'nginx'" in str(caught.value.diagnostics[0])
    assert "services with one: api, worker" in str(caught.value.diagnostics[0])


def test_a_store_that_fails_is_reported_and_the_others_listed(project: dict[str, Any],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    a = put(project, "cluster", "api", "main", timedelta(hours=1))
    text = project["inventory"].read_text().replace(f"bucket: {project['bucket']}", "bucket: no-such-bucket")
    project["inventory"].write_text(text)
    rc, out, err = run(project, capsys)
    assert rc == int(ExitCode.FAILED)
    assert [e["name"] for e in json.loads(out)] == [a.name]
    assert "target 'cloud': s3://no-such-bucket/" in err and "NoSuchBucket" in err
    assert SECRET not in err and "ajudaplay-test-secret" not in err


def test_human_units() -> None:
    assert [human_size(n) for n in (0, 1023, 1536, 200 << 20, 3 << 30)] == [
        "0 B", "1023 B", "1.5 KiB", "200.0 MiB", "3.0 GiB"]
    assert [human_age(s) for s in (4.2, 184, 7500, 86400 * 3 + 3600 * 4 + 5)] == ["4.2s", "3m04s", "2h05m", "3d04h"]


def test_a_host_store_on_a_target_without_a_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """type: host on a target that has no host (a fake one here, as a Kubernetes one): the store's clear error."""
    inventory = tmp_path / "prod.yml"
    (tmp_path / "state").mkdir()
    inventory.write_text(textwrap.dedent(f"""
        targets:
          cluster:
            fake: {{state_dir: {tmp_path / 'state'}}}
            backup_store: {{type: host, path: /var/backups/ajudaplay}}
            services:
              api: {{database: {{path: /app/data/app.db}}}}
    """))
    rc = cmd_backups(argparse.Namespace(inventory=str(inventory), service=None, output="json"), lambda: None)
    captured = capsys.readouterr()
    assert rc == int(ExitCode.FAILED) and json.loads(captured.out) == []
    assert "ajudaplay: target 'cluster': backup_store: type host keeps backups in a folder on a Compose" in captured.err
