"""(being built: issue 10) the environment verb on compose."""

from __future__ import annotations

from typing import Any


def environment(*args: Any) -> Any:
    raise NotImplementedError("issue 10: being built")
