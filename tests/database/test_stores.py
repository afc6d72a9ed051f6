"""The backup stores (ajudaplay/database/stores.py, folder_stores.py, s3_store.py), each on real parts.

- controller: a folder on this machine;
- host: a folder on a "Compose host" reached over the real sshd of tests/infra/sshd (SFTP streams);
- s3: moto's standalone S3 server (tests/infra/s3) on 127.0.0.1 stands in for the cloud; boto3 talks
  to it over HTTP exactly as it would to AWS or MinIO (endpoint_url), multipart uploads included.

The same tests run on every store: round trip, tampered object refused, unfinished backups not
listed, crafted manifests ignored, listing order and filters, retention.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ajudaplay.database.archive import CorruptBackup, pack
from ajudaplay.database.model import Manifest
from ajudaplay.database.stores import (
    Store, StoreError, backup_name, data_file, manifest_file, open_store, superseded, utc_stamp,
)
from ajudaplay.errors import Mark
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.targets.host import HostTarget
from tests.hosts.conftest import ssh_connection, sshd  # noqa: F401  (the session's real sshd)
from tests.infra.s3.s3server import MotoServer
from tests.properties.strategies import FAST

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def manifest(name_time: datetime, *, database: str = "main", service: str = "api", target: str = "cluster",
             verified: bool = True, encrypted: bool = False, stored: tuple[int, str] = (0, ""),
             run: str = "0123456789ab") -> Manifest:
    return Manifest(
        name=backup_name(database, name_time, run), environment="prod", target=target, service=service,
        database=database, path="/app/data/app.db", created=utc_stamp(name_time), size=1234, sha256="ab" * 32,
        stored_size=stored[0], stored_sha256=stored[1], encrypted=encrypted, verified=verified, run_id=run,
        revision=3, image="api:v3")


class Raw:
    """Direct access to a store's bytes, beside the store (to tamper, or leave a half-written backup)."""

    def __init__(self, write: Callable[[str, bytes], None], remove: Callable[[str], None]) -> None:
        self.write, self.remove = write, remove


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(params=["controller", pytest.param("host", marks=pytest.mark.ssh), "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Raw]]:
    if request.param == "controller":
        root = tmp_path / "backups"
        made = open_store({"type": "controller", "path": "backups"}, inventory_dir=tmp_path, host=None)

        def write(rel: str, data: bytes) -> None:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)

        yield made, Raw(write, lambda rel: (root / rel).unlink())
    elif request.param == "host":
        server = request.getfixturevalue("sshd")
        target = HostTarget(TargetSpec(name="small-install", kind="host", mark=Mark("t", 1, 1),
                                       connection=ssh_connection(server)))
        target.open()
        folder = f"/tmp/ajudaplay-test-{uuid.uuid4().hex[:10]}/backups"
        host = target.host()

        def host_write(rel: str, data: bytes) -> None:
            assert host.run(f"mkdir -p $(dirname {folder}/{rel})").ok
            host.write_file(f"{folder}/{rel}", data)

        try:
            yield (open_store({"type": "host", "path": folder}, inventory_dir=tmp_path, host=host, target="small"),
                   Raw(host_write, lambda rel: None if host.run(f"rm {folder}/{rel}").ok else pytest.fail(rel)))
        finally:
            host.run(f"rm -rf {os.path.dirname(folder)}")
            target.close()
    else:
        import boto3

        server = request.getfixturevalue("moto")
        bucket = f"bk-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=server.endpoint_url, **server.credentials)
        client.create_bucket(Bucket=bucket)
        spec = {"type": "s3", "bucket": bucket, "prefix": "team/ajudaplay", "endpoint_url": server.endpoint_url,
                "region": "us-east-1", "access_key_id": server.credentials["aws_access_key_id"],
                "secret_access_key": server.credentials["aws_secret_access_key"]}
        yield (open_store(spec, inventory_dir=tmp_path, host=None),
               Raw(lambda rel, data: client.put_object(Bucket=bucket, Key=f"team/ajudaplay/{rel}", Body=data),
                   lambda rel: client.delete_object(Bucket=bucket, Key=f"team/ajudaplay/{rel}")))


def packed_backup(tmp_path: Path, when: datetime, *, key: str | None = None, size: int = 50_000,
                  **fields: Any) -> tuple[Manifest, Path]:
    """A real packed file and its manifest (stored_size/sha256 from pack)."""
    src = tmp_path / f"src-{uuid.uuid4().hex[:6]}.db"
    src.write_bytes(os.urandom(size // 2) + b"\x00" * (size - size // 2))
    dest = tmp_path / f"{src.name}.pack"
    stored = pack(src, dest, key)
    return manifest(when, encrypted=key is not None, stored=stored, **fields), dest


def put(store: Store, tmp_path: Path, when: datetime, **fields: Any) -> Manifest:
    m, packed = packed_backup(tmp_path, when, **fields)
    store.put(m, packed)
    return m


def test_round_trip(store: tuple[Store, Raw], tmp_path: Path) -> None:
    s, _ = store
    m, packed = packed_backup(tmp_path, NOW, key="k", size=200_000)
    s.put(m, packed)
    assert s.list("prod") == [m]
    assert s.list("prod", "cluster", "api", "main") == [m]
    out = tmp_path / "fetched"
    s.fetch_to(m, out)
    assert out.read_bytes() == packed.read_bytes()
    assert (out.stat().st_mode & 0o777) == 0o600


def test_tampered_object_is_refused(store: tuple[Store, Raw], tmp_path: Path) -> None:
    s, raw = store
    m = put(s, tmp_path, NOW)
    raw.write(data_file(m), b"\x1f\x8b" + os.urandom(100))  # replaced by something else
    out = tmp_path / "fetched"
    with pytest.raises(CorruptBackup, match=f"backup {m.name} in .* does not match its manifest .* refused"):
        s.fetch_to(m, out)
    assert not out.exists()


def test_missing_data_is_a_clear_error(store: tuple[Store, Raw], tmp_path: Path) -> None:
    s, raw = store
    m = put(s, tmp_path, NOW)
    raw.remove(data_file(m))
    assert s.list("prod") == []  # a manifest without its data is not listed either
    with pytest.raises(StoreError, match=f"backup {m.name}: its data .* is missing"):
        s.fetch_to(m, tmp_path / "fetched")
    assert not (tmp_path / "fetched").exists()


def test_unfinished_and_crafted_backups_are_not_listed(store: tuple[Store, Raw], tmp_path: Path) -> None:
    s, raw = store
    good = put(s, tmp_path, NOW)
    unfinished = manifest(NOW + timedelta(minutes=1))
    raw.write(data_file(unfinished), b"data but no manifest yet")
    # a manifest that names another place than where it lies: never listed (it could point a delete elsewhere)
    crafted = replace(manifest(NOW + timedelta(minutes=2)), service="other")
    folder = data_file(good).rsplit("/", 1)[0]
    raw.write(f"{folder}/{crafted.name}.json", crafted.to_json().encode())
    raw.write(f"{folder}/{crafted.name}.db.gz", b"x")
    traversal = replace(manifest(NOW + timedelta(minutes=3)), name="../../../../x")
    raw.write(f"{folder}/x.json", traversal.to_json().encode())
    raw.write(f"{folder}/junk.json", b"{not json")
    assert s.list("prod") == [good]


def test_listing_newest_first_and_filters(store: tuple[Store, Raw], tmp_path: Path) -> None:
    s, _ = store
    older = put(s, tmp_path, NOW - timedelta(days=2))
    newest = put(s, tmp_path, NOW, key="k")
    middle = put(s, tmp_path, NOW - timedelta(hours=1), database="audit")
    other = put(s, tmp_path, NOW - timedelta(minutes=5), service="worker", target="small-install")
    assert s.list("prod") == [newest, other, middle, older]
    assert s.list("prod", "cluster") == [newest, middle, older]
    assert s.list("prod", "cluster", "api", "main") == [newest, older]
    assert s.list("prod", service="worker") == [other]
    assert s.list("prod", database="audit") == [middle]
    assert s.list("staging") == []


def test_delete_and_retention(store: tuple[Store, Raw], tmp_path: Path) -> None:
    s, _ = store
    made = [put(s, tmp_path, NOW - timedelta(days=i)) for i in range(5)]  # made[0] newest
    doomed = superseded(s.list("prod", "cluster", "api", "main"), keep_last=2, keep_days=None, now=NOW)
    assert doomed == [made[4], made[3], made[2]]  # oldest first
    for m in doomed:
        s.delete(m)
    assert s.list("prod") == made[:2]
    s.delete(made[1])
    with pytest.raises(StoreError):
        s.fetch_to(made[1], tmp_path / "gone")


def test_put_refuses_a_file_that_is_not_the_manifest_s(store: tuple[Store, Raw], tmp_path: Path) -> None:
    s, _ = store
    m, packed = packed_backup(tmp_path, NOW)
    with pytest.raises(StoreError, match="its manifest says"):
        s.put(replace(m, stored_size=m.stored_size + 1), packed)
    assert s.list("prod") == []


# -- store-specific ---------------------------------------------------------------------------------------


def test_controller_folder_layout_and_permissions(tmp_path: Path) -> None:
    s = open_store({"type": "controller", "path": "b"}, inventory_dir=tmp_path, host=None)
    m, packed = packed_backup(tmp_path, NOW, key="k")
    s.put(m, packed)
    folder = tmp_path / "b" / "prod" / "cluster" / "api" / "main"
    assert sorted(p.name for p in folder.iterdir()) == [f"{m.name}.db.gz.enc", f"{m.name}.json"]
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in folder.iterdir())
    assert ((tmp_path / "b" / "prod").stat().st_mode & 0o777) == 0o700
    assert Manifest.from_json((folder / f"{m.name}.json").read_text()) == m
    assert m.name.startswith("main-20260301-120000-01234567")


def test_controller_scratch_dir_is_linked_not_copied(tmp_path: Path) -> None:
    """A packed file made in the store's scratch dir is stored by a hard link (a 200 MB backup is not copied)."""
    s = open_store({"path": str(tmp_path / "abs")}, inventory_dir=Path("/nonexistent"), host=None)
    scratch = s.scratch_dir()
    assert scratch is not None and scratch.parent == tmp_path / "abs"
    src = tmp_path / "x.db"
    src.write_bytes(b"x" * 1000)
    packed = scratch / "x.pack"
    m = manifest(NOW, stored=pack(src, packed, None))
    s.put(m, packed)
    stored = tmp_path / "abs" / data_file(m)
    assert stored.stat().st_ino == packed.stat().st_ino
    packed.unlink()  # the caller cleans its temp file; the backup stays
    assert s.list("prod") == [m]


def test_default_controller_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AJUDAPLAY_BACKUPS", str(tmp_path / "env-backups"))
    s = open_store(None, inventory_dir=tmp_path, host=None)
    assert s.description == f"controller folder {tmp_path / 'env-backups'}"
    monkeypatch.delenv("AJUDAPLAY_BACKUPS")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert open_store({"type": "controller"}, inventory_dir=tmp_path, host=None).description == (
        f"controller folder {tmp_path / 'home/.local/share/ajudaplay/backups'}")


@pytest.mark.parametrize("spec, message", [
    ({"type": "ftp"}, "unknown type 'ftp' (use one of: controller, host, s3)"),
    ({"type": "controller", "path": "x", "bucket": "b"}, "unknown key(s) bucket for type controller"),
    ({"type": "host", "path": "/var/backups"}, "type host keeps backups in a folder on a Compose target's host"),
    ({"type": "host", "path": "relative"}, "type host needs an absolute path"),
    ({"type": "s3", "prefix": "p"}, "type s3 needs `bucket`"),
    ({"type": "s3", "bucket": "b", "access_key_id": "AKIA"}, "give both access_key_id and secret_access_key"),
    ("s3://bucket", "must be a mapping"),
])
def test_bad_store_specs(tmp_path: Path, spec: Any, message: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(spec, inventory_dir=tmp_path, host=None, target="cluster")
    assert message in str(caught.value)
    assert str(caught.value).startswith("target 'cluster': backup_store")


def test_names_that_cannot_be_folders_are_refused(tmp_path: Path) -> None:
    s = open_store({"path": "b"}, inventory_dir=tmp_path, host=None)
    with pytest.raises(StoreError, match="target '../etc' cannot name a folder"):
        s.list("prod", "../etc")


def test_s3_multipart_upload_and_layout(moto: MotoServer, tmp_path: Path) -> None:
    """A packed file above the part size goes up in parts (the ETag of a multipart object has a "-N")."""
    import boto3

    client = boto3.client("s3", endpoint_url=moto.endpoint_url, **moto.credentials)
    client.create_bucket(Bucket="multipart")
    s = open_store({"type": "s3", "bucket": "multipart", "endpoint_url": moto.endpoint_url, "region": "us-east-1",
                    "access_key_id": "a", "secret_access_key": "b"}, inventory_dir=tmp_path, host=None)
    src = tmp_path / "big.db"
    src.write_bytes(os.urandom(20 << 20))
    packed = tmp_path / "big.pack"
    m = manifest(NOW, stored=pack(src, packed, None))
    s.put(m, packed)
    head = client.head_object(Bucket="multipart", Key=data_file(m))
    assert head["ETag"].strip('"').endswith("-3")  # 20 MiB in 8 MiB parts
    assert json.loads(client.get_object(Bucket="multipart", Key=manifest_file(m))["Body"].read())["name"] == m.name
    out = tmp_path / "out"
    s.fetch_to(m, out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == m.stored_sha256


def test_s3_errors_name_the_store_and_the_fix(moto: MotoServer, tmp_path: Path) -> None:
    s = open_store({"type": "s3", "bucket": "no-such-bucket", "prefix": "p", "endpoint_url": moto.endpoint_url,
                    "access_key_id": "a", "secret_access_key": "very-secret-value"}, inventory_dir=tmp_path, host=None)
    with pytest.raises(StoreError) as caught:
        s.list("prod")
    text = str(caught.value)
    assert text.startswith(f"s3://no-such-bucket/p at {moto.endpoint_url}: cannot list backups: NoSuchBucket")
    assert "create the bucket, or fix backup_store.bucket" in text
    assert "very-secret-value" not in text
    closed = open_store({"type": "s3", "bucket": "b", "endpoint_url": "http://127.0.0.1:9",
                         "access_key_id": "a", "secret_access_key": "b"}, inventory_dir=tmp_path, host=None)
    with pytest.raises(StoreError, match="cannot connect .*is endpoint_url right and the server up"):
        closed.list("prod")


# -- retention, as a pure function ------------------------------------------------------------------------


def days(*ages: float, verified: tuple[bool, ...] | None = None) -> list[Manifest]:
    flags = verified or (True,) * len(ages)
    return [manifest(NOW - timedelta(days=age), verified=flag) for age, flag in zip(ages, flags)]


def test_retention_keep_last() -> None:
    ms = days(0, 1, 2, 3)
    assert superseded(ms, 2, None, NOW) == [ms[3], ms[2]]
    assert superseded(ms, 10, None, NOW) == []
    assert superseded(ms, None, None, NOW) == []


def test_retention_keep_days() -> None:
    ms = days(0, 1, 2.5, 8)
    assert superseded(ms, None, 2, NOW) == [ms[3], ms[2]]
    assert superseded(ms, 3, 7, NOW) == [ms[3]]  # either rule deletes


def test_retention_never_deletes_the_newest_verified() -> None:
    """Old verified backup, newer failed ones: the verified one stays whatever keep_last/keep_days say."""
    ms = days(0, 1, 30, 40, verified=(False, False, True, True))
    assert superseded(ms, 1, 1, NOW) == [ms[3]]
    none_verified = days(0, 5, 9, verified=(False, False, False))
    assert superseded(none_verified, 1, 1, NOW) == []  # nothing supersedes them


def test_retention_deletes_unverified_only_when_superseded() -> None:
    ms = days(0, 1, 2, verified=(True, False, True))
    assert superseded(ms, 1, None, NOW) == [ms[2], ms[1]]


def test_retention_is_per_database() -> None:
    main = days(0, 1, 2)
    audit = [manifest(NOW - timedelta(days=d), database="audit") for d in (0.5, 3)]
    other_target = [manifest(NOW - timedelta(days=d), target="small") for d in (4, 5)]
    assert superseded(main + audit + other_target, 1, None, NOW) == [other_target[1], audit[1], main[2], main[1]]


def test_retention_arguments() -> None:
    with pytest.raises(ValueError, match="keep_last must be 1 or more"):
        superseded([], 0, None, NOW)
    with pytest.raises(ValueError, match="keep_days must be 0 or more"):
        superseded([], None, -1, NOW)


def test_a_cancelled_put_or_fetch_stops_and_leaves_nothing(store: tuple[Store, Raw], tmp_path: Path) -> None:
    """The step's cancel event (Ctrl-C) stops a transfer: Interrupted, no backup listed, no fetched file."""
    import threading

    from ajudaplay.errors import Interrupted

    s, _ = store
    cancel = threading.Event()
    cancel.set()
    m, packed = packed_backup(tmp_path, NOW, size=3 << 20)
    with pytest.raises(Interrupted):
        s.put(m, packed, cancel=cancel)
    assert s.list("prod") == []
    s.put(m, packed)
    with pytest.raises(Interrupted):
        s.fetch_to(m, tmp_path / "fetched", cancel=cancel)
    assert not (tmp_path / "fetched").exists()


def test_s3_upload_memory_is_bounded(moto: MotoServer, tmp_path: Path) -> None:
    """A 64 MiB upload holds a few parts in memory, not the file (s3transfer would read 10 parts ahead)."""
    import tracemalloc

    import boto3

    boto3.client("s3", endpoint_url=moto.endpoint_url, **moto.credentials).create_bucket(Bucket="memory")
    s = open_store({"type": "s3", "bucket": "memory", "endpoint_url": moto.endpoint_url, "region": "us-east-1",
                    "access_key_id": "a", "secret_access_key": "b"}, inventory_dir=tmp_path, host=None)
    src = tmp_path / "big.db"
    with open(src, "wb") as handle:
        for _ in range(64):
            handle.write(os.urandom(1 << 20))
    packed = tmp_path / "big.pack"
    m = manifest(NOW, stored=pack(src, packed, None))
    s.list("prod")  # the client exists before measuring
    tracemalloc.start()
    try:
        s.put(m, packed)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 56 << 20, f"peak {peak >> 20} MiB for a 64 MiB upload"
    assert s.list("prod") == [m]


def test_a_kept_backup_is_never_replaced(store: tuple[Store, Raw], tmp_path: Path) -> None:
    s, _ = store
    m, packed = packed_backup(tmp_path, NOW)
    s.put(m, packed)
    other, packed2 = packed_backup(tmp_path, NOW)  # same name: same database, second and run
    with pytest.raises(StoreError, match=f"already holds a backup named {m.name}: not replaced"):
        s.put(other, packed2)
    s.fetch_to(m, tmp_path / "fetched")  # still the first one, intact


def test_s3_credentials_from_the_environment(moto: MotoServer, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Without keys in the mapping, boto3's own chain is used; with none anywhere, a clear error."""
    import boto3

    boto3.client("s3", endpoint_url=moto.endpoint_url, **moto.credentials).create_bucket(Bucket="from-env")
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata look-up off loopback
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    spec = {"type": "s3", "bucket": "from-env", "endpoint_url": moto.endpoint_url, "region": "us-east-1"}
    with pytest.raises(StoreError, match="no credentials .*AWS_ACCESS_KEY_ID"):
        open_store(spec, inventory_dir=tmp_path, host=None).list("prod")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    assert open_store(spec, inventory_dir=tmp_path, host=None).list("prod") == []


def test_fetch_into_an_unpacker_restores_while_it_downloads(store: tuple[Store, Raw], tmp_path: Path) -> None:
    """The streamed restore path: the stored object goes straight into an archive.Unpacker; a tampered
    object is refused at the end and the unpacked file removed."""
    from ajudaplay.database.archive import Unpacker

    s, raw = store
    src = tmp_path / "a.db"
    src.write_bytes(os.urandom(100_000) + b"\x00" * 400_000)
    packed = tmp_path / "a.pack"
    m = manifest(NOW, encrypted=True, stored=pack(src, packed, "k"))
    s.put(m, packed)
    with Unpacker(tmp_path / "plain", "k", name=m.name) as unpacker:
        s.fetch_into(m, unpacker)
    assert (tmp_path / "plain").read_bytes() == src.read_bytes()
    raw.write(data_file(m), packed.read_bytes()[:-1] + b"\x00")  # one byte of the tag changed
    with pytest.raises(CorruptBackup, match="does not match its manifest"):
        with Unpacker(tmp_path / "plain2", "k", name=m.name) as unpacker:
            s.fetch_into(m, unpacker)
    assert not (tmp_path / "plain2").exists()


# -- retention, its promises for any history --------------------------------------------------------------

_histories = st.lists(st.tuples(st.floats(0, 60, allow_nan=False), st.booleans(), st.sampled_from(["main", "audit"])),
                      max_size=12)


@settings(FAST, max_examples=300)  # a pure function: many histories cost well under a second
@given(history=_histories, keep_last=st.none() | st.integers(1, 6), keep_days=st.none() | st.floats(0, 30))
def test_retention_promises(history: list[tuple[float, bool, str]], keep_last: int | None,
                            keep_days: float | None) -> None:
    """Whatever the history: only given backups are deleted, never the newest verified one of a database nor
    any newer than it, and the keep_last newest of each database stay."""
    ms = list({m.name: m for m in (manifest(NOW - timedelta(days=age), verified=ok, database=db,
                                            run=f"{i:08d}") for i, (age, ok, db) in enumerate(history))}.values())
    doomed = superseded(ms, keep_last, keep_days, NOW)
    assert len(set(doomed)) == len(doomed) and set(doomed) <= set(ms)
    if keep_last is None and keep_days is None:
        assert doomed == []
    for db in ("main", "audit"):
        ordered = sorted((m for m in ms if m.database == db), key=lambda m: (m.created, m.name), reverse=True)
        verified = [i for i, m in enumerate(ordered) if m.verified]
        protected = ordered[: verified[0] + 1] if verified else ordered  # up to and with the newest verified
        assert not set(protected) & set(doomed)
        if keep_last is not None and keep_days is None:
            assert not set(ordered[:keep_last]) & set(doomed)


def test_what_the_unpacker_finds_is_not_hidden_by_the_store(store: tuple[Store, Raw], tmp_path: Path) -> None:
    """An encrypted backup fetched into an Unpacker without a key: KeyNeeded itself, not a store error."""
    from ajudaplay.database.archive import KeyNeeded, Unpacker

    s, _ = store
    m = put(s, tmp_path, NOW, key="k")
    with pytest.raises(KeyNeeded, match=f"backup {m.name} is encrypted"):
        with Unpacker(tmp_path / "plain", None, name=m.name) as unpacker:
            s.fetch_into(m, unpacker)
    assert not (tmp_path / "plain").exists()


def test_controller_scratch_dir_clears_what_killed_runs_left(tmp_path: Path) -> None:
    s = open_store({"path": str(tmp_path / "b")}, inventory_dir=tmp_path, host=None)
    scratch = s.scratch_dir()
    assert scratch is not None
    (scratch / "ajudaplay-db-old").mkdir()
    (scratch / "ajudaplay-db-old" / "snapshot.db").write_bytes(b"x" * 1000)
    (scratch / "ajudaplay-db-running").mkdir()
    two_days_ago = datetime.now().timestamp() - 2 * 86400
    os.utime(scratch / "ajudaplay-db-old", (two_days_ago, two_days_ago))
    assert s.scratch_dir() == scratch
    assert sorted(p.name for p in scratch.iterdir()) == ["ajudaplay-db-running"]
