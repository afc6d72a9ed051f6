"""Defaults the modes apply when a playbook leaves an argument out, against docs/actions-service.md.

A default is not visible in registered data, and waiting out a real 120 s timeout on every mode would
cost the suite its budget, so this reads the default each mode's deploy wait applies (Kubernetes
waited 600 s before issue 14's fix). A renamed or moved default fails here: update DEPLOY_TIMEOUT.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "actions-service.md"

# mode kind -> (module, name) of the deploy wait's default when `timeout` is not given
DEPLOY_TIMEOUT = {
    "compose": ("ajudaplay.targets.compose.health", "DEFAULT_TIMEOUT"),
    "kubernetes": ("ajudaplay.targets.kubernetes.rollouts", "DEFAULT_TIMEOUT"),
}


def documented_deploy_timeout() -> float:
    """The table row of `deploy`: "`timeout` (s, 120)"."""
    row = next(line for line in DOCS.read_text().splitlines() if line.startswith("| `deploy` |"))
    found = re.search(r"`timeout` \(s, (\d+)\)", row)
    assert found, f"docs/actions-service.md: the deploy row names no timeout default: {row[:200]}"
    return float(found.group(1))


@pytest.mark.parametrize("kind", sorted(DEPLOY_TIMEOUT))
def test_deploy_timeout_default_is_the_documented_one(kind: str) -> None:
    module, name = DEPLOY_TIMEOUT[kind]
    applied = float(getattr(importlib.import_module(module), name))
    assert applied == documented_deploy_timeout(), f"{kind}: deploy waits {applied:g}s by default, documented {documented_deploy_timeout():g}s"
