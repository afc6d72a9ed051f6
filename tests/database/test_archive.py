"""The stored form of a backup (ajudaplay/database/archive.py): gzip, optional AES-256-GCM, streamed.

Real files on the controller; every failure case checks that the destination
was removed, so nothing half-unpacked can be mistaken for a backup.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tracemalloc
from pathlib import Path

import pytest

from ajudaplay.database import archive
from ajudaplay.database.archive import CorruptBackup, KeyNeeded, WrongKey, pack, unpack

KEY = "correct horse battery staple"


def sqlite_like(path: Path, size: int) -> Path:
    """Bytes that compress like a database: repetitive pages with some noise."""
    block = (b"SQLite format 3\x00" + os.urandom(64) + b"\x00" * 944)
    with open(path, "wb") as handle:
        while size > 0:
            chunk = block[: min(size, len(block))]
            handle.write(chunk)
            size -= len(chunk)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("key", [None, KEY])
def test_round_trip(tmp_path: Path, key: str | None) -> None:
    src = sqlite_like(tmp_path / "a.db", 300_000)
    packed, out = tmp_path / "a.db.gz", tmp_path / "out.db"
    stored_size, stored_sha = pack(src, packed, key)
    assert (stored_size, stored_sha) == (packed.stat().st_size, sha(packed))
    assert stored_size < src.stat().st_size  # compressed
    assert stat.S_IMODE(packed.stat().st_mode) == 0o600
    assert archive.is_encrypted(packed) is (key is not None)
    size, digest = unpack(packed, out, key, name="main-x")
    assert (size, digest) == (src.stat().st_size, sha(src))
    assert out.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_unencrypted_is_plain_gzip(tmp_path: Path) -> None:
    """The runbook's `.db.gz`: what `gunzip` reads."""
    src = sqlite_like(tmp_path / "a.db", 100_000)
    pack(src, tmp_path / "a.db.gz", None)
    assert gzip.decompress((tmp_path / "a.db.gz").read_bytes()) == src.read_bytes()


def test_encrypted_layout(tmp_path: Path) -> None:
    """magic, 16-byte salt, 12-byte nonce, ciphertext, 16-byte tag; a new salt and nonce every time."""
    src = sqlite_like(tmp_path / "a.db", 50_000)
    pack(src, tmp_path / "1.enc", KEY)
    pack(src, tmp_path / "2.enc", KEY)
    one, two = (tmp_path / "1.enc").read_bytes(), (tmp_path / "2.enc").read_bytes()
    assert one.startswith(b"AJDB1\n") and two.startswith(b"AJDB1\n")
    assert one[6:34] != two[6:34]  # salt + nonce
    assert b"SQLite format 3" not in one
    plain_size, _ = pack(src, tmp_path / "plain.gz", None)
    assert len(one) == 6 + 16 + 12 + plain_size + 16  # GCM adds no padding: header + gzip length + tag


def test_wrong_key_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    src = sqlite_like(tmp_path / "a.db", 200_000)
    pack(src, tmp_path / "a.enc", KEY)
    out = tmp_path / "out.db"
    with pytest.raises(WrongKey) as caught:
        unpack(tmp_path / "a.enc", out, "not the key", name="main-20240101-100000-abcd1234")
    assert str(caught.value) == ("the key does not decrypt backup main-20240101-100000-abcd1234 (wrong key, or the "
                                 "file was altered); nothing was changed")
    assert "not the key" not in str(caught.value)
    assert not out.exists()


def test_encrypted_without_key(tmp_path: Path) -> None:
    src = sqlite_like(tmp_path / "a.db", 1000)
    pack(src, tmp_path / "a.enc", KEY)
    with pytest.raises(KeyNeeded, match="backup b1 is encrypted: give its key"):
        unpack(tmp_path / "a.enc", tmp_path / "out.db", None, name="b1")
    assert not (tmp_path / "out.db").exists()


def test_key_given_for_unencrypted_backup_is_not_needed(tmp_path: Path) -> None:
    src = sqlite_like(tmp_path / "a.db", 1000)
    pack(src, tmp_path / "a.gz", None)
    assert unpack(tmp_path / "a.gz", tmp_path / "out.db", KEY)[1] == sha(src)


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["salt", "nonce", "middle", "tag"])
def test_any_altered_byte_of_an_encrypted_backup_fails_the_tag(tmp_path: Path, where: str) -> None:
    src = sqlite_like(tmp_path / "a.db", 100_000)
    pack(src, tmp_path / "a.enc", KEY)
    size = (tmp_path / "a.enc").stat().st_size
    flip(tmp_path / "a.enc", {"salt": 8, "nonce": 25, "middle": size // 2, "tag": size - 3}[where])
    with pytest.raises(WrongKey):
        unpack(tmp_path / "a.enc", tmp_path / "out.db", KEY)
    assert not (tmp_path / "out.db").exists()


def test_truncated_encrypted_backup(tmp_path: Path) -> None:
    src = sqlite_like(tmp_path / "a.db", 100_000)
    pack(src, tmp_path / "a.enc", KEY)
    data = (tmp_path / "a.enc").read_bytes()
    (tmp_path / "a.enc").write_bytes(data[:-100])
    with pytest.raises(WrongKey):
        unpack(tmp_path / "a.enc", tmp_path / "out.db", KEY)
    (tmp_path / "a.enc").write_bytes(data[:20])
    with pytest.raises(CorruptBackup, match="cut short"):
        unpack(tmp_path / "a.enc", tmp_path / "out.db", KEY)


def test_damaged_gzip_is_corrupt(tmp_path: Path) -> None:
    src = sqlite_like(tmp_path / "a.db", 100_000)
    pack(src, tmp_path / "a.gz", None)
    data = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptBackup, match="not a valid gzip stream .*cut short"):
        unpack(tmp_path / "cut.gz", tmp_path / "out.db", None, name="b2")
    assert not (tmp_path / "out.db").exists()
    (tmp_path / "bad.gz").write_bytes(data[:30] + bytes(b ^ 0xFF for b in data[30:60]) + data[60:])
    with pytest.raises(CorruptBackup, match="backup b3 is not a valid gzip stream"):
        unpack(tmp_path / "bad.gz", tmp_path / "out.db", None, name="b3")
    (tmp_path / "tail.gz").write_bytes(data + b"trailing")
    with pytest.raises(CorruptBackup, match="data after the end"):
        unpack(tmp_path / "tail.gz", tmp_path / "out.db", None)
    (tmp_path / "none.gz").write_bytes(b"not a backup at all")
    with pytest.raises(CorruptBackup):
        unpack(tmp_path / "none.gz", tmp_path / "out.db", None)


@pytest.mark.parametrize("key", [None, KEY])
def test_memory_does_not_grow_with_the_file(tmp_path: Path, key: str | None) -> None:
    """A 48 MB file packs and unpacks with a Python-heap peak of a few chunks (the file is never read whole)."""
    src = tmp_path / "big.db"
    with open(src, "wb") as handle:
        for _ in range(48):
            handle.write(os.urandom(512 << 10) + b"\x00" * (512 << 10))
    tracemalloc.start()
    try:
        pack(src, tmp_path / "big.pack", key)
        unpack(tmp_path / "big.pack", tmp_path / "big.out", key)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 << 20, f"peak {peak >> 20} MiB for a 48 MiB file"
    assert sha(tmp_path / "big.out") == sha(src)


@pytest.mark.parametrize("key", [None, KEY])
def test_cancel_stops_packing_and_unpacking(tmp_path: Path, key: str | None) -> None:
    import threading

    from ajudaplay.errors import Interrupted

    src = sqlite_like(tmp_path / "a.db", 3 << 20)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Interrupted):
        pack(src, tmp_path / "a.pack", key, cancel=cancel)
    assert not (tmp_path / "a.pack").exists()
    pack(src, tmp_path / "a.pack", key)
    with pytest.raises(Interrupted):
        unpack(tmp_path / "a.pack", tmp_path / "out", key, cancel=cancel)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key", [None, KEY])
def test_packer_packs_a_stream_as_it_arrives(tmp_path: Path, key: str | None) -> None:
    """What a backup does with the snapshot stream: written chunk by chunk, packed on the way."""
    src = sqlite_like(tmp_path / "a.db", 2_500_000)
    with archive.Packer(tmp_path / "a.pack", key) as packer, open(src, "rb") as handle:
        while chunk := handle.read(65536):
            packer.write(chunk)
    assert packer.result == (os.path.getsize(tmp_path / "a.pack"), sha(tmp_path / "a.pack"))
    assert unpack(tmp_path / "a.pack", tmp_path / "out", key)[1] == sha(src)


def test_packer_removes_its_file_when_the_stream_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with archive.Packer(tmp_path / "a.pack", KEY) as packer:
            packer.write(b"x" * 100_000)
            raise RuntimeError("the snapshot stream broke")
    assert not (tmp_path / "a.pack").exists()


@pytest.mark.parametrize("key", [None, KEY])
def test_unpacker_takes_any_chunking(tmp_path: Path, key: str | None) -> None:
    """A fetch streams into an Unpacker in whatever pieces the network gives: header and tag split anywhere."""
    src = sqlite_like(tmp_path / "a.db", 200_000)
    pack(src, tmp_path / "a.pack", key)
    data = (tmp_path / "a.pack").read_bytes()
    sizes, pos = [1, 5, 7, 1, 33, 4096, 2, 15, 16, 17], 0
    with archive.Unpacker(tmp_path / "out", key, name="b") as unpacker:
        i = 0
        while pos < len(data):
            unpacker.write(data[pos:pos + sizes[i % len(sizes)]])
            pos += sizes[i % len(sizes)]
            i += 1
    assert unpacker.result == (src.stat().st_size, sha(src))
    assert (tmp_path / "out").read_bytes() == src.read_bytes()


def test_unpacker_wrong_key_removes_its_file(tmp_path: Path) -> None:
    src = sqlite_like(tmp_path / "a.db", 50_000)
    pack(src, tmp_path / "a.pack", KEY)
    with pytest.raises(WrongKey):
        with archive.Unpacker(tmp_path / "out", "wrong", name="b") as unpacker:
            unpacker.write((tmp_path / "a.pack").read_bytes())
    assert not (tmp_path / "out").exists()
