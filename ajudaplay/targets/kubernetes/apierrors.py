"""Kubernetes API failures as ajudaplay errors: the API's own message, kind by HTTP status.

The boundary between the raw HTTP layer (`api.py`) and the rest of the target:
every non-2xx answer becomes `KubeApiError` (a `TargetError` that keeps the
status, reason and message the API server sent), every transport failure
becomes `TargetUnreachable`. Callers branch on `.status`/`.reason` (404, 409)
instead of on third-party exception types.
"""

from __future__ import annotations

import json
from typing import Any

from ajudaplay.errors import TargetError, TargetUnreachable

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

_HINTS = {
    401: "the credentials in the kubeconfig were refused; refresh the token or certificate of this context",
    403: "the user of this context lacks RBAC permission for that verb; ask for a Role granting it, or use another context",
}


class KubeApiError(TargetError):
    """The API server answered with an error status; `message` is the server's own text."""

    def __init__(self, status: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        hint = _HINTS.get(status, "")
        text = message + (f"\n    hint: {hint}" if hint else "")
        super().__init__(text, retryable=status in RETRYABLE_STATUSES)
        self.status = status
        self.reason = reason
        self.api_message = message
        self.details = details or {}

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


def from_response(status: int, body: bytes, http_reason: str, what: str) -> KubeApiError:
    """Builds the error from an error response, preferring the metav1.Status message."""
    reason = http_reason or ""
    message = ""
    details: dict[str, Any] = {}
    try:
        payload = json.loads(body.decode("utf-8", "replace")) if body else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and payload.get("kind") == "Status":
        message = str(payload.get("message") or "")
        reason = str(payload.get("reason") or reason)
        raw_details = payload.get("details")
        details = raw_details if isinstance(raw_details, dict) else {}
    if not message:
        snippet = body.decode("utf-8", "replace").strip()[:300] if body else ""
        message = f"{what}: HTTP {status} {http_reason}".rstrip() + (f": {snippet}" if snippet else "")
    return KubeApiError(status, reason, message, details)


def unreachable(target: str, server: str, exc: BaseException) -> TargetUnreachable:
    """A transport failure (refused, reset, TLS, timeout) as a clear unreachable error."""
    detail = _root_cause(exc)
    return TargetUnreachable(f"target {target!r}: cannot reach the Kubernetes API server at {server}: {detail}")


def _root_cause(exc: BaseException) -> str:
    """urllib3 nests the useful text (e.g. 'Connection refused') inside MaxRetryError.reason."""
    inner: BaseException = exc
    seen = 0
    while seen < 5:
        reason = getattr(inner, "reason", None)
        if isinstance(reason, BaseException) and reason is not inner:
            inner = reason
            seen += 1
            continue
        break
    text = str(inner) or type(inner).__name__
    if "timed out" in text.lower() or "timeout" in type(inner).__name__.lower():
        return f"request timed out ({text})"
    return text
