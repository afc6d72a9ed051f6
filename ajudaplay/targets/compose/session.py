"""The per-run view of one Compose project: connection, CLI, override and revisions.

Probed once on first use (one round trip) and kept for the run: the run holds
the lock on the project, so nobody else changes these files meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ajudaplay.targets.compose.cli import ComposeProject
from ajudaplay.targets.compose.state import Override, RevisionStore, compose_version

if TYPE_CHECKING:
    from ajudaplay.targets.compose.cli import Probe
    from ajudaplay.targets.compose.settings import ComposeSettings


@dataclass
class Session:
    """A probed Compose project plus ajudaplay's state files, as read from the host."""

    project: ComposeProject
    probe: Probe
    override: Override
    store: RevisionStore

    @property
    def settings(self) -> ComposeSettings:
        return self.project.settings

    @classmethod
    def open(cls, project: ComposeProject) -> Session:
        probe = project.probe()
        where = project.settings.target
        override = Override.parse(probe.files.get("override"), f"target {where!r}")
        if override.version is None:
            override.version = compose_version(probe.files.get("compose"))
        store = RevisionStore.parse(probe.files.get("revisions"), f"target {where!r}")
        return cls(project, probe, override, store)

    def save_override(self, override: Override) -> None:
        """Write the override file and make later Compose commands include it."""
        self.project.write_file(self.settings.override_path, override.dump(), 0o644)
        self.override = override
        self.project.override_exists = True

    def save_revisions(self) -> None:
        self.project.write_file(self.settings.revisions_path, self.store.dump(), 0o644)
