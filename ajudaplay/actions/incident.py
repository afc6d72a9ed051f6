"""(being built: issue 10) the incident actions."""

from __future__ import annotations

from ajudaplay.actions.base import Registry

__all__ = ["register"]


def register(registry: Registry) -> None:
    """Add the incident actions to `registry`."""
