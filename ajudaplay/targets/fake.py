"""FakeTarget (kind "fake"): a TEST DOUBLE that records every call and answers plausibly.

It lets the engine be tested without Docker or a cluster. Configured from its
inventory mapping (`TargetSpec.connection`):

    fake:
      delay: 0.5              # cooperative sleep in every action (parallelism tests)
      fail_on: [deploy]       # these methods raise TargetError
      unreachable: true       # open() raises TargetUnreachable
      lock_held_by: someone   # acquire_lock() raises LockHeld naming "someone"
      state_dir: /tmp/x       # keep the lock and the call log in files (for subprocess tests)
      images: {api: app:1}    # initial image per service
      unhealthy_images: [app:bad]  # a deploy of these never gets healthy (atomic: undone)
      hide_tools: [sqlite3]   # ServiceData: programs missing from the workspace (fake_workspace.py)
      corrupt_writes: true    # ServiceData: write_from lands damaged bytes

ServiceData (db_check, backup, restore) works on the controller's own files:
the workspace runs real commands with subprocess (targets/fake_workspace.py),
so a fake inventory gives local paths, e.g. `database: {path: /tmp/x/app.db}`.
`offline()` sets the service's replicas to 0 for its duration (the fake's
"stopped") and back to what they were; `live_workspace()` refuses a service
at 0 replicas, as the real modes do when nothing runs.

Deploy changes only when the image differs; revisions are kept in memory.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ajudaplay.errors import LockHeld, LockInfo, TargetError, TargetUnreachable, UnknownService
from ajudaplay.locks import LockHolder
from ajudaplay.outcomes import (
    CertificateOutcome, Change, ConfigOutcome, DeployOutcome, EndpointsOutcome, EnvironmentOutcome, ExecOutcome,
    FetchOutcome, LogLines, Replicas,
    RestartOutcome, Revision, RevisionChange, RevisionList, RollbackOutcome, ScaleOutcome, SecretOutcome, ServiceStatus,
    UploadOutcome, UsageOutcome, to_result,
)
from ajudaplay.targets.base import Lockable, ServiceData, ServiceOps, Target
from ajudaplay.targets.fake_workspace import LocalWorkspace, ToolHider

if TYPE_CHECKING:
    from ajudaplay.inventory.model import TargetSpec
    from ajudaplay.outcomes import VerbResult
    from ajudaplay.targets.base import CertificateRequest, StepContext


@dataclass(frozen=True)
class Call:
    """One recorded call: which method, with what, in check mode or not, and when."""

    method: str
    args: dict[str, Any]
    check: bool
    started: float
    ended: float


@dataclass
class _Service:
    revisions: list[str] = field(default_factory=list)  # images, revision n = index + 1
    who: list[tuple[str | None, str | None]] = field(default_factory=list)  # (user, run_id) per revision
    replicas: int = 1
    config: dict[str, bytes] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # what `upload` put into the service, by path
    restarts: int = 0

    @property
    def image(self) -> str | None:
        return self.revisions[-1] if self.revisions else None

    def add(self, image: str, ctx: StepContext) -> None:
        self.revisions.append(image)
        self.who.append((ctx.user or None, ctx.run_id or None))


class FakeTarget(ServiceOps, ServiceData, Lockable, Target):
    """Test double: every Target method, in memory, recorded in `calls`."""

    kind = "fake"

    def __init__(self, spec: TargetSpec) -> None:
        Target.__init__(self, spec)  # not super(): see Target
        conf = dict(spec.connection)
        self.delay = float(conf.get("delay", 0) or 0)
        self.fail_on = set(conf.get("fail_on", []) or [])
        self.unreachable = bool(conf.get("unreachable", False))
        self.lock_held_by = conf.get("lock_held_by")
        self.state_dir = Path(conf["state_dir"]) if conf.get("state_dir") else None
        self.calls: list[Call] = []
        self.opened = False
        self.closed = False
        self.lock: LockInfo | None = None
        self._mutex = threading.Lock()
        names = set(spec.services) | set(conf.get("services", []) or [])
        images = dict(conf.get("images", {}) or {})
        self.unhealthy = set(conf.get("unhealthy_images", []) or [])
        self.tools = ToolHider(set(conf.get("hide_tools", []) or []))
        self.corrupt_writes = bool(conf.get("corrupt_writes", False))
        self.workspaces: list[LocalWorkspace] = []  # every workspace handed out, in order (for assertions)
        self._services = {n: _Service(revisions=[images[n]], who=[(None, None)]) if n in images else _Service()
                          for n in names}

    # helpers ---------------------------------------------------------------
    def _record(self, method: str, ctx: StepContext | None, started: float, **args: Any) -> None:
        call = Call(method, args, bool(ctx and ctx.check), started, time.time())
        with self._mutex:
            self.calls.append(call)
        if self.state_dir is not None:
            line = json.dumps({"target": self.name, "method": method, "check": call.check,
                               "started": started, "ended": call.ended}, default=str)
            with open(self.state_dir / "calls.jsonl", "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def _work(self, method: str, ctx: StepContext | None, **args: Any) -> float:
        """Common prologue: wait `delay` (cancellable), fail if configured; returns start time."""
        started = time.time()
        if self.delay and ctx is not None:
            if ctx.cancel.wait(self.delay):
                self._record(method, ctx, started, cancelled=True, **args)
                raise TargetError(f"{method} cancelled on {self.name}")
        elif self.delay:
            time.sleep(self.delay)
        if method in self.fail_on:
            self._record(method, ctx, started, **args)
            raise TargetError(f"{method} failed on {self.name} (fake fail_on)")
        return started

    def _service(self, name: str) -> _Service:
        if name not in self._services:
            raise UnknownService(name, self.name, list(self._services))
        return self._services[name]

    def methods(self) -> list[str]:
        """Recorded method names in call order (for assertions)."""
        return [c.method for c in self.calls]

    # lifecycle ---------------------------------------------------------------
    def open(self) -> None:
        started = time.time()
        if self.unreachable:
            self._record("open", None, started, failed=True)
            raise TargetUnreachable(f"cannot connect to {self.name}: fake unreachable")
        self.opened = True
        self._record("open", None, started)

    def close(self) -> None:
        self.closed = True
        self.tools.close()
        self._record("close", None, time.time())

    # lock --------------------------------------------------------------------
    def _lock_file(self) -> Path | None:
        return self.state_dir / f"{self.name}.lock" if self.state_dir is not None else None

    def acquire_lock(self, holder: LockHolder, ttl: float, wait: float) -> None:
        started = time.time()
        now = time.time()
        if self.lock_held_by:
            info = LockInfo(str(self.lock_held_by), "other-run", now - 60, now + ttl, self.name)
            self._record("acquire_lock", None, started, held=True)
            raise LockHeld(self.name, info)
        self.lock = LockInfo(holder.holder, holder.run_id, now, now + ttl, self.name)
        path = self._lock_file()
        if path is not None:
            path.write_text(json.dumps(self.lock.__dict__))
        self._record("acquire_lock", None, started, holder=holder.holder, ttl=ttl, wait=wait)

    def renew_lock(self) -> None:
        self._record("renew_lock", None, time.time())

    def release_lock(self) -> None:
        path = self._lock_file()
        if path is not None and path.exists():
            path.unlink()
        self.lock = None
        self._record("release_lock", None, time.time())

    def read_lock(self) -> LockInfo | None:
        path = self._lock_file()
        if path is not None and path.exists():
            return LockInfo(**json.loads(path.read_text()))
        return self.lock

    def force_unlock(self) -> LockInfo | None:
        info = self.read_lock()
        self.release_lock()
        return info

    # service actions -----------------------------------------------------------
    def deploy(self, ctx: StepContext, service: str, image: str, atomic: bool,
               health_url: str | None = None) -> VerbResult[DeployOutcome]:
        started = self._work("deploy", ctx, service=service, image=image)
        svc = self._service(service)
        before = svc.image
        changed = before != image
        changes, moved = [], []
        if changed:
            changes.append(Change(f"{service} image", before, image))
            if not ctx.check and image in self.unhealthy and atomic:
                self._record("deploy", ctx, started, service=service, image=image)
                return to_result(DeployOutcome(
                    failed=True, rolled_back=True, changes=changes, service=service, image=before,
                    revision=len(svc.revisions), rolled_back_to=len(svc.revisions), replicas=Replicas.same(svc.replicas),
                    msg=f"{image} never got healthy; atomic: back on revision {len(svc.revisions)} ({before})"))
            if not ctx.check:
                svc.add(image, ctx)
                moved.append(RevisionChange(service, str(len(svc.revisions) - 1), str(len(svc.revisions)), image))
        self._record("deploy", ctx, started, service=service, image=image)
        if image in self.unhealthy and not ctx.check:
            return to_result(DeployOutcome(failed=True, changed=changed, changes=changes, moved=moved, service=service,
                                           image=image, revision=len(svc.revisions), replicas=Replicas.same(svc.replicas),
                                           msg=f"{image} never got healthy (fake unhealthy_images)"))
        return to_result(DeployOutcome(changed=changed, changes=changes, moved=moved, service=service, image=image,
                                       revision=len(svc.revisions), replicas=Replicas.same(svc.replicas)))

    def rollback(self, ctx: StepContext, service: str, to_revision: int | None) -> VerbResult[RollbackOutcome]:
        started = self._work("rollback", ctx, service=service, to_revision=to_revision)
        svc = self._service(service)
        if len(svc.revisions) < 2 and to_revision is None:
            raise TargetError(f"{service} on {self.name}: no previous revision to roll back to")
        index = (to_revision - 1) if to_revision else len(svc.revisions) - 2
        if not 0 <= index < len(svc.revisions):
            raise TargetError(f"{service} on {self.name}: no revision {to_revision}")
        image = svc.revisions[index]
        changed = image != svc.image  # before the new revision is recorded
        changes = [Change(f"{service} image", svc.image, image)] if changed else []
        if not ctx.check and changed:
            svc.add(image, ctx)
        self._record("rollback", ctx, started, service=service, to_revision=to_revision)
        return to_result(RollbackOutcome(changed=changed, changes=changes, service=service,
                                         image=image, to_revision=index + 1, revision=len(svc.revisions)))

    def history(self, ctx: StepContext, service: str) -> VerbResult[RevisionList]:
        started = self._work("history", ctx, service=service)
        svc = self._service(service)
        revisions = [Revision(revision=i + 1, image=img, time=None, user=svc.who[i][0], run_id=svc.who[i][1], cause=None,
                              current=i + 1 == len(svc.revisions)) for i, img in enumerate(svc.revisions)]
        self._record("history", ctx, started, service=service)
        return to_result(RevisionList(service=service, revisions=revisions, current=len(svc.revisions) or None))

    def scale(self, ctx: StepContext, service: str, replicas: int | None,
              min_replicas: int | None, max_replicas: int | None) -> VerbResult[ScaleOutcome]:
        started = self._work("scale", ctx, service=service, replicas=replicas)
        svc = self._service(service)
        changes = []
        if replicas is not None and replicas != svc.replicas:
            changes.append(Change(f"{service} replicas", str(svc.replicas), str(replicas)))
            if not ctx.check:
                svc.replicas = replicas
        self._record("scale", ctx, started, service=service, replicas=replicas)
        wanted = replicas if replicas is not None else svc.replicas
        return to_result(ScaleOutcome(changed=bool(changes), changes=changes, service=service,
                                      replicas=Replicas.same(wanted)))

    def restart(self, ctx: StepContext, service: str) -> VerbResult[RestartOutcome]:
        started = self._work("restart", ctx, service=service)
        svc = self._service(service)
        if not ctx.check:
            svc.restarts += 1
        self._record("restart", ctx, started, service=service)
        return to_result(RestartOutcome(changed=True, changes=[Change(f"{service} restarted", None, "now")],
                                        service=service, image=svc.image, revision=len(svc.revisions) or None,
                                        replicas=Replicas.same(svc.replicas)))

    def status(self, ctx: StepContext, service: str) -> VerbResult[ServiceStatus]:
        started = self._work("status", ctx, service=service)
        svc = self._service(service)
        self._record("status", ctx, started, service=service)
        return to_result(ServiceStatus(service=service, image=svc.image, revision=len(svc.revisions) or None,
                                       healthy=True, replicas=Replicas.same(svc.replicas), restarts=svc.restarts,
                                       why=[]))

    def config(self, ctx: StepContext, service: str, files: dict[str, bytes], restart: bool) -> VerbResult[ConfigOutcome]:
        started = self._work("config", ctx, service=service, files=sorted(files))
        svc = self._service(service)
        differ = {k: v for k, v in files.items() if svc.config.get(k) != v}
        if differ and not ctx.check:
            svc.config.update(differ)
        self._record("config", ctx, started, service=service, files=sorted(files))
        return to_result(ConfigOutcome(changed=bool(differ), changes=[Change(f"config {k}", None, "updated") for k in sorted(differ)],
                                       service=service, files=sorted(files), restarted=bool(differ) and restart))

    def secret(self, ctx: StepContext, service: str, values: dict[str, str], restart: bool) -> VerbResult[SecretOutcome]:
        started = self._work("secret", ctx, service=service, keys=sorted(values))
        svc = self._service(service)
        differ = {k: v for k, v in values.items() if svc.secrets.get(k) != v}
        if differ and not ctx.check:
            svc.secrets.update(differ)
        self._record("secret", ctx, started, service=service, keys=sorted(values))
        return to_result(SecretOutcome(changed=bool(differ), changes=[Change(f"secret {k}", None, "updated") for k in sorted(differ)],
                                       service=service, keys=sorted(values), restarted=bool(differ) and restart))

    def certificate(self, ctx: StepContext, request: CertificateRequest) -> VerbResult[CertificateOutcome]:
        started = self._work("certificate", ctx, name=request.name)
        self._record("certificate", ctx, started, name=request.name, renew=request.renew)
        return to_result(CertificateOutcome(changed=request.renew, name=request.name))

    def logs(self, ctx: StepContext, service: str, tail: int, grep: str | None, *, since: int | None = None,
             previous: bool = False) -> VerbResult[LogLines]:
        started = self._work("logs", ctx, service=service)
        self._service(service)
        lines = [f"{service} line {i}" for i in range(1, tail + 1)]
        if grep:
            lines = [ln for ln in lines if grep in ln]
        self._record("logs", ctx, started, service=service, tail=tail)
        return to_result(LogLines(service=service, lines=[] if previous else lines, count=0 if previous else len(lines),
                                  previous=previous))

    def fetch(self, ctx: StepContext, service: str, src: str, dest: Path, shown_dest: str) -> VerbResult[FetchOutcome]:
        """A file an earlier `upload` put in the service (kept in memory), written to `dest` (temp name, rename)."""
        started = self._work("fetch", ctx, service=service, src=src)
        svc = self._service(service)
        if src not in svc.files:
            raise TargetError(f"fetch: {src} does not exist in {service} on {self.name} (the fake holds: "
                              f"{', '.join(sorted(svc.files)) or 'no files'})")
        content = svc.files[src]
        dest = dest / posixpath.basename(src) if shown_dest.endswith("/") else dest
        changed = not dest.is_file() or dest.read_bytes() != content
        if changed and not ctx.check:
            if not dest.parent.is_dir():
                raise TargetError(f"fetch {src} from {service}-1: the folder {dest.parent} does not exist on the controller")
            staged = dest.with_name(f".{dest.name}.ajudaplay-tmp")
            staged.write_bytes(content)
            staged.replace(dest)
        self._record("fetch", ctx, started, service=service, src=src)
        return to_result(FetchOutcome(changed=changed, src=src, dest=str(dest), size=len(content),
                                      sha256=hashlib.sha256(content).hexdigest(), files=1, where=f"{service}-1"))

    def upload(self, ctx: StepContext, service: str, src: Path, dest: str, mode: int | None,
               shown_src: str) -> VerbResult[UploadOutcome]:
        """A controller file kept in memory under `dest` (the fake copies single files only)."""
        started = self._work("upload", ctx, service=service, dest=dest)
        svc = self._service(service)
        if not src.is_file():
            raise TargetError(f"upload: {shown_src} is not a file (the fake target copies single files only)")
        content = src.read_bytes()
        dest = posixpath.join(dest, src.name) if dest.endswith("/") else dest
        changed = svc.files.get(dest) != content
        if changed and not ctx.check:
            svc.files[dest] = content
        self._record("upload", ctx, started, service=service, dest=dest)
        return to_result(UploadOutcome(changed=changed, src=shown_src, dest=dest, size=len(content),
                                       sha256=hashlib.sha256(content).hexdigest(), files=1, where=f"{service}-1"))

    def usage(self, ctx: StepContext, service: str) -> VerbResult[UsageOutcome]:
        """One row per replica, all zero: the fake runs nothing (the shape is targets/usage.py's)."""
        from ajudaplay.targets.usage import Sample, usage_outcome

        started = self._work("usage", ctx, service=service)
        svc = self._service(service)
        self._record("usage", ctx, started, service=service)
        samples = [Sample(pod=f"{service}-{i}", container=service, cpu_millicores=0.0, memory_bytes=0)
                   for i in range(1, svc.replicas + 1)]
        return to_result(usage_outcome(service, samples, "fake", []))

    def exec(self, ctx: StepContext, service: str, command: list[str] | str, *, container: str | None = None,
             pod: str | None = None, stdin: str | None = None) -> VerbResult[ExecOutcome]:
        started = self._work("exec", ctx, service=service, command=command)
        self._service(service)
        self._record("exec", ctx, started, service=service, command=command)
        text = command if isinstance(command, str) else " ".join(command)
        out = f"ran: {text}"
        return to_result(ExecOutcome(changed=not ctx.check, rc=0, stdout=out, stderr="", stdout_lines=[out],
                                     stderr_lines=[], cmd=text))

    def endpoints(self, ctx: StepContext, service: str) -> VerbResult[EndpointsOutcome]:
        """One ready loopback address per replica on port 80: the fake listens nowhere, the shape is the point."""
        started = self._work("endpoints", ctx, service=service)
        svc = self._service(service)
        self._record("endpoints", ctx, started, service=service)
        ready = [{"address": "127.0.0.1", "port": 80, "protocol": "TCP", "where": f"{service}-{i}"}
                 for i in range(1, svc.replicas + 1)]
        return to_result(EndpointsOutcome(
            service=service, ready=ready, not_ready=[],
            ports=[{"name": "http", "port": 80, "target_port": 80, "protocol": "TCP", "published": []}],
            internal_urls=[f"http://{service}:80"], hosts=[]))

    def environment(self, ctx: StepContext, service: str) -> VerbResult[EnvironmentOutcome]:
        """The names of the secrets `secret` put in (values never registered) against the inventory's `env`."""
        started = self._work("environment", ctx, service=service)
        svc = self._service(service)
        self._record("environment", ctx, started, service=service)
        mapping = self.spec.services.get(service)
        expected = sorted(str(n) for n in (mapping.get("env") if isinstance(mapping, dict) else None) or [])
        names = sorted(svc.secrets)
        refs = [{"name": n, "kind": "Secret", "source": f"{service}-env", "key": n, "present": True} for n in names]
        return to_result(EnvironmentOutcome(service=service, names=names, expected=expected,
                                            missing=[n for n in expected if n not in svc.secrets], refs=refs,
                                            limits={"memory_bytes": None, "cpu_millicores": None}))

    # service data ------------------------------------------------------------------
    def _workspace(self, ctx: StepContext, where: str) -> LocalWorkspace:
        ws = LocalWorkspace(where, ctx.cancel, self.tools, corrupt_writes=self.corrupt_writes,
                            fail_writes="write_from" in self.fail_on)
        self.workspaces.append(ws)
        return ws

    @contextmanager
    def live_workspace(self, ctx: StepContext, service: str) -> Iterator[LocalWorkspace]:
        """The controller, as a running container of `service` (TargetError at 0 replicas)."""
        started = self._work("live_workspace", ctx, service=service)
        svc = self._service(service)
        self._record("live_workspace", ctx, started, service=service)
        if svc.replicas == 0:
            raise TargetError(f"{service} on {self.name}: no running container (0 replicas)")
        yield self._workspace(ctx, f"fake container {service}-1")

    @contextmanager
    def offline(self, ctx: StepContext, service: str) -> Iterator[LocalWorkspace]:
        """Replicas to 0 while the body runs, back to the recorded count afterwards, always."""
        started = self._work("offline", ctx, service=service)
        svc = self._service(service)
        replicas = svc.replicas
        svc.replicas = 0
        self._record("offline", ctx, started, service=service, replicas=replicas)
        try:
            yield self._workspace(ctx, f"fake data container ajudaplay-data-{service}")
        finally:
            svc.replicas = replicas
            svc.restarts += 1
            self._record("online", ctx, time.time(), service=service, replicas=replicas)

