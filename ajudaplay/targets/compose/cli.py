"""Talking to Compose on the host: detect v1/v2, build commands, read containers.

Everything runs through the HostConnection (pyinfra, local or SSH) as shell
commands. Round trips matter over SSH, so the probe gathers the CLI flavour,
the engine version, the compose files and ajudaplay's state files in one
command.
"""

from __future__ import annotations

import base64
import json
import shlex
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import TargetError
from ajudaplay.targets.compose.settings import ComposeSettings

if TYPE_CHECKING:
    from ajudaplay.hosts.base import CommandResult, HostConnection

PROBE_TIMEOUT = 30.0
LIVE_STATES = ("running", "restarting", "paused")
# Where the docker CLI looks for the Compose v2 plugin (besides ~/.docker/cli-plugins).
PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


@dataclass(frozen=True)
class Probe:
    """What the host has: which Compose CLI, the engine, the files, our state files."""

    cli: str  # "v2" | "v1"
    engine: str
    files: dict[str, bytes] = field(default_factory=dict)  # "override" | "revisions" | "compose" -> content


@dataclass(frozen=True)
class HealthCheck:
    """One entry of `docker inspect`'s State.Health.Log."""

    exit_code: int
    output: str
    end: str

    @classmethod
    def from_log(cls, entry: dict[str, Any]) -> HealthCheck:
        return cls(int(entry.get("ExitCode") or 0), str(entry.get("Output") or "").strip(), str(entry.get("End") or ""))


@dataclass(frozen=True)
class Container:
    """The state of one container of a Compose service, from `docker inspect`."""

    id: str
    name: str
    image: str  # the reference it was created from (Config.Image)
    status: str  # running, exited, restarting, created, ...
    exit_code: int
    health: str | None  # None when the service has no healthcheck
    health_log: str
    restarts: int
    started_at: str
    number: int
    config_hash: str = ""  # com.docker.compose.config-hash: what Compose recreates on
    # for `status.why` (compose/diagnosis.py): how the last run ended, the engine's recent health checks
    oom_killed: bool = False
    error: str = ""  # State.Error: why the engine could not start it
    finished_at: str = ""
    health_checks: tuple[HealthCheck, ...] = ()  # oldest first, as State.Health.Log (Docker keeps 5)
    failing_streak: int = 0
    # for `usage` (compose/usage.py): HostConfig limits, None when there is none
    memory_limit: int | None = None
    cpu_limit_millicores: float | None = None

    @property
    def live(self) -> bool:
        """A replica: running (or restarting, paused). Created and exited containers are leftovers."""
        return self.status in LIVE_STATES

    @classmethod
    def from_inspect(cls, doc: dict[str, Any]) -> Container:
        state = doc.get("State") or {}
        health = state.get("Health")
        log = (health or {}).get("Log") or []
        labels = (doc.get("Config") or {}).get("Labels") or {}
        try:
            number = int(labels.get("com.docker.compose.container-number", 0))
        except ValueError:
            number = 0
        return cls(
            id=str(doc.get("Id", ""))[:12],
            name=str(doc.get("Name", "")).lstrip("/"),
            image=str((doc.get("Config") or {}).get("Image", "")),
            status=str(state.get("Status", "")),
            exit_code=int(state.get("ExitCode") or 0),
            health=(health or {}).get("Status"),
            health_log=str(log[-1].get("Output", "")).strip() if log else "",
            restarts=int(doc.get("RestartCount") or 0),
            started_at=str(state.get("StartedAt", "")),
            number=number,
            config_hash=str(labels.get("com.docker.compose.config-hash", "")),
            oom_killed=bool(state.get("OOMKilled")),
            error=str(state.get("Error") or ""),
            finished_at=str(state.get("FinishedAt") or ""),
            health_checks=tuple(HealthCheck.from_log(entry) for entry in log if isinstance(entry, dict)),
            failing_streak=int((health or {}).get("FailingStreak") or 0),
            memory_limit=int((doc.get("HostConfig") or {}).get("Memory") or 0) or None,
            cpu_limit_millicores=_cpu_limit(doc.get("HostConfig") or {}),
        )

    def as_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "image": self.image,
            "state": self.status,
            "health": self.health or "none",
            "restarts": self.restarts,
            "started_at": self.started_at,
            "exit_code": self.exit_code,
        }


def _cpu_limit(host_config: dict[str, Any]) -> float | None:
    """`cpus:` (NanoCpus) or a CFS quota/period pair, in millicores."""
    if host_config.get("NanoCpus"):
        return int(host_config["NanoCpus"]) / 1e6
    quota, period = int(host_config.get("CpuQuota") or 0), int(host_config.get("CpuPeriod") or 0) or 100_000
    return 1000.0 * quota / period if quota > 0 else None  # the engine's default period is 100 ms


def normalize_image(ref: str) -> str:
    """Compare references the way Docker resolves them: implicit registry and :latest."""
    ref = ref.strip()
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
    name = ref.split("@", 1)[0]
    if ":" not in name.rsplit("/", 1)[-1] and "@" not in ref:
        ref += ":latest"
    return ref


def _service_of(doc: dict[str, Any]) -> str:
    return str(((doc.get("Config") or {}).get("Labels") or {}).get("com.docker.compose.service", ""))


def _inspect_json(text: str, target: str) -> list[dict[str, Any]]:
    try:
        docs = json.loads(text or "[]")
    except ValueError as exc:
        raise TargetError(f"target {target!r}: unexpected `docker inspect` output: {_tail(text)}") from exc
    return [d for d in docs if isinstance(d, dict)]


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class ComposeProject:
    """One Compose project on one host: the commands ajudaplay runs for it."""

    def __init__(self, host: HostConnection, settings: ComposeSettings) -> None:
        self.host = host
        self.settings = settings
        self.cli: str | None = None
        self.override_exists = False
        self.primed: list[dict[str, Any]] | None = None  # the probe's `docker inspect`, for one use
        self.primed_for: str | None = None  # the service `primed` lists; None: the whole project
        self.cancel: threading.Event | None = None  # the running step's "stop now" (ctx.cancel), set per step

    # probing -----------------------------------------------------------------
    def probe(self) -> Probe:
        """Detect the Compose CLI and the engine, check the compose files, read our state files."""
        s = self.settings
        q = shlex.quote
        reads = {"override": s.override_path, "revisions": s.revisions_path, "compose": s.path(s.compose_files[0])}
        script = [
            f"cd {q(s.project_dir)} 2>/dev/null && echo dir=1 || echo dir=0",
            self._detect_script(),
            # one daemon call proves the engine answers and primes the first container listing
            f"ids=$(docker ps -aq {self._filters()} 2>&1) && echo engine=ok "
            "|| echo \"engineerr=$(echo \"$ids\" | tail -n 2 | tr '\\n' ' ')\"",
            "case \"$ids\" in ''|*' '*|*rror*) ;; *) echo \"b64 containers $(docker inspect $ids | base64 | tr -d '\\n')\";; esac",
        ]
        for f in s.compose_files:
            script.append(f"[ -f {q(s.path(f))} ] && echo file=1 || echo file=0")
        for key, path in reads.items():
            script.append(f"[ -f {q(path)} ] && echo \"b64 {key} $(base64 < {q(path)} | tr -d '\\n')\"")
        script.append("true")
        result = self.host.run("\n".join(script), timeout=PROBE_TIMEOUT, cancel=self.cancel)
        return self._parse_probe(result)

    def _detect_script(self) -> str:
        """Shell that prints cli=v2|v1|none: the v2 plugin file first (instant), then the real commands."""
        forced = self.settings.compose_command
        if forced == "docker compose":
            return "if docker compose version >/dev/null 2>&1; then echo cli=v2; else echo cli=none; fi"
        if forced == "docker-compose":
            return "if command -v docker-compose >/dev/null 2>&1; then echo cli=v1; else echo cli=none; fi"
        plugins = " ".join(
            f"{d}/docker-compose"
            for d in ('"${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"', *PLUGIN_DIRS)
        )
        return (
            f"v2=; for p in {plugins}; do [ -x \"$p\" ] && v2=1 && break; done; "
            "if command -v docker >/dev/null 2>&1 && { [ -n \"$v2\" ] || docker compose version >/dev/null 2>&1; }; "
            "then echo cli=v2; elif command -v docker-compose >/dev/null 2>&1; then echo cli=v1; else echo cli=none; fi"
        )

    def _parse_probe(self, result: CommandResult) -> Probe:
        s = self.settings
        where = f"target {s.target!r}"
        values: dict[str, str] = {}
        files_ok: list[bool] = []
        contents: dict[str, bytes] = {}
        for line in result.stdout.splitlines():
            key, _, value = line.partition("=")
            if line.startswith("b64 "):
                parts = line.split(" ", 2)
                contents[parts[1]] = base64.b64decode(parts[2].strip() if len(parts) > 2 else "")
            elif key == "file":
                files_ok.append(value == "1")
            else:
                values[key] = value
        if "cli" not in values:
            raise TargetError(f"{where}: could not probe the host for Docker Compose: {_tail(result.stderr or result.stdout)}")
        if values["cli"] == "none":
            raise TargetError(
                f"{where}: neither `docker compose` (v2) nor `docker-compose` (v1) is installed on the host; "
                "install one (Debian: apt-get install docker-compose)"
            )
        if "engine" not in values:
            raise TargetError(
                f"{where}: the Docker engine on the host does not answer: {values.get('engineerr', '').strip()}; "
                "is dockerd running and is the SSH user allowed to use it (docker group)?"
            )
        missing = [s.path(f) for f, ok in zip(s.compose_files, files_ok) if not ok]
        if values.get("dir") != "1" or missing:
            what = ", ".join(missing) if values.get("dir") == "1" else f"project directory {s.project_dir}"
            raise TargetError(
                f"{where}: compose file not found on the host: {what}; "
                "check compose.project_dir / compose.compose_files in the inventory, or prepare the host "
                "with playbooks/compose-host.yml"
            )
        self.cli = values["cli"]
        self.override_exists = "override" in contents
        self.primed = _inspect_json(contents.pop("containers", b"[]").decode("utf-8", "replace"), s.target)
        return Probe(values["cli"], values["engine"], contents)

    # commands ------------------------------------------------------------------
    def compose_cmd(self, *args: str) -> str:
        """`cd project && docker compose -p NAME -f ... [-f override] ARGS` as one shell string."""
        s = self.settings
        q = shlex.quote
        base = ["docker", "compose"] if self.cli == "v2" else ["docker-compose"]
        parts = [*base, "-p", s.project_name]
        for f in s.compose_files:
            parts += ["-f", s.path(f)]
        if self.override_exists:
            parts += ["-f", s.override_path]
        return f"cd {q(s.project_dir)} && " + " ".join(q(p) for p in [*parts, *args])

    def run(self, command: str, what: str, timeout: float | None = None) -> CommandResult:
        """Run a command; a non-zero exit is a TargetError naming what failed and Compose's own words."""
        self.primed = self.primed_for = None  # anything may have changed the containers
        result = self.host.run(command, timeout=timeout, cancel=self.cancel)
        if not result.ok:
            detail = _tail(result.stderr or result.stdout) or f"exit status {result.rc}"
            raise TargetError(f"target {self.settings.target!r}: {what} failed: {detail}")
        return result

    def compose(self, *args: str, what: str, timeout: float | None = None) -> CommandResult:
        return self.run(self.compose_cmd(*args), what, timeout)

    def containers(self, compose_service: str, keep: bool = False) -> list[Container]:
        """Every (non one-off) container of the service, ordered by container number.

        `keep`: the next call may use this listing again if no command runs in
        between (the record check and the action share one round trip).
        """
        s = self.settings
        primed, primed_for, self.primed, self.primed_for = self.primed, self.primed_for, None, None
        if primed is not None and primed_for in (None, compose_service):  # nothing ran since: still true
            docs = [d for d in primed if _service_of(d) == compose_service]
        else:
            filters = self._filters(compose_service)
            cmd = f"ids=$(docker ps -aq {filters}) && if [ -n \"$ids\" ]; then docker inspect $ids; else echo '[]'; fi"
            result = self.run(cmd, f"listing containers of service {compose_service!r}", timeout=60)
            docs = _inspect_json(result.stdout, s.target)
            primed, primed_for = docs, compose_service
        if keep:
            self.primed, self.primed_for = primed, primed_for
        found = [Container.from_inspect(d) for d in docs]
        return sorted(found, key=lambda c: (c.number, c.name))

    def _filters(self, compose_service: str | None = None) -> str:
        """`docker ps` filters for this project's (or one service's) non one-off containers."""
        labels = [f"label=com.docker.compose.project={self.settings.project_name}", "label=com.docker.compose.oneoff=False"]
        if compose_service is not None:
            labels.append(f"label=com.docker.compose.service={compose_service}")
        return " ".join(f"--filter {shlex.quote(f)}" for f in labels)

    def ensure_image(self, image: str, timeout: float | None) -> bool:
        """Pull the image unless the engine has it already; True when it was pulled."""
        q = shlex.quote(image)
        result = self.host.run(
            f"docker image inspect {q} >/dev/null 2>&1 && echo present || docker pull -q {q}", timeout=timeout,
            cancel=self.cancel,
        )
        if not result.ok:
            detail = _tail(result.stderr or result.stdout)
            raise TargetError(
                f"target {self.settings.target!r}: image {image} is not on the host and cannot be pulled: {detail}"
            )
        return "present" not in result.stdout

    def write_file(self, path: str, content: bytes, mode: int | None = None) -> None:
        """Create the parent folder, then write atomically through the host connection."""
        import posixpath

        self.run(f"mkdir -p {shlex.quote(posixpath.dirname(path))}", f"creating the folder of {path}", timeout=30)
        self.host.write_file(path, content, mode)
