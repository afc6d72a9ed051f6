"""The S3 store: backups in S3-compatible object storage, through boto3 (imported here only).

Same layout as the folders (stores.py), under `prefix` in `bucket`. Uploads
are multipart for large files (upload_fileobj with a bounded TransferConfig:
a few 8 MiB parts in memory, whatever the database's size); downloads are one
GET streamed in order to the controller file while its sha256 is computed.
Credentials: the ones given (rendered from secret variables; never printed),
else boto3's own chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, an
instance role). `endpoint_url` points at a non-AWS server (MinIO, Ceph, moto
in the tests).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any, Iterator

from ajudaplay.database.model import Manifest
from ajudaplay.database.stores import StoreError, already_stored, data_file, list_prefix, manifest_file, manifests_in
from ajudaplay.database.transfer import CancellableReader, CheckedSink, Writable, check_fetched, fetch_file

__all__ = ["S3Store"]

PART_SIZE = 8 << 20
CONCURRENCY = 4  # parts in flight: memory is about CONCURRENCY * PART_SIZE, never the file's size
_HINTS = {
    "NoSuchBucket": "create the bucket, or fix backup_store.bucket",
    "AccessDenied": "the credentials may not use this bucket/prefix",
    "InvalidAccessKeyId": "check backup_store.access_key_id (or AWS_ACCESS_KEY_ID)",
    "SignatureDoesNotMatch": "check backup_store.secret_access_key (or AWS_SECRET_ACCESS_KEY)",
}


class S3Store:
    """Backups as objects `<prefix>/<environment>/<target>/<service>/<database>/<name>.*`."""

    def __init__(self, *, bucket: str, prefix: str, endpoint_url: str | None, region: str | None,
                 access_key_id: str | None, secret_access_key: str | None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self._credentials = (access_key_id, secret_access_key)
        self._client: Any = None
        where = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.description = f"{where} at {endpoint_url}" if endpoint_url else where

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def client(self) -> Any:
        """The boto3 S3 client, made on first use (boto3 is imported here, never at start-up)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            key_id, secret = self._credentials
            session = boto3.session.Session()
            with self._errors("cannot create the S3 client"):
                self._client = session.client(
                    "s3", endpoint_url=self.endpoint_url, region_name=self.region,
                    aws_access_key_id=key_id, aws_secret_access_key=secret,
                    config=Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}))
        return self._client

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """botocore's exceptions as one StoreError naming the store, what failed and how to fix it."""
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "error"))
            hint = _HINTS.get(code, "")
            message = error.get("Message") or code
            raise StoreError(f"{self.description}: {what}: {code}: {message}" + (f" ({hint})" if hint else "")) from None
        except NoCredentialsError:
            raise StoreError(f"{self.description}: {what}: no credentials (give backup_store.access_key_id and "
                             "secret_access_key from secret variables, or set AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY)") from None
        except EndpointConnectionError as exc:
            raise StoreError(f"{self.description}: {what}: cannot connect ({exc}; is endpoint_url right and the "
                             "server up?)", retryable=True) from None
        except BotoCoreError as exc:
            raise StoreError(f"{self.description}: {what}: {exc}") from None

    def scratch_dir(self) -> Path | None:
        return None

    def put(self, manifest: Manifest, packed_path: Path, *, cancel: threading.Event | None = None) -> None:
        from boto3.s3.transfer import TransferConfig

        size = os.stat(packed_path).st_size
        if size != manifest.stored_size:
            raise StoreError(f"{self.description}: {packed_path} has {size} bytes, its manifest says "
                             f"{manifest.stored_size}: not stored")
        config = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE,
                                max_concurrency=CONCURRENCY, max_io_queue=CONCURRENCY)
        # s3transfer reads up to this many parts of a file object ahead (default 10: 80 MiB here)
        config.max_in_memory_upload_chunks = CONCURRENCY
        client = self.client()
        with self._errors(f"cannot store backup {manifest.name}"):
            if self._read(manifest_file(manifest)) is not None:
                raise StoreError(already_stored(manifest, self.description))
            with open(packed_path, "rb") as handle:
                reader = CancellableReader(handle, cancel, f"storing backup {manifest.name}")
                client.upload_fileobj(reader, self.bucket, self._key(data_file(manifest)), Config=config)
            client.put_object(Bucket=self.bucket, Key=self._key(manifest_file(manifest)),
                              Body=manifest.to_json().encode("utf-8"), ContentType="application/json")

    def fetch_to(self, manifest: Manifest, dest_path: Path, *, cancel: threading.Event | None = None) -> None:
        fetch_file(self, manifest, dest_path, cancel)

    def fetch_into(self, manifest: Manifest, sink: Writable, *, cancel: threading.Event | None = None) -> None:
        from botocore.exceptions import ClientError

        checked = CheckedSink(sink, cancel, f"fetching backup {manifest.name}")
        with self._errors(f"cannot read backup {manifest.name}"):
            try:
                body = self.client().get_object(Bucket=self.bucket, Key=self._key(data_file(manifest)))["Body"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    raise StoreError(f"backup {manifest.name}: its data object {data_file(manifest)} is missing "
                                     f"from {self.description}; nothing was changed") from None
                raise
            with contextlib.closing(body):
                for chunk in body.iter_chunks(1 << 20):
                    checked.write(chunk)
        check_fetched(manifest, checked.size, checked.hexdigest(), self.description)

    def list(self, environment: str, target: str | None = None, service: str | None = None,
             database: str | None = None) -> list[Manifest]:
        prefix = list_prefix(environment, target, service, database)
        base = self._key("")
        client = self.client()
        with self._errors("cannot list backups"):
            keys: list[str] = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{base}{prefix}/"):
                keys.extend(item["Key"][len(base):] for item in page.get("Contents", []))
            return manifests_in(keys, self._read, environment=environment, target=target, service=service,
                                database=database)

    def _read(self, relative: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            body = self.client().get_object(Bucket=self.bucket, Key=self._key(relative))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None  # deleted since the listing
            raise
        with contextlib.closing(body):
            data: bytes = body.read(1 << 20)  # a manifest is a few hundred bytes; anything bigger is not one
        return data

    def delete(self, manifest: Manifest) -> None:
        client = self.client()
        with self._errors(f"cannot delete backup {manifest.name}"):
            client.delete_object(Bucket=self.bucket, Key=self._key(manifest_file(manifest)))
            client.delete_object(Bucket=self.bucket, Key=self._key(data_file(manifest)))

