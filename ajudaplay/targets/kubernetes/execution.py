"""`exec` in a service's pods: the pods/exec subresource over a websocket (kubectl exec without kubectl).

stdout and stderr arrive on their own channels; the exit code comes from the
status channel (v4.channel.k8s.io: a Status object, `NonZeroExitCode` with an
`ExitCode` cause). One Ready pod by default, or every Ready pod (`pod: all`).
Ctrl-C (ctx.cancel) and the step timeout close the stream and stop the
command in the container (podexec.py: it runs under `sh` with a marker in its
environment; an image without `sh` runs it unwrapped, with a warning that it
cannot be stopped).
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.outcomes import ExecOutcome
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.objects import list_pods, pick_container, read_deployment
from ajudaplay.targets.kubernetes.services import ServiceRef

POLL = 0.2  # seconds between checks of cancel/deadline while the command runs
STDOUT, STDERR, STATUS = 1, 2, 3


def exec_(kube: Kube, ctx: StepContext, ref: ServiceRef, command: list[str] | str, *,
          container: str | None = None, pod: str | None = None, stdin: str | None = None) -> ExecOutcome:
    """Run `command` (a shell string via sh -c, or an argv list) in one Ready pod, a named pod, or all of them."""
    argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
    shown = command if isinstance(command, str) else shlex.join(command)
    if ctx.check:
        return ExecOutcome(skipped=True, msg=f"check mode: would run in {ref.service}: {shown}", rc=None, stdout="",
                           stderr="", stdout_lines=[], stderr_lines=[], cmd=shown)
    deployment = read_deployment(kube, ref)
    name = container or pick_container(deployment, ref, kube.target)
    pods = _choose(list_pods(kube, deployment), pod, ref)
    runs = [dict(_run(kube, ctx, p, name, argv, stdin), cmd=shown, pod=p, container=name) for p in pods]
    warnings = [str(r.pop("warning")) for r in runs if "warning" in r]
    failed = [r for r in runs if r["rc"] != 0]
    if pod == "all":
        data: dict[str, Any] = {"rc": failed[0]["rc"] if failed else 0, "cmd": shown, "pods": runs,
                                "stdout": "\n".join(r["stdout"] for r in runs),
                                "stderr": "\n".join(r["stderr"] for r in runs)}
        data["stdout_lines"] = [f"{r['pod']} {line}" for r in runs for line in r["stdout_lines"]]
        data["stderr_lines"] = [f"{r['pod']} {line}" for r in runs for line in r["stderr_lines"]]
    else:
        data = runs[0]
    if failed:
        first = failed[0]
        detail = (first.get("error") or first["stderr"] or first["stdout"]).strip()[-500:]
        return ExecOutcome.of(data, changed=True, failed=True, warnings=warnings,
                              msg=f"{shown} exited {first['rc']} in pod {first['pod']}: {detail}")
    return ExecOutcome.of(data, changed=True, warnings=warnings, msg=str(data["stdout"]).strip()[-2000:])


def _choose(pods: list[JSON], wanted: str | None, ref: ServiceRef) -> list[str]:
    """Ready, not terminating pods of the service (named first by name), or the one asked for."""
    def ready(p: JSON) -> bool:
        conds = (p.get("status") or {}).get("conditions") or []
        return not p["metadata"].get("deletionTimestamp") and any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
    names = sorted(p["metadata"]["name"] for p in pods if ready(p))
    if wanted not in (None, "all"):
        every = sorted(p["metadata"]["name"] for p in pods)
        if wanted not in every:
            raise TargetError(f"exec: pod {wanted!r} is not a pod of service {ref.service!r} "
                              f"(deployment {ref.deployment}); its pods: {', '.join(every) or 'none'}")
        return [str(wanted)]
    if not names:
        states = ", ".join(f"{p['metadata']['name']} ({(p.get('status') or {}).get('phase', 'Unknown')}, not ready)"
                           for p in pods) or "none"
        raise TargetError(f"exec: service {ref.service!r} (deployment {ref.deployment}) has no Ready pod; pods: {states}")
    return names if wanted == "all" else names[:1]


def _run(kube: Kube, ctx: StepContext, pod: str, container: str, argv: list[str], stdin: str | None) -> dict[str, Any]:
    """One exec, under the stop wrapper when the image has `sh` (podexec.py)."""
    from ajudaplay.hosts.stopping import new_marker
    from ajudaplay.targets.kubernetes import podexec

    marker = new_marker()
    result = _stream(kube, ctx, pod, container, podexec.wrap(argv, marker), stdin, marker)
    tried = podexec.Finished(result["rc"], result["stdout"].encode(), result["stderr"].encode(), result.get("error", ""))
    if podexec.no_shell(tried):
        result = _stream(kube, ctx, pod, container, argv, stdin, None)
        result["warning"] = (f"pod {pod}: the image has no `sh`, so this exec could not be wrapped: "
                             "Ctrl-C or a timeout would leave the command running in the container")
    return result


def _stream(kube: Kube, ctx: StepContext, pod: str, container: str, argv: list[str], stdin: str | None,
            marker: str | None) -> dict[str, Any]:
    """One exec stream: collect stdout/stderr until the server closes it, then read the exit status.
    Cancelled or past its deadline, the command is stopped in the container by its marker."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    from ajudaplay.targets.kubernetes import podexec

    def stopped() -> str:
        ws.close()
        if marker is None:
            return "the stream was closed; the command may still run in the container"
        if podexec.stop(kube, pod, container, marker):
            return "the command was stopped in the container"
        return "the stream was closed; the command could not be confirmed stopped in the container"

    shown = shlex.join(argv[4:] if marker is not None else argv)
    core = client.CoreV1Api(kube.api_client)
    try:
        ws = stream(core.connect_get_namespaced_pod_exec, pod, kube.namespace, command=argv, container=container,
                    stdin=stdin is not None, stdout=True, stderr=True, tty=False, _preload_content=False)
    except ApiException as exc:
        raise TargetError(f"exec in pod {pod!r} container {container!r}: {exc.reason or exc}") from exc
    out: list[str] = []
    err: list[str] = []
    status = ""
    deadline = time.monotonic() + ctx.timeout if ctx.timeout else None
    try:
        if stdin is not None:
            _send_stdin(ws, stdin)
        while True:
            if ctx.cancelled():
                raise Interrupted(f"exec in pod {pod}: interrupted; {stopped()}")
            if deadline is not None and time.monotonic() > deadline:
                raise TargetError(f"exec in pod {pod}: {shown} still running after {ctx.timeout:g}s ({stopped()})")
            closed = not ws.is_open()  # then this round only drains what earlier reads buffered (podexec.run)
            ws.update(timeout=POLL)
            out.append(ws.read_channel(STDOUT))
            err.append(ws.read_channel(STDERR))
            status += ws.read_channel(STATUS)
            if closed:
                break
    finally:
        ws.close()
    rc, error = _exit_code(status)
    stdout, stderr = "".join(out), "".join(err)
    result: dict[str, Any] = {"rc": rc, "stdout": stdout, "stderr": stderr,
                              "stdout_lines": stdout.splitlines(), "stderr_lines": stderr.splitlines()}
    if error:
        result["error"] = error
    return result


def _send_stdin(ws: Any, data: str) -> None:
    """Write stdin, then end it: a v5 server gets a channel close; a v4 server (Kubernetes < 1.30) cannot be
    told, so the command must not wait for end-of-input there."""
    ws.write_stdin(data)
    if getattr(ws, "subprotocol", None) == "v5.channel.k8s.io":
        ws.close_channel(0)


def _exit_code(status: str) -> tuple[int, str]:
    """(exit code, error message) from the status channel's Status object."""
    if not status.strip():
        return 0, ""  # v1-v3 servers send no status on success
    try:
        doc = json.loads(status)
    except ValueError:
        return 1, status.strip()
    if doc.get("status") == "Success":
        return 0, ""
    for cause in (doc.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message")), ""
            except (TypeError, ValueError):
                break
    message = str(doc.get("message") or status).strip()
    return (127 if "not found" in message else 126), message
