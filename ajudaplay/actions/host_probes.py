"""Read-only probes: `wait_for` (port/file on the target host, URL from the controller) and `http`.

Port and file checks run ON the target through its connection (what is
listening there, not what the controller can reach); URL checks and `http`
run from the controller with urllib, like the runbook's `curl -f .../health`.
Both honour cancellation (Ctrl-C, step timeout) between attempts.
"""

from __future__ import annotations

import json
import re
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
    """One HTTP request, from the controller or (`from: service`) from inside a service; fails unless the status is expected."""
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
    origin = str(a.get("from") or "controller")
    if origin not in ("controller", "service"):
        raise TargetError(f"http.from: expected controller or service, got {origin!r}")
    inside = InService.of(ctx, a, method, body) if origin == "service" else None  # its input errors first
    if ctx.step.check and method not in ("GET", "HEAD", "OPTIONS"):
        return Result(skipped=True, msg=f"skipped in check mode ({method} may change something)")
    timeout = float(a.get("timeout", 30))
    retries = int(a.get("retries", 0))
    delay = float(a.get("delay", 1))
    verify = bool(a.get("validate_certs", True))
    extra: dict[str, Any] = {}
    if inside is not None:
        extra = {"from": "service", "service": inside.service}

        def send() -> tuple[int, bytes, dict[str, str]]:
            try:
                status, content, got, _ = inside.request(url, headers, timeout)
            finally:
                if inside.tool:
                    extra["tool"] = inside.tool  # also when there was no HTTP answer
            return status, content, got
    else:
        def send() -> tuple[int, bytes, dict[str, str]]:
            return _request(url, method, body, headers, timeout, verify)
    started = time.monotonic()
    error = ""
    for attempt in range(retries + 1):
        try:
            status, content, resp_headers = send()
        except TargetError as exc:
            error = str(exc)
            if exc.retryable and attempt < retries and not ctx.step.cancel.wait(delay):
                continue
            return Result(failed=True, msg=error, data={"url": url, "status": -1, **extra,
                                                        "elapsed": round(time.monotonic() - started, 3)})
        if status not in expected and attempt < retries and status >= 500:
            if not ctx.step.cancel.wait(delay):
                continue
        result = _http_result(a, url, status, content, resp_headers, expected, time.monotonic() - started)
        result.data.update(extra)
        return result
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
    """Send one request from the controller (integrations.web); HTTP error statuses are returned, network failures raise TargetError."""
    from ajudaplay.integrations.web import WebError, request

    try:
        reply = request(url, method, body=body, headers=headers, timeout=timeout, verify=verify)
    except WebError as exc:
        raise TargetError(str(exc), retryable=True) from exc
    return reply.status, reply.body, dict(reply.headers)


# http from: service -------------------------------------------------------------------
# Runs inside the service through exec: the URL and each header are argv words of this fixed
# script (never a shell line made from them). wget first (busybox has it; its -T crashes on
# busybox 1.35, so the step's timeout bounds the exec instead), else curl.
_IN_SERVICE = r"""u=$1; shift
if command -v wget >/dev/null 2>&1; then
  echo "@@ajudaplay-tool wget" >&2
  n=$#; while [ "$n" -gt 0 ]; do set -- "$@" --header "$1"; shift; n=$((n-1)); done
  exec wget -S -q -O- "$@" "$u"
elif command -v curl >/dev/null 2>&1; then
  echo "@@ajudaplay-tool curl" >&2
  n=$#; while [ "$n" -gt 0 ]; do set -- "$@" -H "$1"; shift; n=$((n-1)); done
  exec curl -sS -D /dev/stderr -w '\n@@ajudaplay-status %{http_code}' "$@" "$u"
else
  echo "@@ajudaplay-none" >&2; exit 127
fi"""
_NO_TOOL_RC = 127
_STATUS_LINE = re.compile(r"^\s*HTTP/[0-9.]+\s+([0-9]{3})")
_HEADER_LINE = re.compile(r"^\s*([A-Za-z0-9-]+):\s*(.*?)\s*$")


class InService:
    """An http request made inside a service (ServiceOps.exec), with whatever client its image has."""

    def __init__(self, ctx: ActionContext, service: str, container: str | None) -> None:
        self.ctx, self.service, self.container = ctx, service, container
        self.tool = ""  # the client the last request found in the image

    @classmethod
    def of(cls, ctx: ActionContext, a: dict[str, Any], method: str, body: bytes | None) -> InService:
        service = a.get("service")
        if not isinstance(service, str) or not service.strip():
            raise TargetError("http.service: required with `from: service` (the service the request runs in)")
        if method != "GET" or body is not None:
            raise TargetError(f"http.from: service sends GET requests only (wget in an image has no other method); "
                              f"got {method}{' with a body' if body is not None else ''}")
        if a.get("validate_certs") is False:
            raise TargetError("http.validate_certs: false is not supported with `from: service`")
        container = a.get("container")
        return cls(ctx, service.strip(), None if container in (None, "") else str(container))

    def request(self, url: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes, dict[str, str], str]:
        """(status, body, headers, tool); a missing client or no HTTP answer is a TargetError."""
        import dataclasses

        from ajudaplay.errors import InvalidInput
        from ajudaplay.targets.base import service_ops

        if not url.startswith(("http://", "https://")):
            raise TargetError(f"http.url: expected an http:// or https:// URL, got {url!r}")
        words = [f"{k}: {v}" for k, v in headers.items()]
        # A GET changes nothing: it runs in check mode too, like http from the controller.
        step = dataclasses.replace(self.ctx.step, check=False, timeout=timeout)
        argv = ["sh", "-c", _IN_SERVICE, "ajudaplay-http", url, *words]
        try:
            result = service_ops(self.ctx.target, "http").exec(step, self.service, argv, container=self.container)
        except InvalidInput as exc:
            raise TargetError(str(exc)) from exc
        self.tool = tool_of(str(result.data.get("stderr") or ""))
        return parse_in_service(result.data, self.service, url, timeout)


def tool_of(stderr: str) -> str:
    """The client the in-service script chose (its first line on stderr), or "" when it chose none."""
    return next((line.split()[-1] for line in stderr.splitlines() if line.startswith("@@ajudaplay-tool ")), "")


def parse_in_service(data: dict[str, Any], service: str, url: str,
                     timeout: float) -> tuple[int, bytes, dict[str, str], str]:
    """The exec's output as (status, body, headers, tool); pure, so every client's output is tested without one."""
    rc = data.get("rc")
    stdout, stderr = str(data.get("stdout") or ""), str(data.get("stderr") or "")
    lines = stderr.splitlines()
    tool = tool_of(stderr)
    if "@@ajudaplay-none" in stderr or (rc == _NO_TOOL_RC and not tool):
        raise TargetError(f"neither wget nor curl found in the image of {service} "
                          "(http from: service runs the image's own client)")
    if not tool:
        detail = (stderr or stdout).strip()[-300:]
        raise TargetError(f"http from {service}: could not run sh in the service (rc {rc}): {detail}")
    body = stdout
    status = -1
    if tool == "curl":
        head, sep, code = stdout.rpartition("\n@@ajudaplay-status ")
        if sep:
            body = head
            status = int(code.strip() or 0) if code.strip().isdigit() else -1
    headers: dict[str, str] = {}
    for line in lines:  # wget -S and curl -D both write the response head (each redirect's) to stderr
        match = _STATUS_LINE.match(line)
        if match:
            headers = {}
            if tool == "wget":
                status = int(match.group(1))
            continue
        header = _HEADER_LINE.match(line)
        if header and not line.startswith(("wget:", "curl:", "@@")):
            headers[header.group(1).lower()] = header.group(2)
    if status <= 0:
        said = [line for line in lines if not line.startswith("@@") and line.strip()]
        detail = said[-1].strip() if said else f"exit status {rc}"
        if rc == 124 or "timed out" in detail.lower():
            raise TargetError(f"{url} from {service}: timed out after {timeout:g} s ({tool})", retryable=True)
        raise TargetError(f"{url} from {service}: no HTTP answer ({tool}): {detail}", retryable=True)
    return status, body.encode(), headers, tool
