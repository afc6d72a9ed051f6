"""The typed inventory model: targets, groups, layered variables, secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ajudaplay.errors import Mark

# The kind names of ajudaplay/kinds.py, spelt out for mypy (a Literal cannot be computed);
# tests/validation/test_kinds.py fails when the two differ.
TargetKind = Literal["host", "compose", "kubernetes", "fake"]


@dataclass
class TargetSpec:
    """One target as the inventory declares it.

    `connection` is the kind's own mapping, e.g. for host/compose
    {"host": "ssh://deploy@10.0.0.5:22", "key": "...", "known_hosts": ..., "host_key_check": True,
     "project_dir": "/opt/app"} and for kubernetes
    {"kubeconfig": ..., "context": "prod", "namespace": "ns", "in_cluster": False}.
    `services` maps service name -> that mode's objects, e.g.
    {"api": {"deployment": "api", "container": "api", "hpa": "api-hpa"}} or {"api": {"service": "api"}}.
    """

    name: str
    kind: TargetKind
    mark: Mark
    connection: dict[str, Any] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    # The backup store that applies to this target (unrendered: values may be templates of secret
    # variables): its own `backup_store:`, else the inventory's; None: the default controller folder.
    backup_store: dict[str, Any] | None = None


@dataclass
class Group:
    name: str
    mark: Mark
    targets: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)  # nested groups
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class Inventory:
    path: Path
    name: str  # environment name, e.g. "prod"
    vars: dict[str, Any] = field(default_factory=dict)
    vars_mark: Mark | None = None  # where `vars:` is written, for template errors
    targets: dict[str, TargetSpec] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    secret_names: set[str] = field(default_factory=set)  # variables whose values are secret
    secret_values: list[str] = field(default_factory=list)  # resolved values, for the Redactor
    backup_store: dict[str, Any] | None = None  # the top-level `backup_store:` (unrendered); None: the default
