"""Moved to ajudaplay/schema_diagnostics.py (inventories use it too); kept for old imports."""

from ajudaplay.schema_diagnostics import (
    TASK_LISTS,
    Vocabulary,
    describe_value,
    did_you_mean,
    expected_types,
    schema_diagnostics,
    ssh_url_problem,
)

__all__ = [
    "TASK_LISTS", "Vocabulary", "describe_value", "did_you_mean", "expected_types", "schema_diagnostics",
    "ssh_url_problem",
]
