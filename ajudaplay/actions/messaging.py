"""(being built: issue 10) the messaging actions."""

from __future__ import annotations

from ajudaplay.actions.base import Registry

__all__ = ["register"]


def register(registry: Registry) -> None:
    """Add the messaging actions to `registry`."""
