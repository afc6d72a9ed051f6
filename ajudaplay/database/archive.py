"""The stored form of a backup: gzip, then optionally AES-256-GCM, streamed both ways.

A backup is packed on the controller from a verified SQLite file and unpacked
there again before a restore touches anything, so both directions read and
write files in chunks (CHUNK) and never hold a database in memory: a 200 MB
database costs a buffer, not 200 MB.

Encrypted format (the runbook's `.db.gz.enc`), version 1:

    MAGIC (b"AJDB1\\n") | salt (16 bytes) | nonce (12 bytes) | ciphertext of the gzip stream | tag (16 bytes)

The key is scrypt(passphrase, salt) with fixed parameters (SCRYPT_N/R/P, part
of version 1), so guessing the passphrase costs one scrypt per guess; the
header (magic, salt, nonce) is authenticated as associated data, so any
altered byte anywhere fails the tag. Unencrypted backups are a plain gzip
stream that `gunzip` reads.

Decryption is streamed, so plaintext reaches the destination file before the
tag is checked at the end: the destination is a controller temp file that is
deleted unless the whole file authenticated, and nothing is trusted before.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from ajudaplay.database.transfer import CheckedSink, new_private_file
from ajudaplay.errors import TargetError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import AEADDecryptionContext, AEADEncryptionContext

__all__ = ["ArchiveError", "CorruptBackup", "KeyNeeded", "Packer", "Unpacker", "WrongKey", "is_encrypted", "pack", "sha256_of", "unpack"]

MAGIC = b"AJDB1\n"
SALT_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
HEADER_SIZE = len(MAGIC) + SALT_SIZE + NONCE_SIZE
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # ~32 MiB and ~0.1 s per try: fixed by format version 1
CHUNK = 1 << 20
GZIP_LEVEL = 1  # `gzip --fast`: measured on a 228 MiB database, 5 s and 48 MiB against 8-15 s and 44 MiB at
# gzip's default 6 (on a loaded 2-core machine): the backup's time matters more than 10 % of its size
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip stream (header + trailer), not raw zlib


class ArchiveError(TargetError):
    """A backup file cannot be packed or unpacked; the message names the backup and what to do."""


class WrongKey(ArchiveError):
    """The key does not authenticate the encrypted backup (wrong key, or altered bytes)."""


class KeyNeeded(ArchiveError):
    """The backup is encrypted and no key was given."""


class CorruptBackup(ArchiveError):
    """The backup's bytes are not what was stored: truncated, altered, or not a backup at all."""


def sha256_of(path: Path) -> str:
    """sha256 (hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_encrypted(path: Path) -> bool:
    """True when the file starts with the encrypted format's magic."""
    with open(path, "rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def _derive(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode("utf-8"))


def _encryptor(key: bytes, nonce: bytes) -> AEADEncryptionContext:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()


def _decryptor(key: bytes, nonce: bytes) -> AEADDecryptionContext:
    """The tag comes at the end of the stream: finalize_with_tag() checks it."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.AES(key), modes.GCM(nonce)).decryptor()


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class _FileSink:
    """What Packer and Unpacker share: a private output file that finish() completes and anything else
    removes (an exception in the `with` block, Interrupted, or a failing finish())."""

    dest_path: Path
    _raw: BinaryIO
    _out: CheckedSink
    result: tuple[int, str] | None

    def finish(self) -> tuple[int, str]:
        raise NotImplementedError

    def _close(self) -> tuple[int, str]:
        """fsync and close the output; (bytes, sha256) of what was written to it."""
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        self.result = (self._out.size, self._out.hexdigest())
        return self.result

    def abort(self) -> None:
        """Close and remove the unfinished file."""
        self._raw.close()
        _remove(self.dest_path)

    def __enter__(self: _Sink) -> _Sink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is not None:
            self.abort()
        elif self.result is None:
            try:
                self.finish()
            except BaseException:
                self.abort()
                raise


_Sink = TypeVar("_Sink", bound=_FileSink)


class Packer(_FileSink):
    """A sink that packs what is written to it into `dest_path` as it comes (gzip, then AES-256-GCM when a
    passphrase is given): a snapshot streamed from the service can be packed while it arrives (tee it
    into a Packer and the file that is integrity-checked), so compression overlaps the transfer.

        with Packer(dest, key, cancel=cancel) as packer:
            workspace.read_to(path, tee)      # tee.write() -> packer.write() and the temp file
        stored_size, stored_sha256 = packer.result

    `dest_path` is created 0600; leaving the block by an exception (or
    Interrupted once `cancel` is set) removes it.
    """

    def __init__(self, dest_path: Path, passphrase: str | None, *, cancel: threading.Event | None = None) -> None:
        self.dest_path = dest_path
        self._raw = new_private_file(dest_path)
        self._out = CheckedSink(self._raw, cancel, f"packing {dest_path.name}")
        self._encryptor: AEADEncryptionContext | None = None
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        self.result: tuple[int, str] | None = None  # (stored size, stored sha256) once finished
        try:
            if passphrase is not None:
                salt, nonce = os.urandom(SALT_SIZE), os.urandom(NONCE_SIZE)
                header = MAGIC + salt + nonce
                self._encryptor = _encryptor(_derive(passphrase, salt), nonce)
                self._encryptor.authenticate_additional_data(header)
                self._out.write(header)
        except BaseException:
            self.abort()
            raise

    def _emit(self, data: bytes) -> None:
        self._out.write(self._encryptor.update(data) if self._encryptor is not None else data)

    def write(self, data: bytes) -> int:
        self._emit(self._compressor.compress(data))
        return len(data)

    def finish(self) -> tuple[int, str]:
        """Flush, write the tag, fsync and close: (stored size, stored sha256)."""
        self._emit(self._compressor.flush())
        if self._encryptor is not None:
            self._out.write(self._encryptor.finalize())
            self._out.write(self._encryptor.tag)
        return self._close()


def pack(src_path: Path, dest_path: Path, passphrase: str | None, *,
         cancel: threading.Event | None = None) -> tuple[int, str]:
    """gzip `src_path` into `dest_path`, encrypted when a passphrase is given: (stored size, stored sha256).

    `dest_path` is created 0600 and removed again when packing fails or is
    interrupted (`cancel` set: Interrupted).
    """
    with open(src_path, "rb") as source, Packer(dest_path, passphrase, cancel=cancel) as packer:
        while chunk := source.read(CHUNK):
            packer.write(chunk)
        return packer.finish()


class Unpacker(_FileSink):
    """A sink that unpacks a stored backup as it is written (decrypt when it starts with MAGIC, gunzip) into
    `dest_path`: a fetch can stream straight into it. The last TAG_SIZE bytes are held back until finish()
    checks the tag; nothing written to `dest_path` is trusted before finish() returns.

    finish() raises KeyNeeded (encrypted, no passphrase), WrongKey (the tag does not authenticate: wrong
    key or altered bytes) or CorruptBackup (not a complete gzip stream); a gzip error in an encrypted
    backup is held until the tag says which of the two it is. Leaving the `with` block by an exception
    (or Interrupted once `cancel` is set) removes `dest_path`. A passphrase given for an unencrypted
    backup is not needed and not used.
    """

    def __init__(self, dest_path: Path, passphrase: str | None, *, name: str = "backup",
                 cancel: threading.Event | None = None) -> None:
        self.dest_path = dest_path
        self.name = name
        self._passphrase = passphrase
        self._raw = new_private_file(dest_path)
        self._out = CheckedSink(self._raw, cancel, f"unpacking backup {name}")
        self._gunzip = _Gunzip(self._out, name)
        self._head = b""  # bytes before the format is known (encrypted or not)
        self._encrypted: bool | None = None
        self._decryptor: AEADDecryptionContext | None = None
        self._held = b""  # the last TAG_SIZE bytes seen so far: the tag, if the stream ends here
        self._damaged: CorruptBackup | None = None
        self.result: tuple[int, str] | None = None

    def write(self, data: bytes) -> int:
        if self._encrypted is None:
            self._head += data
            if len(self._head) < len(MAGIC):
                return len(data)
            self._encrypted = self._head.startswith(MAGIC)
            data, self._head = self._head, b""
        if not self._encrypted:
            self._gunzip.feed(data)
            return len(data)
        if self._decryptor is None:
            self._head += data
            if len(self._head) < HEADER_SIZE:
                return len(data)
            self._start_decrypting(self._head[:HEADER_SIZE])
            data, self._head = self._head[HEADER_SIZE:], b""
        held = self._held + data
        self._held = held[-TAG_SIZE:]
        self._plain(held[:-TAG_SIZE])
        return len(data)

    def _start_decrypting(self, header: bytes) -> None:
        if self._passphrase is None:
            raise KeyNeeded(f"backup {self.name} is encrypted: give its key (`key: \"{{{{ backup_key }}}}\"`, "
                            "a secret variable); nothing was changed")
        salt, nonce = header[len(MAGIC):len(MAGIC) + SALT_SIZE], header[len(MAGIC) + SALT_SIZE:]
        self._decryptor = _decryptor(_derive(self._passphrase, salt), nonce)
        self._decryptor.authenticate_additional_data(header)

    def _plain(self, ciphertext: bytes) -> None:
        assert self._decryptor is not None
        plain = self._decryptor.update(ciphertext)
        if self._damaged is None:
            try:
                self._gunzip.feed(plain)
            except CorruptBackup as exc:
                self._damaged = exc

    def finish(self) -> tuple[int, str]:
        """Check the tag and the end of the gzip stream, fsync and close: (size, sha256) of the database."""
        from cryptography.exceptions import InvalidTag

        if self._encrypted is None:  # shorter than the magic: not encrypted, and surely not a gzip stream
            self._encrypted = False
            self._gunzip.feed(self._head)
        if self._encrypted:
            if self._decryptor is None or len(self._held) < TAG_SIZE:
                raise CorruptBackup(f"backup {self.name} is cut short (less than an encrypted header and tag); "
                                    "nothing was changed")
            try:
                self._decryptor.finalize_with_tag(self._held)
            except InvalidTag:
                raise WrongKey(f"the key does not decrypt backup {self.name} (wrong key, or the file was "
                               "altered); nothing was changed") from None
            if self._damaged is not None:
                raise self._damaged
        self._gunzip.finish()
        return self._close()


def unpack(src_path: Path, dest_path: Path, passphrase: str | None, *, name: str = "backup",
           cancel: threading.Event | None = None) -> tuple[int, str]:
    """Decrypt (when encrypted) and gunzip `src_path` into `dest_path`: (size, sha256) of the result.

    The errors of Unpacker.finish(); `dest_path` (created 0600) is removed on
    any failure. `name` is the backup's name, for the messages; `cancel` set: Interrupted.
    """
    with open(src_path, "rb") as source, Unpacker(dest_path, passphrase, name=name, cancel=cancel) as unpacker:
        try:
            while chunk := source.read(CHUNK):
                unpacker.write(chunk)
            return unpacker.finish()
        except BaseException:
            unpacker.abort()
            raise


class _Gunzip:
    """Incremental gunzip into a writer, output bounded per step (a small file cannot expand unbounded in memory)."""

    def __init__(self, out: CheckedSink, name: str) -> None:
        self.out = out
        self.name = name
        self.inflater = zlib.decompressobj(_GZIP_WBITS)

    def _corrupt(self, why: str) -> CorruptBackup:
        return CorruptBackup(f"backup {self.name} is not a valid gzip stream ({why}); nothing was changed")

    def feed(self, data: bytes) -> None:
        try:
            while data:
                if self.inflater.eof:
                    raise self._corrupt("data after the end of the compressed stream")
                self.out.write(self.inflater.decompress(data, CHUNK))
                data = self.inflater.unconsumed_tail
            if self.inflater.unused_data:
                raise self._corrupt("data after the end of the compressed stream")
        except zlib.error as exc:
            raise self._corrupt(str(exc)) from None

    def finish(self) -> None:
        try:
            self.out.write(self.inflater.flush())
        except zlib.error as exc:
            raise self._corrupt(str(exc)) from None
        if not self.inflater.eof:
            raise self._corrupt("it is cut short")
