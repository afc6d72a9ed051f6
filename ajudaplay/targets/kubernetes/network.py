"""(being built: issue 10) the network verb on kubernetes."""

from __future__ import annotations

from typing import Any


def endpoints(*args: Any) -> Any:
    raise NotImplementedError("issue 10: being built")
