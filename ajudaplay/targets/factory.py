"""Builds the Target for an inventory entry, importing only that mode's module.

Lazy imports (importlib) keep `validate` and `schema` from ever loading
pyinfra or the kubernetes client, and a run only pays for the modes it uses.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping

from ajudaplay.errors import NotApplicable
from ajudaplay.kinds import KINDS

if TYPE_CHECKING:
    from ajudaplay.inventory.model import TargetSpec
    from ajudaplay.targets.base import Target

# kind -> (module candidates, class name), from the one table of kinds (ajudaplay/kinds.py);
# a package may export the class or keep it in .target
TARGET_CLASSES: Mapping[str, tuple[tuple[str, ...], str]] = MappingProxyType({
    kind.name: (kind.modules, kind.class_name) for kind in KINDS.values()
})


def target_class(kind: str) -> type[Target]:
    """The Target class for a kind; raises NotApplicable for an unknown or missing mode."""
    if kind not in TARGET_CLASSES:
        raise NotApplicable(f"unknown target kind {kind!r}; known: {', '.join(sorted(TARGET_CLASSES))}")
    modules, class_name = TARGET_CLASSES[kind]
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # a dependency of the module is missing: say so
                raise NotApplicable(f"target kind {kind!r} needs {exc.name!r}, which is not installed") from exc
            continue
        cls = getattr(module, class_name, None)
        if cls is not None:
            return cls  # type: ignore[no-any-return]
    raise NotApplicable(f"target kind {kind!r} is not available in this installation ({class_name} not found)")


def make_target(spec: TargetSpec) -> Target:
    """A new, unopened Target for `spec` (connecting happens in `open()`)."""
    return target_class(spec.kind)(spec)
