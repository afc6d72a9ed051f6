"""The service's SQLite databases: where they are, checking, backing up and restoring them.

Mode-agnostic: everything here runs over a `Workspace` (targets/workspace.py)
that a target's `ServiceData` capability provides, and a backup `Store`
(stores.py) on the controller, on a Compose host or in S3-compatible storage.

  model.py       DatabaseSpec, Manifest: the shared data
  sqlite.py      the SQL tool inside the service (sqlite3, else python3): checks, snapshots
  archive.py     gzip + AES-256-GCM, streamed both ways, with checksums
  stores.py      the backup stores and their listing, retention
  procedures.py  db_check, backup, restore as procedures over a workspace and a store
"""
