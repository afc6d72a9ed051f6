"""(being built: issue 10) the network actions."""

from __future__ import annotations

from ajudaplay.actions.base import Registry

__all__ = ["register"]


def register(registry: Registry) -> None:
    """Add the network actions to `registry`."""
