"""The service's SQLite databases: where they are, checking, backing up and restoring them.

Mode-agnostic: everything here runs over a `Workspace` (targets/workspace.py)
that a target's `ServiceData` capability provides, and a backup `Store`
(stores.py) on the controller, on a Compose host or in S3-compatible storage.

  model.py          DatabaseSpec, Manifest: the shared data
  locate.py         the inventory's `database` and `backup_store`, resolved for one target and service
  sqlite.py         the SQL tool inside the service (sqlite3, else python3): checks, snapshots
  archive.py        gzip + AES-256-GCM, streamed both ways, with checksums
  transfer.py       private temp files; checked, cancellable streams
  stores.py         the Store protocol, layout and naming, listing, retention
  folder_stores.py  a folder on the controller or on a Compose host
  s3_store.py       S3-compatible object storage through boto3
  procedures.py     db_check, backup, restore as procedures over a workspace and a store
"""
