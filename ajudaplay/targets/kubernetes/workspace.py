"""ServiceData on Kubernetes: a Workspace in a pod of the service, and the service stopped for file work.

`PodWorkspace` is one container of one pod, reached through the pods/exec subresource (podexec.py):
commands run under the stop wrapper (Ctrl-C and timeouts stop them in the container), files stream
with `cat` out and `head -c SIZE` in, checked with the container's `sha256sum`. An exec stream can end
before all of its output arrived (kubernetes/kubernetes#60140), so a short read is resumed with
`tail -c +N` and the whole is compared with the container's sum. The image needs `sh`, `cat`, `head`,
`tail`, `wc` and `sha256sum` (busybox has them all).

`offline` stops the service (scale to 0, the count kept in the Deployment's annotation
`ajudaplay.io/restore-replicas` so an interrupted run leaves the number to return to), runs a short-lived
data pod made from the Deployment's pod template (same volumes, placement, service account and security
context; the service's container with a sleep loop instead of its command, no probes), and always takes
it down and scales back.
"""

from __future__ import annotations

import copy
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes import podexec
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.objects import deployment_path, list_pods, pick_container, read_deployment
from ajudaplay.targets.kubernetes.rollout import wait_rollout
from ajudaplay.targets.kubernetes.rollouts import DEFAULT_TIMEOUT
from ajudaplay.targets.kubernetes.services import ServiceRef
from ajudaplay.targets.kubernetes.watching import wait_for
from ajudaplay.targets.workspace import FileMissing, Ran

RESTORE_REPLICAS = "ajudaplay.io/restore-replicas"
DATA_POD_LABEL = "ajudaplay.io/data-pod"
SERVICE_LABEL = "ajudaplay.io/service"
SLEEP = 'trap "exit 0" TERM; while :; do sleep 1; done'
TRANSFER_TIMEOUT = 600.0  # seconds for one command or transfer when the step sets none
DATA_POD_DEADLINE = 6 * 3600  # activeDeadlineSeconds: a data pod whose run died is stopped by the cluster
MISSING_RC = 44
RESUMES = 5
POLL = 0.5  # seconds between looks at the service's pods while they go away
NO_SUM_RC = 45
SIZE_TAG = "ajudaplay-size"
_CHECKS = ('[ -f "$1" ] || exit %d; command -v sha256sum >/dev/null 2>&1 || '
           '{ echo "the image has no sha256sum" >&2; exit %d; }; ') % (MISSING_RC, NO_SUM_RC)
# $1 path: the file on stdout; its size, then its sum (computed while it streams: the other core) on stderr
READ_SH = (_CHECKS + 'echo "%s $(stat -c %%s "$1" 2>/dev/null || wc -c < "$1")" >&2; '
           'sha256sum < "$1" >&2 & cat < "$1"; rc=$?; wait $! && exit $rc') % SIZE_TAG
# the same, apart, when a cut stream lost them
STAT_SH = _CHECKS + 'wc -c < "$1" && sha256sum < "$1"'
RESUME_SH = 'exec tail -c +"$2" < "$1"'  # $2: the first byte wanted, counted from 1
# $1 path, $2 size: exactly $2 bytes of stdin into $1 (0600 when new), then the sum of what landed (read
# back: busybox's `tee` copies a kilobyte at a time, which made a summing pipeline slower, not faster)
WRITE_SH = 'umask 077 && head -c "$2" > "$1" && sha256sum < "$1"'
SUM = re.compile(rb"^([0-9a-f]{64})\s+-?\s*$", re.M)
SIZE = re.compile(rb"^%s\s+(\d+)\s*$" % SIZE_TAG.encode(), re.M)


class PodWorkspace:
    """A Workspace in one container of one pod (targets/workspace.py)."""

    def __init__(self, kube: Kube, ctx: StepContext, pod: str, container: str, where: str) -> None:
        self.kube, self.ctx, self.pod, self.container = kube, ctx, pod, container
        self.where = where

    def _timeout(self, timeout: float | None = None) -> float:
        return float(timeout or self.ctx.timeout or TRANSFER_TIMEOUT)

    def run(self, argv: list[str], *, timeout: float | None = None, stdin: bytes | None = None) -> Ran:
        """argv under the stop wrapper (unwrapped when the image has no `sh`); stopped in the container on
        Ctrl-C or past the timeout."""
        from ajudaplay.hosts.stopping import new_marker

        marker = new_marker()
        done = self._guarded(marker, lambda: podexec.run(
            self.kube, self.pod, self.container, podexec.wrap(argv, marker), stdin=stdin,
            timeout=self._timeout(timeout), cancel=self.ctx.cancel, what=f"{argv[0]} in {self.where}"))
        if podexec.no_shell(done):
            done = podexec.run(self.kube, self.pod, self.container, argv, stdin=stdin, timeout=self._timeout(timeout),
                               cancel=self.ctx.cancel, what=f"{argv[0]} in {self.where}")
        return Ran(done.rc, done.stdout, done.stderr + (done.error.encode() if done.error and not done.stderr else b""))

    def _guarded(self, marker: str, call: Any) -> podexec.Finished:
        """Run `call`; when it is interrupted or times out, stop what it started in the container first."""
        try:
            result: podexec.Finished = call()
            return result
        except Interrupted as exc:
            raise Interrupted(f"{exc}; {self._stopped(marker)}") from None
        except TargetError as exc:
            raise TargetError(f"{exc} ({self._stopped(marker)})") from exc

    def _stopped(self, marker: str) -> str:
        if podexec.stop(self.kube, self.pod, self.container, marker):
            return "the command was stopped in the container"
        return "the command could not be confirmed stopped in the container"

    def _sh(self, script: str, *args: str, sink: podexec.Sink | None = None, source: podexec.Source | None = None,
            size: int = 0, what: str) -> podexec.Finished:
        from ajudaplay.hosts.stopping import new_marker

        marker = new_marker()
        argv = podexec.wrap(["sh", "-c", script, "sh", *args], marker)
        return self._guarded(marker, lambda: podexec.stream(
            self.kube, self.pod, self.container, argv, sink=sink, source=source, size=size,
            timeout=self._timeout(), cancel=self.ctx.cancel, what=f"{what} in {self.where}"))

    def _fail(self, what: str, done: podexec.Finished) -> TargetError:
        detail = (done.error or done.stderr.decode("utf-8", "replace")).strip()[-400:] or f"exit status {done.rc}"
        if podexec.no_shell(done):
            detail = "the image has no `sh`, which reading and writing its files needs"
        full = " (the volume is full)" if "No space left" in detail else ""
        return TargetError(f"{what} in {self.where}: {detail}{full}")

    def _checked(self, path: str, done: podexec.Finished) -> None:
        if done.rc == MISSING_RC:
            raise FileMissing(f"no such file in {self.where}: {path}")
        if done.rc != 0:
            raise self._fail(f"reading {path}", done)

    def _stat(self, path: str) -> tuple[int, str]:
        out = _Collect()
        done = self._sh(STAT_SH, path, sink=out, what=f"reading {path}")
        self._checked(path, done)
        words = bytes(out.data).split()
        if len(words) < 2 or not words[0].isdigit():
            raise self._fail(f"reading the size and sha256 of {path}", done)
        return int(words[0]), words[1].decode("ascii", "replace")

    def read_to(self, path: str, sink: BinaryIO) -> str:
        """Stream `path` into `sink` with `cat`, its size and sum from the container on stderr; resumed with
        `tail -c +N` when the stream ends early (then size and sum asked apart if they were lost too);
        TargetError unless the sums agree."""
        counted = _Counting(sink)
        done = self._sh(READ_SH, path, sink=counted, what=f"reading {path}")
        self._checked(path, done)
        size_seen, sum_seen = SIZE.search(done.stderr), SUM.search(done.stderr)
        if size_seen and sum_seen:
            size, expected = int(size_seen.group(1)), sum_seen.group(1).decode()
        else:
            size, expected = self._stat(path)
        resumes = 0
        while done.rc == 0 and counted.size < size and resumes < RESUMES:
            resumes += 1
            self.ctx.log(f"{self.where}: the stream of {path} ended at byte {counted.size} of {size}; resuming")
            done = self._sh(RESUME_SH, path, str(counted.size + 1), sink=counted, what=f"reading {path} again")
        if done.rc != 0:
            raise self._fail(f"reading {path}", done)
        got = counted.sha256.hexdigest()
        if counted.size != size or got != expected:
            raise TargetError(f"reading {path} from {self.where}: received {counted.size} bytes with sha256 {got}, "
                              f"the container has {size} bytes with sha256 {expected} (the file changed while it "
                              "was read, or the stream was cut)")
        return got

    def write_from(self, source: BinaryIO, size: int, path: str) -> str:
        """Stream `size` bytes of `source` into `path` with `head -c` (which ends by itself: a v4 server
        cannot close stdin), then compare the container's sum; a failed write removes what it left."""
        sent = _Hashing(source)
        out = _Collect()
        try:
            done = self._sh(WRITE_SH, path, str(size), sink=out, source=sent, size=size, what=f"writing {path}")
        except BaseException:
            self._remove(path)
            raise
        landed = bytes(out.data).split()[:1]
        mine = sent.sha256.hexdigest()
        if done.rc != 0 or not landed:
            self._remove(path)
            raise self._fail(f"writing {path}", done)
        theirs = landed[0].decode("ascii", "replace")
        if theirs != mine:
            self._remove(path)
            raise TargetError(f"writing {path} in {self.where}: {size} bytes with sha256 {mine} were sent, "
                              f"what landed has sha256 {theirs}; the file was removed")
        return theirs

    def _remove(self, path: str) -> None:
        try:
            podexec.run(self.kube, self.pod, self.container, ["rm", "-f", "--", path], timeout=60,
                        what=f"removing {path} in {self.where}")
        except Exception:  # noqa: BLE001 - best effort after a failed write: the first error is what matters
            pass


class _Collect:
    """A small sink: a command's few lines of output."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data[: max(0, 4096 - len(self.data))]
        return len(data)


class _Counting:
    """Forwards to the sink while counting and hashing what went through."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink, self.size, self.sha256 = sink, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


class _Hashing:
    """Reads from the source while hashing what was read."""

    def __init__(self, source: BinaryIO) -> None:
        self.source, self.sha256 = source, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.sha256.update(data)
        return data


# the running service ------------------------------------------------------------------------------------
def _ready(pod: JSON) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


@contextmanager
def live_workspace(kube: Kube, ctx: StepContext, ref: ServiceRef) -> Iterator[PodWorkspace]:
    """The service's container in a Ready pod (the first by name), else in a Running one."""
    deployment = read_deployment(kube, ref)
    container = pick_container(deployment, ref, kube.target)
    live = [p for p in list_pods(kube, deployment) if not p["metadata"].get("deletionTimestamp")]
    running = [p for p in live if (p.get("status") or {}).get("phase") == "Running"]
    for usable in ([p for p in running if _ready(p)], running):
        if usable:
            pod = str(sorted(p["metadata"]["name"] for p in usable)[0])
            yield PodWorkspace(kube, ctx, pod, container, f"pod {pod} container {container}")
            return
    states = ", ".join(f"{p['metadata']['name']} ({(p.get('status') or {}).get('phase', 'Unknown')})" for p in live)
    raise TargetError(f"target {kube.target!r}: service {ref.service!r} (deployment {ref.deployment}) has no running "
                      f"pod to reach its files in; pods: {states or 'none'}")


# the stopped service -------------------------------------------------------------------------------------
@contextmanager
def offline(kube: Kube, ctx: StepContext, ref: ServiceRef) -> Iterator[PodWorkspace]:
    """ServiceData.offline on Kubernetes (see targets/base.py and the module docstring)."""
    if ctx.check:
        raise TargetError("offline() must not be called in check mode (nothing may be stopped)")
    deployment = read_deployment(kube, ref)
    container = pick_container(deployment, ref, kube.target)
    count = _count_to_return_to(deployment, ctx)
    timeout = float(ctx.timeout or DEFAULT_TIMEOUT)
    _remove_leftovers(kube, ctx, ref, timeout)
    ctx.log(f"{ref.deployment}: recording replicas={count} in {RESTORE_REPLICAS}, scaling to 0")
    _patch(kube, ref, {"metadata": {"annotations": {RESTORE_REPLICAS: str(count)}}, "spec": {"replicas": 0}})
    pod: str | None = None
    try:
        _wait_pods_gone(kube, ctx, ref, deployment, timeout)
        pod = _data_pod_name(ref.service)
        ctx.log(f"{ref.deployment}: no pods left; starting data pod {pod} on the same volumes")
        _create(kube, _data_pod(deployment, container, ref.service, pod), pod)
        _wait_running(kube, ctx, pod, container, timeout)
        yield PodWorkspace(kube, ctx, pod, container, f"data pod {pod} container {container}")
    except BaseException as exc:
        interrupted = isinstance(exc, (Interrupted, KeyboardInterrupt))
        try:
            _start_again(kube, ctx, ref, count, pod, wait=not interrupted, timeout=timeout)
        except Exception as again:
            raise TargetError(f"{again} (after: {exc})") from exc
        raise
    _start_again(kube, ctx, ref, count, pod, wait=True, timeout=timeout)


def _count_to_return_to(deployment: JSON, ctx: StepContext) -> int:
    """The replica count to start the service at again: the annotation an interrupted run left when the
    Deployment is still at 0, else the current count."""
    replicas = (deployment.get("spec") or {}).get("replicas")
    current = 1 if replicas is None else int(replicas)
    left = ((deployment.get("metadata") or {}).get("annotations") or {}).get(RESTORE_REPLICAS)
    if left is not None and current == 0:
        try:
            recorded = int(left)
        except ValueError:
            recorded = -1
        if recorded >= 0:
            ctx.log(f"{deployment['metadata']['name']}: at 0 replicas with {RESTORE_REPLICAS}={left} left by an "
                    f"interrupted run: it will be started again at {recorded}")
            return recorded
    return current


def _remove_leftovers(kube: Kube, ctx: StepContext, ref: ServiceRef, timeout: float) -> None:
    """Data pods of this service that a killed run left (the environment lock keeps two runs apart, so
    none is in use): they may hold the volume the new one needs."""
    query = {"labelSelector": f"{DATA_POD_LABEL}=true,{SERVICE_LABEL}={ref.service[:63]}"}
    listing = kube.get(kube.ns_path("v1", "pods"), query=query, what="data pods")
    for pod in listing.get("items") or []:
        name = str(pod["metadata"]["name"])
        ctx.log(f"{ref.deployment}: removing data pod {name}, left by an interrupted run")
        _delete_pod(kube, name, timeout)


def _patch(kube: Kube, ref: ServiceRef, body: JSON) -> JSON:
    return kube.request("PATCH", deployment_path(kube, ref.deployment), body=body, patch="merge",
                        what=f"deployment {ref.deployment!r}")


def _wait_pods_gone(kube: Kube, ctx: StepContext, ref: ServiceRef, deployment: JSON, timeout: float) -> None:
    """Until no pod of the Deployment is left (terminating ones included): they may hold the volume."""
    deadline = time.monotonic() + timeout
    while True:
        left = sorted(p["metadata"]["name"] for p in list_pods(kube, deployment))
        if not left:
            return
        if time.monotonic() > deadline:
            raise TargetError(f"deployment {ref.deployment!r} scaled to 0, but after {timeout:g}s these pods are "
                              f"still there: {', '.join(left)}")
        if ctx.cancel.wait(POLL):
            raise Interrupted(f"deployment {ref.deployment!r}: interrupted while waiting for its pods to go")


def _data_pod_name(service: str) -> str:
    """`ajudaplay-data-<service>-<6 hex>`, the service's name made a valid pod name."""
    safe = re.sub(r"[^a-z0-9-]+", "-", service.lower()).strip("-")[:40].strip("-") or "service"
    return f"ajudaplay-data-{safe}-{secrets.token_hex(3)}"


def _data_pod(deployment: JSON, container: str, service: str, name: str) -> JSON:
    """The pod template's spec with the service's container only: its image, env and volume mounts, a sleep
    loop for command, no probes, hooks or ports, never restarted; labels outside the Deployment's selector.
    Pod (anti-)affinity and spread constraints refer to the service's own pods, which are gone: dropped."""
    template = deployment["spec"]["template"]
    spec = copy.deepcopy(template.get("spec") or {})
    main = next(c for c in spec.get("containers") or [] if c.get("name") == container)
    for key in ("args", "readinessProbe", "livenessProbe", "startupProbe", "lifecycle", "ports", "stdin", "tty"):
        main.pop(key, None)
    main["command"] = ["sh", "-c", SLEEP]
    spec["containers"] = [main]
    for key in ("initContainers", "ephemeralContainers", "topologySpreadConstraints", "hostname", "subdomain"):
        spec.pop(key, None)
    affinity = spec.pop("affinity", None) or {}
    if affinity.get("nodeAffinity"):
        spec["affinity"] = {"nodeAffinity": affinity["nodeAffinity"]}
    spec.update(restartPolicy="Never", terminationGracePeriodSeconds=0, activeDeadlineSeconds=DATA_POD_DEADLINE)
    annotations = dict((template.get("metadata") or {}).get("annotations") or {})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": annotations,
                         "labels": {DATA_POD_LABEL: "true", SERVICE_LABEL: service[:63]}},
            "spec": spec}


def _create(kube: Kube, manifest: JSON, name: str) -> None:
    kube.request("POST", kube.ns_path("v1", "pods"), body=manifest, what=f"data pod {name!r}")


def _wait_running(kube: Kube, ctx: StepContext, pod: str, container: str, timeout: float) -> None:
    """Until the data pod's container runs; a pod that cannot start says why at once."""
    def running(obj: JSON) -> tuple[bool, str]:
        status = obj.get("status") or {}
        phase = status.get("phase") or "Pending"
        for state in status.get("containerStatuses") or []:
            if state.get("name") != container:
                continue
            if "running" in (state.get("state") or {}):
                return True, f"data pod {pod} is running"
            waiting = (state.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError",
                                         "CreateContainerError", "InvalidImageName"):
                raise TargetError(f"data pod {pod} cannot start: {waiting.get('reason')}: {waiting.get('message', '')}")
            ended = (state.get("state") or {}).get("terminated")
            if ended:
                raise TargetError(f"data pod {pod}'s container ended at once (exit {ended.get('exitCode')}: "
                                  f"{ended.get('reason', '')} {ended.get('message', '')}); the image needs `sh`".strip())
        if phase in ("Failed", "Succeeded"):
            raise TargetError(f"data pod {pod} ended ({phase}): {status.get('reason', '')} {status.get('message', '')}")
        unscheduled = [c for c in status.get("conditions") or []
                       if c.get("type") == "PodScheduled" and c.get("status") == "False"]
        reason = f": {unscheduled[0].get('message', '')}" if unscheduled else ""
        return False, f"waiting for data pod {pod} ({phase}{reason})"

    start = kube.get(kube.ns_path("v1", "pods", pod), what=f"data pod {pod!r}")
    wait_for(kube, kube.ns_path("v1", "pods"), pod, start, running, timeout=timeout, cancel=ctx.cancel, log=ctx.log,
             what=f"data pod {pod!r}")


def _start_again(kube: Kube, ctx: StepContext, ref: ServiceRef, count: int, pod: str | None, *, wait: bool,
                 timeout: float) -> None:
    """Delete the data pod (waiting until it is gone: it may hold the volume), scale back to `count` and drop
    the annotation in one patch, then (unless interrupted) wait until rolled out. Runs after Ctrl-C too, so
    its waits have their own event."""
    never = threading.Event()
    problem = ""
    if pod is not None:
        try:
            _delete_pod(kube, pod, timeout)
        except TargetError as exc:
            problem = f"; data pod {pod} may still be there: {exc}"
    ctx.log(f"{ref.deployment}: scaling back to {count}")
    patched = _patch(kube, ref, {"metadata": {"annotations": {RESTORE_REPLICAS: None}}, "spec": {"replicas": count}})
    if not wait:
        if problem:
            raise TargetError(f"deployment {ref.deployment!r} was scaled back to {count}{problem}")
        return
    try:
        wait_rollout(kube, patched, timeout=timeout, cancel=never, log=ctx.log)
    except TargetError as exc:
        raise TargetError(f"deployment {ref.deployment!r} was scaled back to {count} but is not healthy: "
                          f"{exc}{problem}") from exc
    if problem:
        raise TargetError(f"deployment {ref.deployment!r} is back at {count} replicas{problem}")


def _delete_pod(kube: Kube, pod: str, timeout: float) -> None:
    path = kube.ns_path("v1", "pods", pod)
    try:
        kube.request("DELETE", path, query={"gracePeriodSeconds": 0}, what=f"data pod {pod!r}")
    except KubeApiError as exc:
        if exc.not_found:
            return
        raise
    deadline = time.monotonic() + timeout
    while kube.get_or_none(path, what=f"data pod {pod!r}") is not None:
        if time.monotonic() > deadline:
            raise TargetError(f"data pod {pod} was deleted but is still there after {timeout:g}s")
        time.sleep(POLL)
