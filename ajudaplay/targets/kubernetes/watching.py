"""Watch one named object until a predicate holds: the engine of every "wait until ..." here.

One LIST-free watch per wait (`fieldSelector=metadata.name=NAME`, starting at
the resourceVersion the caller already has), re-opened only when the server
ends it; a 410 Gone re-reads the object once. Honours the caller's deadline
and its cancel event (a helper closes the stream, so Ctrl-C does not wait for
the next event). A stalled connection ends in a clear TargetUnreachable.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ajudaplay.errors import Interrupted, TargetError, TargetUnreachable
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError

WINDOW = 300.0  # longest single watch request; the server closes it, we re-open
MAX_BROKEN = 4  # consecutive broken watches (errors, resets) before giving up with the last error
GRACE = 2.0  # read timeout beyond the watch window: a connection silent for longer is a stall


class WaitTimeout(TargetError):
    """The predicate did not hold before the deadline; carries the last status message."""


def wait_for(
    kube: Kube,
    collection_path: str,
    name: str,
    start: JSON,
    predicate: Callable[[JSON], tuple[bool, str]],
    *,
    timeout: float,
    cancel: threading.Event,
    log: Callable[[str], None] = lambda message: None,
    what: str = "",
) -> JSON:
    """Returns the first version of the object (from `start` on) for which predicate says done.

    `predicate(obj) -> (done, message)`; it may raise TargetError to fail at once
    (e.g. ProgressDeadlineExceeded). Raises WaitTimeout after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    current = start
    done, message = predicate(current)
    last_logged = ""
    broken = ""
    failures = 0
    while not done:
        if message != last_logged:
            log(message)
            last_logged = message
        if cancel.is_set():
            raise Interrupted(f"{what or name}: wait interrupted")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            extra = f" (the watch broke: {broken})" if broken else ""
            raise WaitTimeout(f"{what or name}: timed out after {timeout:g}s: {message.strip()}{extra}")
        rv = (current.get("metadata") or {}).get("resourceVersion")
        query: dict[str, Any] = {
            "watch": "true",
            "fieldSelector": f"metadata.name={name}",
            "timeoutSeconds": max(1, int(min(remaining, WINDOW)) + 1),
            "allowWatchBookmarks": "true",
        }
        if rv:
            query["resourceVersion"] = rv
        try:
            for event in _events(kube, collection_path, query, min(remaining, WINDOW) + GRACE, cancel, what):
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:  # our resourceVersion is too old: re-read
                        current = kube.get(f"{collection_path}/{name}", what=what)
                        break
                    raise KubeApiError(int(obj.get("code") or 500), str(obj.get("reason") or ""), str(obj.get("message") or ""))
                if kind == "BOOKMARK":
                    current = _with_rv(current, obj)
                    continue
                if kind == "DELETED":
                    raise TargetError(f"{what or name}: was deleted while waiting")
                current = obj
                failures = 0
                done, message = predicate(current)
                if done:
                    return current
                if message != last_logged:
                    log(message)
                    last_logged = message
                if time.monotonic() >= deadline:
                    break
        except _StreamBroken as exc:
            broken = str(exc)
            failures += 1
            if cancel.is_set():
                raise Interrupted(f"{what or name}: wait interrupted") from None
            if time.monotonic() >= deadline:
                continue
            if failures > MAX_BROKEN:
                raise TargetError(f"{what or name}: the watch failed {failures} times in a row, last: {broken}") from exc
            if cancel.wait(min(2.0, 0.25 * 2**failures, max(0.0, deadline - time.monotonic()))):
                raise Interrupted(f"{what or name}: wait interrupted") from None
            # a dropped or stalled watch: read once (retried, or a clear unreachable error) and re-watch
            log(f"watch interrupted ({exc}); re-reading")
            current = kube.get(f"{collection_path}/{name}", what=what)
        done, message = predicate(current)
    return current


def _with_rv(obj: JSON, bookmark: JSON) -> JSON:
    rv = (bookmark.get("metadata") or {}).get("resourceVersion")
    if not rv:
        return obj
    out = dict(obj)
    out["metadata"] = dict(obj.get("metadata") or {}, resourceVersion=rv)
    return out


class _StreamBroken(Exception):
    """The watch connection ended abnormally (timeout, reset, closed on cancel)."""


def _events(kube: Kube, path: str, query: dict[str, Any], read_timeout: float, cancel: threading.Event, what: str) -> Iterator[JSON]:
    """Decoded watch events from one watch request, closing it promptly on cancel."""
    import urllib3

    try:
        raw = kube.open_stream(path, query=query, read_timeout=read_timeout, what=what)
    except TargetUnreachable as exc:
        raise _StreamBroken(str(exc)) from exc
    except KubeApiError as exc:
        if not exc.retryable:
            raise
        raise _StreamBroken(exc.api_message) from exc
    finished = threading.Event()
    closer = threading.Thread(target=_close_on_cancel, args=(cancel, finished, raw), daemon=True)
    closer.start()
    try:
        buffer = bytearray()
        for chunk in raw.stream(amt=None, decode_content=True):
            buffer.extend(chunk)
            while (newline := buffer.find(b"\n")) != -1:
                line = bytes(buffer[:newline])
                del buffer[: newline + 1]
                if line.strip():
                    yield json.loads(line)
    except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError) as exc:
        raise _StreamBroken(str(exc) or type(exc).__name__) from exc
    finally:
        finished.set()
        kube.close_stream(raw)


def _close_on_cancel(cancel: threading.Event, finished: threading.Event, raw: Any) -> None:
    while not finished.is_set():
        if cancel.wait(0.2):
            try:
                raw.shutdown()
            except Exception:  # noqa: BLE001 - best effort: the reader sees the closed socket
                pass
            return
