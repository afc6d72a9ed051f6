"""Read-only probes: `wait_for` (port/file on the target host, URL from the controller) and `http`.

Port and file checks run ON the target through its connection (what is
listening there, not what the controller can reach); URL checks and `http`
run from the controller with urllib, like the runbook's `curl -f .../health`.
Both honour cancellation (Ctrl-C, step timeout) between attempts.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import TargetError
from ajudaplay.results import Result

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.hosts.base import HostConnection

# One portable TCP probe for /bin/sh hosts: whichever of nc, bash, python3 exists.
_PORT_PROBE = (
    "h={h}; p={p}; "
    "if command -v nc >/dev/null 2>&1; then nc -z -w 2 \"$h\" \"$p\" >/dev/null 2>&1; "
    "elif command -v bash >/dev/null 2>&1; then timeout 2 bash -c 'exec 3<>/dev/tcp/'\"$h/$p\" 2>/dev/null; "
    "elif command -v python3 >/dev/null 2>&1; then python3 -c 'import socket,sys; "
    "socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)' \"$h\" \"$p\" 2>/dev/null; "
    "else echo 'no nc, bash or python3 on the host to test a port' >&2; exit 99; fi"
)


def _statuses(value: Any, default: list[int]) -> list[int]:
    if value is None:
        return default
    if isinstance(value, list):
        return [int(v) for v in value]
    return [int(value)]


# wait_for ----------------------------------------------------------------------------
def run_wait_for(ctx: ActionContext, args: Any) -> Result:
    """Poll until a port/file/URL reaches `state`, or fail after `timeout` seconds."""
    a = dict(args or {})
    state = str(a.get("state", "started"))
    timeout = float(a.get("timeout", 300))
    delay = float(a.get("delay", 0))
    sleep = float(a.get("sleep", 1))
    kinds = [k for k in ("port", "path", "url") if a.get(k) is not None]
    if len(kinds) != 1:
        raise TargetError("wait_for: give exactly one of `port`, `path` or `url`")
    kind = kinds[0]
    want_up = state in ("started", "present")
    probe, what = _probe(ctx, a, kind)
    started = time.monotonic()
    cancel = ctx.step.cancel
    if delay and cancel.wait(delay):
        return Result(failed=True, msg="wait_for cancelled")
    attempts = 0
    last = ""
    while True:
        attempts += 1
        up, last = probe()
        if up == want_up:
            elapsed = round(time.monotonic() - started, 3)
            return Result(changed=False, msg=f"{what} is {state}", data={"elapsed": elapsed, "attempts": attempts, "state": state})
        remaining = timeout - (time.monotonic() - started)
        if remaining <= 0:
            detail = f" (last: {last})" if last else ""
            return Result(
                failed=True,
                msg=f"timed out after {timeout:g}s waiting for {what} to be {state}{detail}",
                data={"elapsed": round(time.monotonic() - started, 3), "attempts": attempts, "state": state},
            )
        if cancel.wait(min(sleep, remaining)):
            return Result(failed=True, msg=f"wait_for {what} cancelled")


def _probe(ctx: ActionContext, a: dict[str, Any], kind: str) -> tuple[Any, str]:
    """A no-argument function returning (is_up, detail), and a description of what is probed."""
    if kind == "url":
        url = str(a["url"])
        expected = _statuses(a.get("status"), [200])
        verify = bool(a.get("validate_certs", True))

        def url_probe() -> tuple[bool, str]:
            try:
                status, _, _ = _request(url, "GET", None, {}, 5.0, verify)
            except TargetError as exc:
                return False, str(exc)
            return status in expected, f"HTTP {status}"

        return url_probe, url
    host: HostConnection = ctx.target.host()
    if kind == "port":
        address = str(a.get("host") or "127.0.0.1")
        command = _PORT_PROBE.format(h=shlex.quote(address), p=shlex.quote(str(int(a["port"]))))

        def port_probe() -> tuple[bool, str]:
            res = host.run(command, timeout=10, cancel=ctx.step.cancel)
            if res.rc == 99:
                raise TargetError(res.stderr.strip())
            return res.rc == 0, "open" if res.rc == 0 else "closed"

        return port_probe, f"port {address}:{a['port']} on {ctx.target.name}"
    path = str(a["path"])
    test = f"test -e {shlex.quote(path)}"

    def path_probe() -> tuple[bool, str]:
        res = host.run(test, cancel=ctx.step.cancel)
        return res.rc == 0, "exists" if res.rc == 0 else "missing"

    return path_probe, f"{path} on {ctx.target.name}"


# http -----------------------------------------------------------------------------
def run_http(ctx: ActionContext, args: Any) -> Result:
    """One HTTP request from the controller; fails unless the status is expected (default 200)."""
    a = dict(args or {})
    url = str(a["url"])
    method = str(a.get("method", "GET")).upper()
    expected = _statuses(a.get("status"), [200])
    headers = {str(k): str(v) for k, v in (a.get("headers") or {}).items()}
    body: bytes | None = None
    if a.get("json") is not None:
        body = json.dumps(a["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif a.get("body") is not None:
        raw = a["body"]
        body = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
    if ctx.step.check and method not in ("GET", "HEAD", "OPTIONS"):
        return Result(skipped=True, msg=f"skipped in check mode ({method} may change something)")
    timeout = float(a.get("timeout", 30))
    retries = int(a.get("retries", 0))
    delay = float(a.get("delay", 1))
    verify = bool(a.get("validate_certs", True))
    started = time.monotonic()
    error = ""
    for attempt in range(retries + 1):
        try:
            status, content, resp_headers = _request(url, method, body, headers, timeout, verify)
        except TargetError as exc:
            error = str(exc)
            if attempt < retries and not ctx.step.cancel.wait(delay):
                continue
            return Result(failed=True, msg=error, data={"url": url, "status": -1, "elapsed": round(time.monotonic() - started, 3)})
        if status not in expected and attempt < retries and status >= 500:
            if not ctx.step.cancel.wait(delay):
                continue
        return _http_result(a, url, status, content, resp_headers, expected, time.monotonic() - started)
    return Result(failed=True, msg=error or "no attempt made")  # pragma: no cover - loop always returns


def _http_result(
    a: dict[str, Any], url: str, status: int, content: bytes, headers: dict[str, str], expected: list[int], elapsed: float
) -> Result:
    data: dict[str, Any] = {"url": url, "status": status, "elapsed": round(elapsed, 3), "headers": headers}
    text = content.decode("utf-8", "replace")
    if a.get("return_content", False):
        data["content"] = text
    if "json" in headers.get("content-type", "").lower():
        try:
            data["json"] = json.loads(text)
        except ValueError:
            pass
    result = Result(changed=False, data=data, msg=f"HTTP {status}")
    if status not in expected:
        result.failed = True
        result.msg = f"{url} returned HTTP {status}, expected {', '.join(map(str, expected))}"
    return result


def _request(
    url: str, method: str, body: bytes | None, headers: dict[str, str], timeout: float, verify: bool
) -> tuple[int, bytes, dict[str, str]]:
    """Send one request; HTTP error statuses are returned, network failures raise TargetError."""
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, response.read(), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read() or b"", {k.lower(): v for k, v in (exc.headers or {}).items()}
    except urllib.error.URLError as exc:
        raise TargetError(f"{url}: {exc.reason}", retryable=True) from exc
    except (OSError, ValueError) as exc:  # timeouts, resets, bad URLs
        raise TargetError(f"{url}: {exc}", retryable=True) from exc
