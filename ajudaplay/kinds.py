"""The target kinds, declared once: the inventory loader, its schema, the target
factory and the CLI all read this table instead of keeping their own list.

Core layer: no imports beyond the standard library, so anything may read it
(and `validate` pays nothing for it). Adding a kind means one entry here, its
connection mapping under `$defs.target.properties` in inventory.schema.json
(tests/validation/test_kinds.py checks both agree) and its Target class.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class Kind:
    """One target kind: how to build it and what it can do."""

    name: str  # the kind key in an inventory target (`compose:`, `kubernetes:` ...)
    modules: tuple[str, ...]  # module candidates holding the Target class, tried in order
    class_name: str
    local_is_controller: bool = False  # `host: "@local"` runs commands on the controller itself
    in_process: bool = False  # never opens a connection (no network, no gevent needed)
    has_services: bool = True  # `services:` name its objects; False: service actions are NotApplicable
    user_facing: bool = True  # offered in messages and docs (False: a test double)


KINDS: Mapping[str, Kind] = MappingProxyType({kind.name: kind for kind in (
    Kind("host", ("ajudaplay.targets.host",), "HostTarget", local_is_controller=True, has_services=False),
    Kind("compose", ("ajudaplay.targets.compose", "ajudaplay.targets.compose.target"), "ComposeTarget",
         local_is_controller=True),
    Kind("kubernetes", ("ajudaplay.targets.kubernetes", "ajudaplay.targets.kubernetes.target"), "KubernetesTarget"),
    Kind("fake", ("ajudaplay.targets.fake",), "FakeTarget", in_process=True, user_facing=False),
)})

KIND_NAMES: tuple[str, ...] = tuple(KINDS)
CONTROLLER_KINDS: tuple[str, ...] = tuple(k.name for k in KINDS.values() if k.local_is_controller)
IN_PROCESS_KINDS: tuple[str, ...] = tuple(k.name for k in KINDS.values() if k.in_process)
SERVICELESS_KINDS: tuple[str, ...] = tuple(k.name for k in KINDS.values() if not k.has_services)
USER_KINDS: tuple[str, ...] = tuple(k.name for k in KINDS.values() if k.user_facing)
