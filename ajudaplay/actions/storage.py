"""Storage actions: `disk` (how full the filesystem under a path is) and `cleanup` (remove old files).

Both work inside the service through the target's `exec` with argv lists (never a
shell line built from arguments): a fixed POSIX sh script gets the path, the glob
and the age as positional parameters, so GNU and busybox images answer alike.
`disk` is read-only and runs in check mode; `cleanup` lists in check mode and
deletes otherwise. What the container prints (file names, df lines) is data:
parsed, shown, never rendered or used as a controller path.

Safety of `cleanup` (docs/actions-storage.md): `path` is absolute, not `/`, has no
`..` and is its own real path; `find -xdev` (no -L) never descends into a symlinked
folder; symlinks found are skipped and reported; only regular files are removed, and
each one's real path is checked to be under `path` again just before `rm`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from ajudaplay.actions.base import ActionSpec, Registry
from ajudaplay.actions.durations import duration
from ajudaplay.actions.service import timeout_seconds
from ajudaplay.errors import InvalidInput, TargetError

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.targets.base import Result

__all__ = ["register", "mount_point", "parse_df", "parse_du", "parse_listing", "plan_removal", "older_than_minutes", "safe_path"]

_DF = re.compile(r"^(?P<fs>.*?)\s+(?P<size>\d+)\s+(?P<used>\d+)\s+(?P<avail>\d+)\s+(?P<pct>\d+|-)%?\s+(?P<mount>/.*)$")
BATCH = 200  # paths per removal exec: well under any ARG_MAX
MAX_CHANGES = 50  # removed files listed one by one in the step's diff; the rest counted

# df of the filesystem, then du of the path; markers split the two answers, stderr says what failed.
# /proc/self/mounts names the mount point: df's column can name another bind mount of the same device.
_DISK = ('df -P -k "$1"; echo "@@ajudaplay-rc $?"; echo "@@ajudaplay-du"; du -s -k "$1"; echo "@@ajudaplay-rc $?"; '
         'echo "@@ajudaplay-mounts"; cat /proc/self/mounts 2>/dev/null; true')

# $1 = root; the rest are find predicates (-name GLOB, -mmin +N) as separate words.
# The root must be its own real path (no symlink on the way). One line per match:
# file<TAB>mtime<TAB>size<TAB>path, link<TAB>0<TAB>0<TAB>path, or odd<TAB>0<TAB>0<TAB>why for a name with a newline.
_LIST = r'''root=$1; shift
for tool in find stat readlink rm dirname head; do
  command -v $tool >/dev/null 2>&1 || { echo "@@ajudaplay-notool $tool"; exit 0; }
done
[ -d "$root" ] || { echo "@@ajudaplay-nodir"; exit 0; }
real=$(readlink -f "$root")
[ "$real" = "$root" ] || { echo "@@ajudaplay-notreal $real"; exit 0; }
find "$root" -xdev \( -type f -o -type l \) "$@" -exec sh -c '
nl="
"
for f do
  case $f in *"$nl"*) printf "odd\t0\t0\ta file name with a newline under %s\n" "$(dirname "$f" | head -n 1)"; continue;; esac
  if [ -L "$f" ]; then printf "link\t0\t0\t%s\n" "$f"; continue; fi
  printf "file\t%s\t%s\n" "$(stat -c "%Y	%s" "$f")" "$f"
done' sh {} +
echo "@@ajudaplay-done $?"'''

# $1 = root (already its own real path); the rest are the files to remove. Each is re-checked.
_REMOVE = r'''root=$1; shift
for f do
  if [ -L "$f" ]; then printf "skip\tbecame a symlink\t%s\n" "$f"; continue; fi
  if [ ! -f "$f" ]; then printf "skip\tno longer a regular file\t%s\n" "$f"; continue; fi
  real=$(readlink -f "$f")
  case $real in
    "$root"/*) size=$(stat -c %s "$f"); if rm -f "$f"; then printf "gone\t%s\t%s\n" "$size" "$f"; else printf "skip\trm failed\t%s\n" "$f"; fi;;
    *) printf "skip\treal path is outside the path\t%s\n" "$f";;
  esac
done
echo "@@ajudaplay-done"'''


def register(registry: Registry) -> None:
    """Add disk and cleanup to `registry`."""
    registry.register(ActionSpec("disk", run_disk, description="Read how full the filesystem under a path in a service is."))
    registry.register(ActionSpec("cleanup", run_cleanup, description="Remove old files under a path in a service."))


# argument checks -------------------------------------------------------------------------------
def safe_path(action: str, value: Any) -> str:
    """An absolute container path that is not `/` and has no `..`; trailing slashes dropped."""
    text = str(value if value is not None else "").strip()
    if not text:
        raise TargetError(f"{action}.path: required, an absolute path in the container (e.g. /app/logs)")
    if not text.startswith("/"):
        raise TargetError(f"{action}.path: {text!r} must be an absolute path in the container (e.g. /app/logs)")
    parts = text.split("/")
    if ".." in parts or "." in parts:
        raise TargetError(f"{action}.path: {text!r} must not contain '..' or '.' (give the real folder)")
    cleaned = "/" + "/".join(p for p in parts if p)
    if cleaned == "/":
        raise TargetError(f"{action}.path: '/' is refused (the whole filesystem is never cleaned up)")
    if "\n" in cleaned or "\x00" in cleaned:
        raise TargetError(f"{action}.path: must be one line")
    return cleaned


def older_than_minutes(value: Any) -> int | None:
    """`older_than` (7d, 12h, 30m, 1d12h) -> whole minutes for `find -mmin +N`; None when not given."""
    if value is None or value == "":
        return None
    seconds = duration(str(value))
    if seconds is None:
        raise TargetError(f"cleanup.older_than: {value!r} is not a duration like 7d, 12h or 30m")
    if seconds < 60:
        raise TargetError(f"cleanup.older_than: {value!r} is shorter than a minute (find -mmin counts minutes)")
    return int(seconds // 60)


def _pattern(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if "/" in text or "\n" in text or "\x00" in text:
        raise TargetError(f"cleanup.pattern: {text!r} is a glob for a file NAME (find -name), without '/'")
    return text


def _keep_last(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise TargetError(f"cleanup.keep_last: expected a whole number >= 0, got {value!r}")
    return int(str(value).strip())


def _exec(ctx: ActionContext, action: str, service: str, argv: list[str], timeout: float | None,
          really: bool = True) -> dict[str, Any]:
    """exec in the service; `really` runs it in check mode too (reading changes nothing)."""
    from ajudaplay.targets.base import service_ops

    step = dataclasses.replace(ctx.step, check=False if really else ctx.step.check,
                               timeout=timeout or ctx.step.timeout or 120)
    try:
        return dict(service_ops(ctx.target, action).exec(step, service, argv).data)
    except InvalidInput as exc:
        raise TargetError(str(exc)) from exc


# disk ----------------------------------------------------------------------------------------
def parse_df(text: str) -> dict[str, Any] | None:
    """`df -P -k` output (GNU or busybox) -> {filesystem, size_kb, used_kb, available_kb, percent, mount}; None if unreadable."""
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and lines[0].lower().startswith("filesystem"):
        lines = lines[1:]
    match = _DF.match(" ".join(lines).strip()) if lines else None
    if match is None:
        return None
    size, used, avail = int(match["size"]), int(match["used"]), int(match["avail"])
    if match["pct"] != "-":
        percent = float(match["pct"])
    else:
        percent = round(100.0 * used / (used + avail), 1) if used + avail else 0.0
    return {"filesystem": match["fs"].strip(), "size_kb": size, "used_kb": used, "available_kb": avail,
            "percent": percent, "mount": match["mount"].strip()}


def mount_point(mounts: str, path: str) -> str | None:
    """The longest mount point in /proc/mounts text that holds `path` (octal escapes like \\040 decoded)."""
    best: str | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[1])
        holds = point == "/" or path == point or path.startswith(point.rstrip("/") + "/")
        if holds and (best is None or len(point) > len(best)):
            best = point
    return best


def parse_du(text: str) -> int | None:
    """`du -s -k PATH` -> kilobytes (the last line's first field); None if unreadable."""
    for line in reversed([line for line in text.splitlines() if line.strip()]):
        first = line.split()[0]
        if first.isdigit():
            return int(first)
    return None


def _human(kb: int) -> str:
    """Kilobytes as the operator reads them: 12 KiB, 3.4 MiB, 250.1 GiB."""
    if kb < 1024:
        return f"{kb} KiB"
    return f"{kb / 1024:.1f} MiB" if kb < 1024 * 1024 else f"{kb / 1024 / 1024:.1f} GiB"


def run_disk(ctx: ActionContext, args: Any) -> Result:
    """disk: {service, path, timeout}; read-only, runs in check mode too."""
    from ajudaplay.actions.service import _args, _service
    from ajudaplay.results import Result
    from ajudaplay.targets.base import capable
    from ajudaplay.targets.volumes import ServiceVolumes

    a = _args("disk", args)
    service, path = _service("disk", a), safe_path("disk", a.get("path"))
    out = _exec(ctx, "disk", service, ["sh", "-c", _DISK, "ajudaplay-disk", path], timeout_seconds("disk", a))
    stdout, stderr = str(out.get("stdout") or ""), str(out.get("stderr") or "")
    df_text, _, rest = stdout.partition("@@ajudaplay-du")
    du_text, _, mounts = rest.partition("@@ajudaplay-mounts")
    fs = parse_df(df_text.split("@@ajudaplay-rc")[0])
    if fs is None:
        detail = (stderr or df_text).strip()[-300:] or f"exit status {out.get('rc')}"
        raise TargetError(f"disk: could not read the filesystem of {path} in {service}: {detail}")
    fs["mount"] = mount_point(mounts, path) or fs["mount"]
    warnings: list[str] = []
    used_kb = parse_du(du_text.split("@@ajudaplay-rc")[0])
    if used_kb is None or "@@ajudaplay-rc 0" not in du_text:
        warnings.append(f"du of {path} did not read everything (permissions?); path_kb is a lower bound or unknown")
    volumes: list[dict[str, Any]] | None = None
    if capable(ctx.target, ServiceVolumes) and isinstance(ctx.target, ServiceVolumes):
        volumes = ctx.target.volumes(ctx.step, service)
        for volume in volumes:
            mount = str(volume.get("mount_path") or "")
            volume["holds_path"] = bool(mount) and (path == mount or path.startswith(mount.rstrip("/") + "/"))
            if volume.get("phase") not in (None, "Bound"):
                warnings.append(f"claim {volume.get('claim')!r} of {service} is {volume.get('phase')}")
    else:
        warnings.append(f"the volumes of {service} are not known on a {ctx.target.kind} target")
    data: dict[str, Any] = {"service": service, "path": path, **fs, "path_kb": used_kb, "volumes": volumes}
    msg = (f"{path} in {service}: {fs['percent']:g}% used of {_human(fs['size_kb'])} "
           f"({_human(fs['available_kb'])} free) on {fs['mount']}")
    if used_kb is not None:
        msg += f"; the path holds {_human(used_kb)}"
    return Result(changed=False, data=data, msg=msg, warnings=warnings, show=True)


# cleanup -------------------------------------------------------------------------------------
def parse_listing(stdout: str) -> tuple[list[dict[str, Any]], list[dict[str, str]], str | None]:
    """The listing script's output -> (files {path, mtime, size}, skipped {path, reason}, refusal or None)."""
    for line in stdout.splitlines():
        if line.startswith("@@ajudaplay-notool "):
            return [], [], (f"cannot be cleaned: the image has no {line.split(' ', 1)[1]!r} "
                            "(cleanup needs find, stat, readlink, rm, dirname and head in the service)")
    if "@@ajudaplay-nodir" in stdout:
        return [], [], "is not a folder in the service"
    for line in stdout.splitlines():
        if line.startswith("@@ajudaplay-notreal"):
            return [], [], f"is not its own real path (it resolves to {line.split(' ', 1)[-1]!r}): give the real folder"
    files: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for line in stdout.splitlines():
        parts = line.split("\t", 3)
        if len(parts) != 4:
            continue
        kind, mtime, size, path = parts
        if kind == "link":
            skipped.append({"path": path, "reason": "symlink: never followed, never removed"})
        elif kind == "odd":
            skipped.append({"path": path, "reason": "name with a newline: not removed"})
        elif kind == "file" and mtime.isdigit() and size.isdigit():
            files.append({"path": path, "mtime": int(mtime), "size": int(size)})
    return files, skipped, None


def plan_removal(files: list[dict[str, Any]], keep_last: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(to remove, kept): the `keep_last` newest matches are kept, ties broken by path."""
    ordered = sorted(files, key=lambda f: (-int(f["mtime"]), str(f["path"])))
    return ordered[keep_last:], ordered[:keep_last]


def _service_command(ctx: ActionContext, service: str) -> str | None:
    mapping = ctx.target.spec.services.get(service)
    value = mapping.get("cleanup_command") if isinstance(mapping, dict) else None
    return str(value).strip() if value else None


def run_cleanup(ctx: ActionContext, args: Any) -> Result:
    """cleanup: {service, path, older_than, pattern, keep_last, command, timeout}."""
    from ajudaplay.actions.service import _args, _bool, _service

    a = _args("cleanup", args)
    service = _service("cleanup", a)
    use_command = _bool("cleanup", a, "command", False)
    if use_command or not a.get("path"):
        if a.get("path") and use_command:
            raise TargetError("cleanup: give `path` (ajudaplay finds and removes the files) or `command: true` "
                              "(the service's own cleanup_command), not both")
        return _run_command(ctx, service, a)
    return _run_files(ctx, service, a)


def _run_command(ctx: ActionContext, service: str, a: dict[str, Any]) -> Result:
    """The inventory's `cleanup_command` for the service, through exec (skipped in check mode, as exec is)."""
    from ajudaplay.results import Change, Result

    command = _service_command(ctx, service)
    if command is None:
        raise TargetError(f"cleanup: no `path` given and the inventory names no cleanup_command for {service} "
                          f"on target {ctx.target.name!r} (services.{service}.cleanup_command)")
    data: dict[str, Any] = {"service": service, "command": command, "removed": [], "kept": [], "freed_bytes": None,
                            "skipped_files": [], "check": ctx.step.check}
    change = Change(f"{service} cleanup", None, command)
    if ctx.step.check:
        return Result(changed=True, data=data, msg=f"would run {command!r} in {service}", changes=[change], show=True)
    out = _exec(ctx, "cleanup", service, ["sh", "-c", command], timeout_seconds("cleanup", a), really=False)
    data.update({k: out.get(k) for k in ("rc", "stdout", "stderr", "stdout_lines", "stderr_lines")})
    if out.get("rc") != 0:
        detail = str(out.get("stderr") or out.get("stdout") or "").strip()[-300:]
        return Result(failed=True, data=data, msg=f"{command!r} in {service} exited {out.get('rc')}: {detail}")
    return Result(changed=True, data=data, msg=f"ran {command!r} in {service}", changes=[change], show=True)


def _run_files(ctx: ActionContext, service: str, a: dict[str, Any]) -> Result:
    """find the candidates (also in check mode), keep the newest, then remove each after re-checking it."""
    from ajudaplay.results import Change, Result

    path = safe_path("cleanup", a.get("path"))
    minutes, pattern, keep = older_than_minutes(a.get("older_than")), _pattern(a.get("pattern")), _keep_last(a.get("keep_last"))
    timeout = timeout_seconds("cleanup", a)
    predicates = (["-name", pattern] if pattern is not None else []) + (["-mmin", f"+{minutes}"] if minutes is not None else [])
    out = _exec(ctx, "cleanup", service, ["sh", "-c", _LIST, "ajudaplay-cleanup", path, *predicates], timeout)
    stdout = str(out.get("stdout") or "")
    files, skipped, refusal = parse_listing(stdout)
    if refusal is not None:
        raise TargetError(f"cleanup.path: {path} {refusal}")
    if "@@ajudaplay-done" not in stdout:
        detail = str(out.get("stderr") or stdout).strip()[-300:] or f"exit status {out.get('rc')}"
        raise TargetError(f"cleanup: could not list {path} in {service}: {detail}")
    remove, kept = plan_removal(files, keep)
    data: dict[str, Any] = {"service": service, "path": path, "removed": [], "kept": [f["path"] for f in kept],
                            "freed_bytes": 0, "skipped_files": skipped, "check": ctx.step.check,
                            "candidates": [f["path"] for f in remove]}
    if ctx.step.check:
        data["removed"] = [f["path"] for f in remove]  # what would go
        data["freed_bytes"] = sum(int(f["size"]) for f in remove)
    else:
        for start in range(0, len(remove), BATCH):
            batch = [str(f["path"]) for f in remove[start:start + BATCH]]
            done = _exec(ctx, "cleanup", service, ["sh", "-c", _REMOVE, "ajudaplay-cleanup", path, *batch], timeout)
            for line in str(done.get("stdout") or "").splitlines():
                parts = line.split("\t", 2)
                if len(parts) == 3 and parts[0] == "gone":
                    data["removed"].append(parts[2])
                    data["freed_bytes"] += int(parts[1]) if parts[1].isdigit() else 0
                elif len(parts) == 3 and parts[0] == "skip":
                    skipped.append({"path": parts[2], "reason": parts[1]})
    count, freed = len(data["removed"]), data["freed_bytes"]
    verb = "would remove" if ctx.step.check else "removed"
    msg = f"{verb} {count} file(s) under {path} in {service} ({freed} bytes), kept {len(kept)}, skipped {len(skipped)}"
    if ctx.step.diff or ctx.step.check:
        shown = "\n".join(f"  {'would remove' if ctx.step.check else 'removed'} {p}" for p in data["removed"])
        msg = msg + ("\n" + shown if shown and ctx.step.diff else "")
    changes = [Change(f"{service} {p}", "file", None) for p in data["removed"][:MAX_CHANGES]]
    if count > MAX_CHANGES:  # the journal's diff summary stays short; `removed` has them all
        changes.append(Change(f"{service} {count - MAX_CHANGES} more file(s) under {path}", "files", None))
    warnings = [f"skipped {s['path']}: {s['reason']}" for s in skipped]
    return Result(changed=bool(count), data=data, msg=msg, changes=changes, warnings=warnings, show=True)
