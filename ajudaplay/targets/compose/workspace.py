"""ServiceData on Compose: a Workspace in a running container, or in a one-off container while stopped.

Everything goes through the Compose host's connection (`@local` or SSH: the
engine is wherever the project is), as `docker exec` and `docker cp` there.

- Files stream in two hops, never whole in memory: container -> a private
  temporary folder on the host (`docker cp`, mode 0700) -> controller
  (HostConnection.stream_from, hashed on the way), and back with
  HostConnection.stream_to. The sha256 is computed in the container
  (`sha256sum`, busybox has it) and compared with what the controller sent or
  received; an image without `sha256sum` is checked on the host's copy instead.
- `docker cp` creates files as root; a written file is given the owner of its
  folder (the service's user can open what a restore puts there) and mode 0600.
- Offline: `docker stop` the service's containers (remembered), then
  `docker run --volumes-from` the first of them with its image and user, a
  sleep loop as the command and no network: the same volumes at the same
  paths, nothing of the service running. Leaving, always: remove that
  container, `docker start` the stopped ones, wait until healthy (health.py).
  A service whose containers had all exited is started too: restoring its data
  is how it comes back.

Paths and commands are argv (`sh -c SCRIPT sh ARGS` on the host), never
spliced into a shell line. Command output is decoded text on the host
connection: non-UTF-8 bytes in a command's output arrive replaced (files
travel as bytes).
"""

from __future__ import annotations

import hashlib
import json
import shlex
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO, Iterator, cast

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.hosts.base import MARKER_VAR
from ajudaplay.hosts.stopping import TIMEOUT_RC, new_marker
from ajudaplay.outcomes import DEFAULT_WAIT
from ajudaplay.targets.compose.execution import stop
from ajudaplay.targets.compose.health import wait_healthy
from ajudaplay.targets.workspace import FileMissing, Ran

if TYPE_CHECKING:
    from ajudaplay.hosts.base import CommandResult, HostConnection
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.cli import ComposeProject, Container
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap

COPY_TIMEOUT = 3600.0  # a docker cp of a large database on a slow disk
SHORT = 120.0
STOP_GRACE = 10  # docker stop's own default: SIGTERM, then SIGKILL after this many seconds
SLEEP_LOOP = 'trap "exit 0" TERM; while :; do sleep 1; done'
HELPER_LABEL = "ajudaplay.data-for"  # <project>/<compose service>: a leftover one-off is found and removed
MISSING_RC = 44  # READ_SH's exit status for a path the container does not have (45: not a regular file)

# $1 container, $2 path in it, $3 the host folder (made 0700 first): docker cp out while the container computes
# the sha256 (both read the file at once: one pass of the disk's time, not two).
READ_SH = """mkdir -m 700 "$3" || exit 1
docker exec "$1" sha256sum "$2" > "$3/sum" 2>/dev/null & summing=$!
out=$(docker cp -L "$1:$2" "$3/f" 2>&1); rc=$?
wait $summing; summed=$?
[ $rc = 0 ] || { case $out in *"Could not find the file"*|*"No such container:path"*) exit 44;; esac; echo "$out" >&2; exit 1; }
[ -f "$3/f" ] || { echo "not a regular file (a folder?)" >&2; exit 45; }
if [ $summed = 0 ] && read -r sum _ < "$3/sum"; then echo "container $sum"; else sum=$(sha256sum "$3/f") || exit 1; echo "host ${sum%% *}"; fi"""

# $1 container, $2 path, $3 host file, $4 CHOWN_SH: docker cp in, owner of its folder, then the container's sha256.
WRITE_SH = """docker cp "$3" "$1:$2" || exit 1
docker exec -u 0 "$1" sh -c "$4" sh "$2" >/dev/null 2>&1 || echo "chown-failed"
if sum=$(docker exec "$1" sha256sum "$2" 2>/dev/null); then echo "container ${sum%% *}"; else sum=$(sha256sum "$3") || exit 1; echo "host ${sum%% *}"; fi"""
CHOWN_SH = 'chown "$(stat -c %u:%g "$(dirname "$1")")" "$1" && chmod 600 "$1"'


class ContainerWorkspace:
    """targets.workspace.Workspace over `docker exec` / `docker cp` in one running container on the Compose host."""

    def __init__(self, host: HostConnection, ctx: StepContext, container_id: str, where: str, target: str) -> None:
        self.host, self.ctx, self.cid, self.where, self.target = host, ctx, container_id, where, target

    def _fail(self, what: str, result: CommandResult) -> TargetError:
        detail = (result.stderr or result.stdout).strip()[-400:] or f"exit status {result.rc}"
        full = " (a disk is full)" if "no space left" in detail.lower() else ""
        return TargetError(f"target {self.target!r}: {what} in {self.where}: {detail}{full}")

    def run(self, argv: list[str], *, timeout: float | None = None, stdin: bytes | None = None) -> Ran:
        """`docker exec [-i] CID argv`, marked so that Ctrl-C and a timeout stop it in the container too."""
        marker = new_marker()
        limit = timeout if timeout is not None else self.ctx.timeout
        cmd = shlex.join(["docker", "exec", *(["-i"] if stdin is not None else []), "-e", f"{MARKER_VAR}={marker}",
                          self.cid, *argv])
        with self._stdin(stdin) as (redirect, text):
            try:
                result = self.host.run(cmd + redirect, timeout=limit, cancel=self.ctx.cancel, stdin=text)
            except Interrupted as exc:
                raise Interrupted(f"{exc}; {_stopped(stop(self.host, self.cid, marker))}") from exc
        if result.rc == TIMEOUT_RC and limit is not None and result.duration >= limit:
            raise TargetError(f"target {self.target!r}: {shlex.join(argv)} did not finish within {limit:g}s in "
                              f"{self.where}; {_stopped(stop(self.host, self.cid, marker))}")
        if result.rc == 126 and "executable file not found" in result.stdout + result.stderr:
            # what a shell says for a missing command (data, not a failure to run); the engine printed it on stdout
            result = _with_rc(result, 127, (result.stderr + result.stdout).strip() + "\n")
        elif result.rc in (1, 125) and result.stderr.startswith("Error response from daemon"):
            raise self._fail(f"running {argv[0] if argv else 'nothing'}", result)
        return Ran(result.rc, result.stdout.encode(), result.stderr.encode())

    @contextmanager
    def _stdin(self, data: bytes | None) -> Iterator[tuple[str, str | None]]:
        """(shell redirect, text for the host's stdin): text goes as is, other bytes through a host temp file."""
        import io

        if data is None:
            yield "", None
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            yield "", text
            return
        folder = _host_folder()
        try:
            self._host_run(f"mkdir -m 700 {shlex.quote(folder)}", "preparing the input")
            self.host.stream_to(io.BytesIO(data), f"{folder}/in", 0o600, cancel=self.ctx.cancel)
            yield f" < {shlex.quote(folder + '/in')}", None
        finally:
            self._remove(folder)

    def read_to(self, path: str, sink: BinaryIO) -> str:
        """docker cp to a 0700 host folder, stream it to `sink` hashing, compare with the container's sha256."""
        folder = _host_folder()
        try:
            done = self.host.run(_sh(READ_SH, self.cid, path, folder), timeout=COPY_TIMEOUT, cancel=self.ctx.cancel)
            if done.rc == MISSING_RC:
                raise FileMissing(f"target {self.target!r}: {path} does not exist in {self.where}")
            if not done.ok:
                raise self._fail(f"reading {path}", done)
            side, expected = _sum_line(done, f"reading {path}", self)
            hashing = _Hashing(sink)
            if not self.host.stream_from(f"{folder}/f", cast("BinaryIO", hashing), cancel=self.ctx.cancel):
                raise TargetError(f"target {self.target!r}: the copy of {path} vanished from the host ({folder})")
        finally:
            self._remove(folder)
        if hashing.digest.hexdigest() != expected:
            raise TargetError(f"target {self.target!r}: {path} in {self.where}: the {side} computed sha256 {expected} "
                              f"but the controller received {hashing.digest.hexdigest()} ({hashing.count} bytes): the "
                              "file changed while it was read (read a snapshot, not a live file) or the copy was damaged")
        return expected

    def write_from(self, source: BinaryIO, size: int, path: str) -> str:
        """Stream `size` bytes to a 0600 host file, docker cp it to `path`, compare the container's sha256."""
        folder = _host_folder()
        limited = _Limited(source, size)
        try:
            self._host_run(f"mkdir -m 700 {shlex.quote(folder)}", f"preparing the copy of {path}")
            self.host.stream_to(cast("BinaryIO", limited), f"{folder}/f", 0o600, cancel=self.ctx.cancel)
            if limited.count != size:
                raise TargetError(f"target {self.target!r}: writing {path}: the source ended after {limited.count} "
                                  f"of {size} bytes; nothing was copied into {self.where}")
            done = self.host.run(_sh(WRITE_SH, self.cid, path, f"{folder}/f", CHOWN_SH), timeout=COPY_TIMEOUT,
                                 cancel=self.ctx.cancel)
            if not done.ok:
                raise self._fail(f"writing {path}", done)
        finally:
            self._remove(folder)
        if "chown-failed" in done.stdout:
            self.ctx.log(f"{path} in {self.where}: could not give it its folder's owner (needs sh, stat, chown in the "
                         "image): it is root's, mode 0600")
        side, landed = _sum_line(done, f"writing {path}", self)
        if landed != limited.digest.hexdigest():
            raise TargetError(f"target {self.target!r}: writing {path} in {self.where}: the {side} computed sha256 "
                              f"{landed} but the controller sent {limited.digest.hexdigest()}: the copy was damaged")
        return landed

    def _host_run(self, command: str, what: str) -> None:
        done = self.host.run(command, timeout=SHORT, cancel=self.ctx.cancel)
        if not done.ok:
            raise self._fail(what, done)

    def _remove(self, folder: str) -> None:
        """Remove a host temp folder; also after Ctrl-C (no cancel event: it must run)."""
        try:
            self.host.run(f"rm -rf {shlex.quote(folder)}", timeout=SHORT)
        except TargetError:
            pass


@contextmanager
def live(sess: Session, ctx: StepContext, svc: ServiceMap) -> Iterator[ContainerWorkspace]:
    """The service's first running container as a Workspace."""
    running = [c for c in sess.project.containers(svc.compose) if c.status == "running"]
    if not running:
        raise TargetError(f"target {sess.settings.target!r}: service {svc.name!r} has no running container "
                          f"(Compose service {svc.compose!r}); start it first (deploy, scale or restart)")
    yield ContainerWorkspace(sess.project.host, ctx, running[0].id, f"container {running[0].name}", sess.settings.target)


@contextmanager
def offline(sess: Session, ctx: StepContext, svc: ServiceMap) -> Iterator[ContainerWorkspace]:
    """Stop the service, yield a one-off container on its volumes, start the service again (module docstring)."""
    project, target = sess.project, sess.settings.target
    containers = project.containers(svc.compose)
    if not containers:
        raise TargetError(f"target {target!r}: service {svc.name!r} has no container (Compose service "
                          f"{svc.compose!r}): nothing holds its volumes; deploy it first")
    stopped = [c for c in containers if c.live] or containers
    source = stopped[0]
    helper: str | None = None
    failure: BaseException | None = None
    try:
        image, user = _stop(project, ctx, svc, stopped)
        helper = f"{sess.settings.project_name}-ajudaplay-data-{svc.compose}-{uuid.uuid4().hex[:6]}"
        _start_helper(project, ctx, svc, source, helper, image, user)
        yield ContainerWorkspace(project.host, ctx, helper, f"one-off container {helper} (volumes of {source.name})",
                                 target)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        _back(project, ctx, svc, stopped, helper, failure)


def _stop(project: ComposeProject, ctx: StepContext, svc: ServiceMap, stopped: list[Container]) -> tuple[str, str]:
    """Remove a leftover one-off of an earlier run, read the image and user of the first container, stop them all."""
    q = shlex.quote
    ids = " ".join(q(c.id) for c in stopped)
    live = [c.name for c in stopped if c.live]
    ctx.log(f"stopping {svc.name}: {', '.join(live)}" if live else f"{svc.name} is not running: no container to stop")
    leftovers = f"label={HELPER_LABEL}={project.settings.project_name}/{svc.compose}"
    done = project.run(
        f"old=$(docker ps -aq --filter {q(leftovers)}) && {{ [ -z \"$old\" ] || docker rm -f $old >/dev/null; }} && "
        f"docker inspect --format {q('{{.Image}} {{json .Config.User}}')} {q(stopped[0].id)} && "
        f"docker stop -t {STOP_GRACE} {ids} >/dev/null",
        f"stopping service {svc.compose!r}", timeout=SHORT + STOP_GRACE * len(stopped))
    image, _, user = done.stdout.strip().splitlines()[0].partition(" ")
    return image, str(json.loads(user or '""'))


def _start_helper(project: ComposeProject, ctx: StepContext, svc: ServiceMap, source: Container, name: str,
                  image: str, user: str) -> None:
    """`docker run -d --rm --volumes-from SOURCE` of the source's image and user, a sleep loop, no network."""
    argv = ["docker", "run", "-d", "--rm", "--name", name, "--network", "none",
            "--label", f"{HELPER_LABEL}={project.settings.project_name}/{svc.compose}",
            "--volumes-from", source.id, *(["--user", user] if user else []),
            "--entrypoint", "sh", image, "-c", SLEEP_LOOP]
    try:
        project.run(shlex.join(argv), f"starting a one-off container on the volumes of {source.name}", timeout=SHORT)
    except TargetError as exc:
        if "executable file not found" in str(exc):
            exc.args = (f"{exc} (the one-off container runs a sleep loop with sh: the service's image needs sh)",)
        raise
    ctx.log(f"one-off container {name} on the volumes of {source.name}")


def _back(project: ComposeProject, ctx: StepContext, svc: ServiceMap, stopped: list[Container], helper: str | None,
          failure: BaseException | None) -> None:
    """Remove the one-off, start the stopped containers, wait until healthy (not after Ctrl-C)."""
    host, q = project.host, shlex.quote
    project.primed = project.primed_for = None
    if helper is not None:
        gone = host.run(f"docker rm -f {q(helper)}", timeout=SHORT)
        if not gone.ok and "No such container" not in gone.stderr:
            ctx.log(f"could not remove the one-off container {helper}: {gone.stderr.strip()[-200:]}")
    ids = " ".join(q(c.id) for c in stopped)
    ctx.log(f"starting {svc.name} again: {', '.join(c.name for c in stopped)}")
    started = host.run(f"docker start {ids}", timeout=SHORT + 30 * len(stopped))
    before = f"; before that: {failure}" if failure is not None else ""
    if not started.ok:
        raise TargetError(f"target {project.settings.target!r}: could not start service {svc.compose!r} again: "
                          f"{started.stderr.strip()[-300:]}; start it by hand: docker start {ids}{before}") from failure
    if isinstance(failure, (Interrupted, KeyboardInterrupt)) or ctx.cancelled():
        return
    try:
        wait_healthy(project, ctx, svc.compose, None, len(stopped), svc.health_url, ctx.timeout or DEFAULT_WAIT)
    except TargetError as exc:
        if failure is None:
            raise
        raise TargetError(f"{exc}{before}") from failure
    ctx.log(f"{svc.name} is running again, healthy")


class _Hashing:
    """A sink wrapper that hashes and counts what passes."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink, self.digest, self.count = sink, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.count += len(data)
        self.sink.write(data)
        return len(data)


class _Limited:
    """A source wrapper that gives at most `size` bytes, hashing and counting them."""

    def __init__(self, source: BinaryIO, size: int) -> None:
        self.source, self.left, self.digest, self.count = source, size, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        want = self.left if n < 0 else min(n, self.left)
        chunk = self.source.read(want) if want > 0 else b""
        self.left -= len(chunk)
        self.count += len(chunk)
        self.digest.update(chunk)
        return chunk


def _sh(script: str, *args: str) -> str:
    """`sh -c SCRIPT sh ARGS...`: the arguments reach the script as $1.. and are never parsed as shell."""
    return shlex.join(["sh", "-c", script, "sh", *args])


def _sum_line(done: CommandResult, what: str, ws: ContainerWorkspace) -> tuple[str, str]:
    """("container" | "host", sha256) from the last output line of READ_SH / WRITE_SH."""
    words = (done.stdout.strip().splitlines() or [""])[-1].split()
    if len(words) != 2 or len(words[1]) != 64:
        raise ws._fail(f"{what}: no sha256 came back", done)
    return words[0], words[1]


def _host_folder() -> str:
    return f"/tmp/.ajudaplay-ws-{uuid.uuid4().hex}"


def _with_rc(result: CommandResult, rc: int, stderr: str) -> CommandResult:
    import dataclasses

    return dataclasses.replace(result, rc=rc, stdout="", stderr=stderr)


def _stopped(stopped: bool) -> str:
    return ("the command was stopped in the container" if stopped
            else "the command could not be confirmed stopped in the container (does the image have sh?)")
