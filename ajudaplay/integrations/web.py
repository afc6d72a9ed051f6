"""One HTTP request from the controller, with secrets kept out of every error.

The Telegram Bot API puts its token in the URL path and webhooks carry theirs
in the URL or a header, so an error that quotes the URL or the exception's
text (urllib's messages include the host and sometimes the path) would leak
it. `request` masks every given secret, and the URL's user-info and query
string, in whatever it raises. HTTP error statuses are answers, not errors:
they come back as a Reply; only network failures raise.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

__all__ = ["Reply", "WebError", "mask", "request", "shown_url"]

MASK = "********"


class WebError(Exception):
    """A request that got no HTTP answer (refused, timed out, bad URL); its text holds no secret."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def json(self) -> Any:
        """The body as JSON; None when it is not JSON (a proxy's HTML error page, say)."""
        try:
            return json.loads(self.body.decode("utf-8", "replace"))
        except ValueError:
            return None

    def text(self, limit: int = 500) -> str:
        return self.body[:limit].decode("utf-8", "replace")


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (and its URL-quoted form) replaced by the mask, longest first."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}:
            text = text.replace(form, MASK)
    return text


def shown_url(url: str, secrets: Iterable[str] = ()) -> str:
    """The URL as it may be printed: no user-info, no query string, no secret in the path."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "?…" if parts.query else ""
    return mask(urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", "")) + query, secrets)


def request(
    url: str,
    method: str = "GET",
    *,
    body: bytes | None = None,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    verify: bool = True,
    secrets: Iterable[str] = (),
) -> Reply:
    """Send one request and read the whole answer; raises WebError (secrets masked) when there is none."""
    import socket
    import ssl
    import time
    import urllib.error
    import urllib.request

    secrets = tuple(secrets)
    sent_headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        sent_headers.setdefault("Content-Type", "application/json")
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    started = time.monotonic()
    where = shown_url(url, secrets)
    try:
        req = urllib.request.Request(url, data=body, method=method.upper(), headers=sent_headers)
        with urllib.request.urlopen(req, timeout=timeout, context=context) as response:
            data = response.read()
            return Reply(response.status, data, {k.lower(): v for k, v in response.headers.items()},
                         time.monotonic() - started)
    except urllib.error.HTTPError as exc:
        data = exc.read() or b""
        return Reply(exc.code, data, {k.lower(): v for k, v in (exc.headers or {}).items()}, time.monotonic() - started)
    except urllib.error.URLError as exc:
        reason = exc.reason
        timed_out = isinstance(reason, (socket.timeout, TimeoutError))
        text = "timed out" if timed_out else str(reason)
        raise WebError(f"{where}: {mask(text, secrets)}", timed_out=timed_out) from None
    except (TimeoutError, socket.timeout):
        raise WebError(f"{where}: timed out after {timeout:g} s", timed_out=True) from None
    except (OSError, ValueError) as exc:  # resets, bad URLs
        raise WebError(f"{where}: {mask(str(exc), secrets)}") from None
