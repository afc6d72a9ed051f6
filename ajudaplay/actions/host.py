"""Host actions: command, shell, copy, template (here) and wait_for, http (host_probes.py).

They run on any target whose `host()` gives a shell/file connection (host and
Compose targets). Semantics follow Ansible's modules of the same names where
users expect them: `command` does not go through a shell, is skipped in check
mode unless `creates`/`removes` let it say what it would do; `copy` and
`template` change a file only when its content, mode or owner differ.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
import threading
from typing import TYPE_CHECKING, Any

from ajudaplay.actions.base import ActionSpec, Registry, from_service
from ajudaplay.errors import TargetError, TemplateError
from ajudaplay.results import Change, Result

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.hosts.base import CommandResult, HostConnection

MAX_DIFF_BYTES = 256 * 1024  # larger files get a summary, not a unified diff


def register(registry: Registry) -> None:
    """Add the host actions to `registry`."""
    from ajudaplay.actions import host_probes

    registry.register(ActionSpec("command", run_command, free_form="cmd", description="Run a program on the host (no shell)."))
    registry.register(ActionSpec("shell", run_shell, free_form="cmd", description="Run a command through `sh -c` on the host."))
    registry.register(ActionSpec("copy", run_copy, description="Put a file (or inline content) on the host."))
    registry.register(ActionSpec("template", run_template, description="Render a Jinja2 template to a file on the host."))
    registry.register(
        ActionSpec("wait_for", host_probes.run_wait_for, description="Wait for a port, file or URL to reach a state.")
    )
    registry.register(
        ActionSpec("http", host_probes.run_http, controller=True, on_target=from_service,
                   description="Call an HTTP endpoint from the controller (or from inside a service).")
    )


def _args(args: Any) -> dict[str, Any]:
    if isinstance(args, str):
        return {"cmd": args}
    return dict(args or {})


# command / shell -------------------------------------------------------------------
def run_command(ctx: ActionContext, args: Any) -> Result:
    """`command`: argv executed without shell expansion (a string is split like a shell would)."""
    a = _args(args)
    if a.get("argv"):
        line = shlex.join(str(x) for x in a["argv"])
    else:
        try:
            line = shlex.join(shlex.split(str(a.get("cmd", ""))))
        except ValueError as exc:
            raise TargetError(f"command: cannot split {a.get('cmd')!r}: {exc}") from exc
    if not line:
        raise TargetError("command: nothing to run (give `cmd` or `argv`)")
    return _execute(ctx, a, line)


def run_shell(ctx: ActionContext, args: Any) -> Result:
    """`shell`: the text goes to `sh -c` as is (pipes, redirections, variables)."""
    a = _args(args)
    line = str(a.get("cmd", "")).strip()
    if not line:
        raise TargetError("shell: nothing to run (give `cmd`)")
    return _execute(ctx, a, line)


def _execute(ctx: ActionContext, a: dict[str, Any], line: str) -> Result:
    host = ctx.target.host()
    creates, removes = a.get("creates"), a.get("removes")
    if creates or removes:
        reason = _guard(host, creates, removes, ctx.step.cancel)
        if reason:
            return Result(changed=False, msg=reason, data={"rc": 0, "stdout": "", "stderr": "", "stdout_lines": [], "cmd": line})
    if ctx.step.check:
        if creates or removes:
            return Result(changed=True, msg=f"would run: {line}", data={"cmd": line})
        return Result(skipped=True, msg="skipped in check mode (command actions do not run; set check_mode: false to run)")
    full = f"cd {shlex.quote(str(a['chdir']))} && {line}" if a.get("chdir") else line
    env = {str(k): str(v) for k, v in (a.get("env") or {}).items()}
    stdin = a.get("stdin")
    res = host.run(full, timeout=ctx.step.timeout, env=env or None, stdin=None if stdin is None else str(stdin),
                   cancel=ctx.step.cancel)
    return _command_result(line, res)


def _guard(host: HostConnection, creates: Any, removes: Any, cancel: threading.Event) -> str:
    """Why the command should not run (`creates` exists / `removes` missing), or ''."""
    parts = []
    if creates:
        parts.append(f"test -e {shlex.quote(str(creates))} && echo C")
    if removes:
        parts.append(f"test -e {shlex.quote(str(removes))} || echo R")
    out = host.run("; ".join(parts) + "; true", cancel=cancel).stdout.split()
    if "C" in out:
        return f"skipped, since {creates} exists"
    if "R" in out:
        return f"skipped, since {removes} does not exist"
    return ""


def _command_result(line: str, res: CommandResult) -> Result:
    stdout = res.stdout[:-1] if res.stdout.endswith("\n") else res.stdout
    stderr = res.stderr[:-1] if res.stderr.endswith("\n") else res.stderr
    data: dict[str, Any] = {
        "cmd": line,
        "rc": res.rc,
        "stdout": stdout,
        "stderr": stderr,
        "stdout_lines": stdout.splitlines(),
        "stderr_lines": stderr.splitlines(),
        "delta": round(res.duration, 6),
    }
    result = Result(changed=True, data=data)
    if res.rc != 0:
        result.failed = True
        tail = stderr.strip().splitlines()[-1:] or stdout.strip().splitlines()[-1:]
        result.msg = f"non-zero return code {res.rc}" + (f": {tail[0]}" if tail else "")
    return result


# copy / template -------------------------------------------------------------------
def run_copy(ctx: ActionContext, args: Any) -> Result:
    """`copy`: a local file (relative to the playbook) or `content` to `dest`, idempotently."""
    a = _args(args)
    if "content" in a and a.get("src"):
        raise TargetError("copy: give either `src` or `content`, not both")
    if "content" in a:
        body = a["content"]
        content = body if isinstance(body, bytes) else str(body).encode()
        label = "content"
    elif a.get("src"):
        path = ctx.step.base_dir / str(a["src"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise TargetError(f"copy: cannot read src {path}: {exc.strerror or exc}") from exc
        label = str(a["src"])
    else:
        raise TargetError("copy: give `src` (a file next to the playbook) or `content`")
    dest = str(a["dest"])
    if dest.endswith("/") and a.get("src"):
        dest = posixpath.join(dest, posixpath.basename(str(a["src"])))
    return put_file(ctx, content, dest, a.get("mode"), a.get("owner"), a.get("group"), label)


def run_template(ctx: ActionContext, args: Any) -> Result:
    """`template`: render a Jinja2 file with this target's variables, then like `copy`."""
    a = _args(args)
    path = ctx.step.base_dir / str(a["src"])
    try:
        text = path.read_text()
    except OSError as exc:
        raise TargetError(f"template: cannot read src {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise TargetError(f"template: {path} is not UTF-8 text") from exc
    try:
        # The trailing comment keeps the whole file a template (never a lone native `{{ x }}`).
        rendered = ctx.render(text + "{# ajudaplay #}")
    except TemplateError as exc:
        message = exc.diagnostic.message
        name = message.split(" in ", 1)[0] if message.startswith("undefined variable") else message[:300]
        raise TemplateError(f"template {a['src']}: {name}", exc.mark, exc.hint) from exc
    return put_file(ctx, str(rendered).encode(), str(a["dest"]), a.get("mode"), a.get("owner"), a.get("group"), str(a["src"]))


def _mode(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        return int(text, 8)
    except ValueError as exc:
        raise TargetError(f"mode {value!r} is not an octal number like '0644'") from exc


def put_file(
    ctx: ActionContext,
    content: bytes,
    dest: str,
    mode_arg: Any = None,
    owner: Any = None,
    group: Any = None,
    label: str = "",
) -> Result:
    """Write `content` to `dest` only if content/mode/owner differ; check mode writes nothing."""
    host = ctx.target.host()
    mode = _mode(mode_arg)
    q = shlex.quote(dest)
    cancel = ctx.step.cancel
    probe = host.run(
        f"if [ -d {q} ]; then echo DIR; elif [ -e {q} ]; then stat -c '%a %U %G' {q} && sha256sum {q}; else echo MISSING; fi",
        cancel=cancel,
    )
    lines = probe.stdout.split("\n")
    if lines[0] == "DIR":
        raise TargetError(f"dest {dest} is a directory; give the file path")
    if probe.rc != 0:
        raise TargetError(f"cannot inspect {dest}: {probe.stderr.strip() or probe.rc}")
    exists = lines[0] != "MISSING"
    old_mode = old_owner = old_group = old_sum = None
    if exists:
        old_mode_s, old_owner, old_group = lines[0].split()
        old_mode = int(old_mode_s, 8)
        old_sum = lines[1].split()[0] if len(lines) > 1 and lines[1] else None
    new_sum = hashlib.sha256(content).hexdigest()
    changes: list[Change] = []
    content_changed = old_sum != new_sum
    if content_changed:
        unified = _unified(host, dest, content) if ctx.step.diff and exists else ""
        if ctx.step.diff and not exists:
            unified = _unified_text(b"", content, dest)
        changes.append(Change(f"file {dest}", f"sha256:{old_sum[:12]}" if old_sum else None, f"sha256:{new_sum[:12]}", unified))
    mode_changed = mode is not None and (not exists or old_mode != mode)
    if mode_changed and exists:
        changes.append(Change(f"mode {dest}", f"{old_mode:04o}" if old_mode is not None else None, f"{mode:04o}"))
    want_owner = f"{owner or old_owner or ''}:{group or old_group or ''}".strip(":")
    owner_changed = bool(owner or group) and ((owner and owner != old_owner) or (group and group != old_group))
    if owner_changed:
        changes.append(Change(f"owner {dest}", f"{old_owner}:{old_group}" if exists else None, want_owner))
    changed = bool(changes)
    data: dict[str, Any] = {"dest": dest, "checksum": new_sum, "size": len(content), "src": label}
    data["mode"] = f"{mode:04o}" if mode is not None else (f"{old_mode:04o}" if old_mode is not None else None)
    if not changed or ctx.step.check:
        return Result(changed=changed, changes=changes, data=data, msg="would change" if changed and ctx.step.check else "")
    if content_changed:
        host.write_file(dest, content, mode)
    elif mode_changed and mode is not None:
        _check_ok(host.run(f"chmod {mode:o} {q}", cancel=cancel), f"chmod {dest}")
    if owner_changed:
        spec = f"{owner or ''}:{group or ''}" if group else str(owner)
        _check_ok(host.run(f"chown {shlex.quote(spec)} {q}", cancel=cancel), f"chown {dest}")
    return Result(changed=True, changes=changes, data=data)


def _check_ok(res: CommandResult, what: str) -> None:
    if res.rc != 0:
        raise TargetError(f"{what} failed: {res.stderr.strip() or f'exit status {res.rc}'}")


def _unified(host: HostConnection, dest: str, content: bytes) -> str:
    old = host.read_file(dest) or b""
    return _unified_text(old, content, dest)


def _unified_text(old: bytes, new: bytes, dest: str) -> str:
    """A unified diff for text files; a one-line note for binary or very large ones."""
    import difflib

    if len(old) > MAX_DIFF_BYTES or len(new) > MAX_DIFF_BYTES or b"\0" in old or b"\0" in new:
        return f"Binary or large file {dest} differs ({len(old)} -> {len(new)} bytes)\n"
    before = old.decode("utf-8", "replace").splitlines(keepends=True)
    after = new.decode("utf-8", "replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, f"{dest} (before)", f"{dest} (after)"))
