"""Service actions: deploy, rollback, history, scale, restart, status, config, secret,
certificate, logs, usage, exec — written once, run on Kubernetes and Compose targets alike.

Each action checks and normalises its (already rendered) arguments, reads
local files relative to the playbook's folder, and calls the Target method of
ajudaplay/targets/base.py. Bad values found only at run time (a templated image
that is malformed, a certificate whose key does not match) fail that target
with a message that names the argument.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ajudaplay.actions import files
from ajudaplay.actions.base import ActionSpec, Registry
from ajudaplay.actions.durations import since_seconds
from ajudaplay.envfile import parse_env
from ajudaplay.errors import InvalidInput, TargetError

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.targets.base import Result, ServiceOps, StepContext

__all__ = ["IMAGE_RE", "check_image", "parse_env_file", "register"]

# Docker's reference grammar (distribution/reference), as the deploy schema uses it.
IMAGE_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
DEFAULT_TAIL = 100


def register(registry: Registry) -> None:
    """Add the service actions to `registry`."""
    for name, fn, text in (
        ("deploy", run_deploy, "Set a service's image and wait until healthy."),
        ("rollback", run_rollback, "Return a service to its previous (or a given) revision."),
        ("history", run_history, "List a service's revisions."),
        ("scale", run_scale, "Set a service's replicas (and autoscaler bounds on Kubernetes)."),
        ("restart", run_restart, "Restart a service and wait until healthy."),
        ("status", run_status, "Read a service's state as registered data."),
        ("config", run_config, "Install config files; restart only when they changed."),
        ("secret", run_secret, "Install a service's secret environment; values never shown."),
        ("certificate", run_certificate, "Install or renew a TLS certificate; check its expiry."),
        ("logs", run_logs, "Read a service's recent logs, optionally filtered."),
        ("usage", run_usage, "Read CPU and memory per pod/container of a service (kubectl top pods)."),
        ("exec", run_exec, "Run a command inside a service."),
    ):
        registry.register(ActionSpec(name, fn, description=text))
    files.register(registry)  # fetch, upload


# argument helpers ------------------------------------------------------------------
def _args(action: str, args: Any) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise TargetError(f"{action}: expected a mapping of arguments, got {type(args).__name__}")
    return dict(args)


def _service(action: str, a: dict[str, Any]) -> str:
    value = a.get("service")
    if not isinstance(value, str) or not value.strip():
        raise TargetError(f"{action}.service: required, the name of a service in the inventory (e.g. api)")
    return value.strip()


def _int(action: str, a: dict[str, Any], key: str, minimum: int = 0) -> int | None:
    value = a.get(key)
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise TargetError(f"{action}.{key}: expected a whole number >= {minimum}, got {value!r}")
    return number


def _bool(action: str, a: dict[str, Any], key: str, default: bool) -> bool:
    value = a.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "y", "true", "on", "1"):
        return True
    if text in ("no", "n", "false", "off", "0"):
        return False
    raise TargetError(f"{action}.{key}: expected true or false, got {value!r}")


def timeout_seconds(action: str, a: dict[str, Any]) -> float | None:
    """The action's own `timeout` (seconds > 0), None when not given."""
    value = a.get("timeout")
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds <= 0:
        raise TargetError(f"{action}.timeout: expected a number of seconds > 0, got {value!r}")
    return seconds


def _step(action: str, ctx: ActionContext, a: dict[str, Any]) -> StepContext:
    """The step context, with the action's own `timeout` (seconds) when given."""
    seconds = timeout_seconds(action, a)
    return ctx.step if seconds is None else dataclasses.replace(ctx.step, timeout=seconds)


def _local(ctx: ActionContext, action: str, key: str, value: Any) -> Path:
    """A controller-side file, relative to the playbook's folder; must exist."""
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        path = ctx.step.base_dir / path
    if not path.is_file():
        raise TargetError(f"{action}.{key}: file not found: {path} (paths are relative to the playbook's folder)")
    return path


def check_image(action: str, value: Any) -> str:
    """A valid image reference or a TargetError saying what is wrong with it."""
    image = str(value or "").strip()
    if not IMAGE_RE.match(image):
        raise TargetError(
            f"{action}.image: {image!r} is not a valid image reference; expected "
            "[registry[:port]/]name[:tag][@sha256:digest] in lowercase, e.g. registry.example/api:1.4.2"
        )
    return image


def _ops(ctx: ActionContext, verb: str) -> ServiceOps:
    """The target's service operations; NotApplicable (with the reason) for a kind that has none."""
    from ajudaplay.targets.base import service_ops

    return service_ops(ctx.target, verb)


def _call(fn: Any, *args: Any) -> Result:
    """Run a target method; input errors found on the way fail this target, with their message."""
    try:
        result: Result = fn(*args)
    except InvalidInput as exc:
        raise TargetError(str(exc)) from exc
    return result


# actions -----------------------------------------------------------------------------
def run_deploy(ctx: ActionContext, args: Any) -> Result:
    """deploy: {service, image, atomic, timeout, health_url}."""
    a = _args("deploy", args)
    service, image = _service("deploy", a), check_image("deploy", a.get("image"))
    atomic = _bool("deploy", a, "atomic", False)
    health = a.get("health_url") or None
    return _call(_ops(ctx, "deploy").deploy, _step("deploy", ctx, a), service, image, atomic, health)


def run_rollback(ctx: ActionContext, args: Any) -> Result:
    """rollback: {service, to_revision}; empty/null/'previous' means the previous revision."""
    a = _args("rollback", args)
    service = _service("rollback", a)
    if str(a.get("to_revision", "")).strip().lower() == "previous":
        a["to_revision"] = None
    revision = _int("rollback", a, "to_revision", 1)
    return _call(_ops(ctx, "rollback").rollback, _step("rollback", ctx, a), service, revision)


def run_history(ctx: ActionContext, args: Any) -> Result:
    """history: {service}."""
    a = _args("history", args)
    return _call(_ops(ctx, "history").history, ctx.step, _service("history", a))


def run_scale(ctx: ActionContext, args: Any) -> Result:
    """scale: {service, replicas, min_replicas, max_replicas}."""
    a = _args("scale", args)
    service = _service("scale", a)
    replicas = _int("scale", a, "replicas", 0)
    low, high = _int("scale", a, "min_replicas", 1), _int("scale", a, "max_replicas", 1)
    if replicas is None and low is None and high is None:
        raise TargetError("scale: give replicas, min_replicas or max_replicas")
    if low is not None and high is not None and low > high:
        raise TargetError(f"scale: min_replicas ({low}) is greater than max_replicas ({high})")
    return _call(_ops(ctx, "scale").scale, _step("scale", ctx, a), service, replicas, low, high)


def run_restart(ctx: ActionContext, args: Any) -> Result:
    """restart: {service}."""
    a = _args("restart", args)
    return _call(_ops(ctx, "restart").restart, _step("restart", ctx, a), _service("restart", a))


def run_status(ctx: ActionContext, args: Any) -> Result:
    """status: {service}."""
    a = _args("status", args)
    return _call(_ops(ctx, "status").status, ctx.step, _service("status", a))


def config_files(ctx: ActionContext, items: Any) -> dict[str, bytes]:
    """`files:` -> {name: content}; names must be unique (they become file names or ConfigMap keys)."""
    if isinstance(items, (str, dict)):
        items = [items]
    if not isinstance(items, list) or not items:
        raise TargetError("config.files: expected a list of files")
    files: dict[str, bytes] = {}
    for item in items:
        if isinstance(item, str):
            path = _local(ctx, "config", "files", item)
            name, content = path.name, path.read_bytes()
        elif isinstance(item, dict) and item.get("src"):
            path = _local(ctx, "config", "files", item["src"])
            name, content = str(item.get("name") or path.name), path.read_bytes()
        elif isinstance(item, dict) and item.get("name") and "content" in item:
            name, content = str(item["name"]), str(item["content"]).encode()
        else:
            raise TargetError(f"config.files: each item is a path, {{src, name}} or {{name, content}}; got {item!r}")
        if "/" in name or name in ("", ".", ".."):
            raise TargetError(f"config.files: {name!r} is not a plain file name")
        if name in files:
            raise TargetError(f"config.files: two files are named {name!r}; set `name:` to tell them apart")
        files[name] = content
    return files


def run_config(ctx: ActionContext, args: Any) -> Result:
    """config: {service, files, restart}."""
    a = _args("config", args)
    service = _service("config", a)
    files = config_files(ctx, a.get("files"))
    restart = _bool("config", a, "restart", True)
    return _call(_ops(ctx, "config").config, _step("config", ctx, a), service, files, restart)


def parse_env_file(text: str, source: str) -> dict[str, str]:
    """KEY=VALUE lines (see ajudaplay.envfile); a bad line is named by number, never echoed."""
    values, bad = parse_env(text)
    if bad:
        raise TargetError(f"{source}:{bad[0]}: expected KEY=VALUE (the value is not shown)")
    return values


def run_secret(ctx: ActionContext, args: Any) -> Result:
    """secret: {service, env_file, values, restart}."""
    a = _args("secret", args)
    service = _service("secret", a)
    values: dict[str, str] = {}
    if a.get("env_file"):
        path = _local(ctx, "secret", "env_file", a["env_file"])
        values.update(parse_env_file(path.read_text(encoding="utf-8"), str(path)))
    extra = a.get("values") or {}
    if not isinstance(extra, dict):
        raise TargetError("secret.values: expected a mapping KEY: value")
    values.update({str(k): str(v) for k, v in extra.items()})
    for value in values.values():  # masked before anything (a later exec, logs, debug) can print it
        ctx.add_secret(value)
    if not values:
        raise TargetError("secret: no values (env_file is empty and no `values` given)")
    restart = _bool("secret", a, "restart", True)
    return _call(_ops(ctx, "secret").secret, _step("secret", ctx, a), service, values, restart)


def run_certificate(ctx: ActionContext, args: Any) -> Result:
    """certificate: {service, name, cert_file, key_file, renew, command, min_days, reload, restore_previous}.

    A pair from files is vetted here (ajudaplay.certs: parse, key, expiry, chain,
    min_days) before any target is touched, and again by the target before it writes.
    """
    from ajudaplay.targets.base import CertificateRequest

    a = _args("certificate", args)
    cert = _local(ctx, "certificate", "cert_file", a["cert_file"]) if a.get("cert_file") else None
    key = _local(ctx, "certificate", "key_file", a["key_file"]) if a.get("key_file") else None
    if key is not None:  # the private key is masked (whole and line by line) before anything runs
        ctx.add_secret(key.read_text(encoding="utf-8", errors="replace"))
    if (cert is None) != (key is None):
        raise TargetError("certificate: cert_file and key_file go together")
    min_days = _int("certificate", a, "min_days", 0)
    restore = _bool("certificate", a, "restore_previous", False)
    renew = _bool("certificate", a, "renew", False)
    if restore and (cert is not None or renew or a.get("command")):
        raise TargetError("certificate.restore_previous: goes alone (without cert_file/key_file, renew or command): "
                          "it puts back the pair the last install replaced")
    if cert is not None and key is not None:
        from ajudaplay import certs

        try:
            certs.validate_pair(cert.read_bytes(), key.read_bytes(), str(cert), str(key), min_days)
        except InvalidInput as exc:
            raise TargetError(str(exc)) from exc
    step = _step("certificate", ctx, a)
    request = CertificateRequest(
        service=(str(a["service"]) if a.get("service") else None),
        name=(str(a["name"]) if a.get("name") else None),
        cert_file=cert,
        key_file=key,
        renew=renew,
        command=(str(a["command"]) if a.get("command") else None),
        min_days=min_days,
        reload=(str(a["reload"]) if a.get("reload") else None),
        timeout=step.timeout,
        restore_previous=restore,
    )
    if request.service is None and request.name is None:
        raise TargetError("certificate: give `service` or `name`")
    return _call(_ops(ctx, "certificate").certificate, step, request)


def run_logs(ctx: ActionContext, args: Any) -> Result:
    """logs: {service, tail, grep, since, previous}."""
    a = _args("logs", args)
    service = _service("logs", a)
    tail = _int("logs", a, "tail", 1) or DEFAULT_TAIL
    grep = a.get("grep") or None
    if grep is not None:
        try:
            re.compile(str(grep))
        except re.error as exc:
            raise TargetError(f"logs.grep: {grep!r} is not a valid regular expression: {exc}") from exc
    since, previous = since_seconds(a.get("since")), _bool("logs", a, "previous", False)
    extra: dict[str, Any] = {k: v for k, v in (("since", since), ("previous", previous)) if v}  # only what is given
    run = functools.partial(_ops(ctx, "logs").logs, **extra)
    return _call(run, ctx.step, service, tail, None if grep is None else str(grep))


def run_usage(ctx: ActionContext, args: Any) -> Result:
    """usage: {service}; read-only, so it runs in check mode too."""
    a = _args("usage", args)
    return _call(_ops(ctx, "usage").usage, ctx.step, _service("usage", a))


def run_exec(ctx: ActionContext, args: Any) -> Result:
    """exec: {service, command, container, pod, stdin, timeout}."""
    a = _args("exec", args)
    service = _service("exec", a)
    command = a.get("command")
    if isinstance(command, list):
        command = [str(x) for x in command]
    elif not command:
        raise TargetError("exec.command: required (a shell string or an argv list)")
    else:
        command = str(command)
    def opt(key: str) -> str | None:
        return None if a.get(key) is None else str(a[key])

    run = functools.partial(_ops(ctx, "exec").exec, container=opt("container"), pod=opt("pod"), stdin=opt("stdin"))
    return _call(run, _step("exec", ctx, a), service, command)
