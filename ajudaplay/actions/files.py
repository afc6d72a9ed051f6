"""Service file actions: `fetch` (container -> controller) and `upload` (controller -> container).

Both modes, one meaning: `dest` is the path the copy gets, a file for a file
and a folder for a folder; a trailing '/' puts it into that folder under its
own name. Controller paths are relative to the playbook's folder. The target
moves a tar archive (targets/copying.py: checksums on both ends, a temporary
name renamed into place, archive members never trusted) and registers
{src, dest, size, sha256, files, changed}; check mode reports without copying.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ajudaplay.actions.base import ActionSpec, Registry
from ajudaplay.errors import TargetError

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.targets.base import Result


def register(registry: Registry) -> None:
    """Add fetch and upload to `registry`."""
    registry.register(ActionSpec("fetch", run_fetch, description="Copy a file or folder from a service's container."))
    registry.register(ActionSpec("upload", run_upload, description="Copy a file or folder into a service's container."))


def _required(action: str, a: dict[str, Any], key: str, example: str) -> str:
    value = a.get(key)
    if not isinstance(value, (str, int, float)) or not str(value).strip():
        raise TargetError(f"{action}.{key}: required, {example}")
    return str(value).strip()


def _controller(ctx: ActionContext, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else ctx.step.base_dir / path


def _container_path(action: str, key: str, value: str) -> str:
    if not value.startswith("/"):
        raise TargetError(f"{action}.{key}: {value!r} must be an absolute path in the container (e.g. /var/backups/db.dump)")
    if not value.strip("/"):
        raise TargetError(f"{action}.{key}: {value!r} names no file or folder (the whole filesystem is not copied)")
    if ".." in value.split("/"):
        raise TargetError(f"{action}.{key}: {value!r} must not contain '..'")
    return value


def run_fetch(ctx: ActionContext, args: Any) -> Result:
    """fetch: {service, src, dest, timeout}."""
    from ajudaplay.actions.service import _args, _call, _ops, _service, _step

    a = _args("fetch", args)
    service = _service("fetch", a)
    src = _container_path("fetch", "src", _required("fetch", a, "src", "a path in the container"))
    dest = _required("fetch", a, "dest", "a path on the controller (relative to the playbook's folder)")
    target = _controller(ctx, dest)
    return _call(_ops(ctx, "fetch").fetch, _step("fetch", ctx, a), service, src, target, dest)


def run_upload(ctx: ActionContext, args: Any) -> Result:
    """upload: {service, src, dest, mode, timeout}."""
    from ajudaplay.actions.host import _mode
    from ajudaplay.actions.service import _args, _call, _ops, _service, _step

    a = _args("upload", args)
    service = _service("upload", a)
    shown = _required("upload", a, "src", "a file or folder on the controller (relative to the playbook's folder)")
    src = _controller(ctx, shown)
    if not src.exists():
        raise TargetError(f"upload.src: no such file or folder on the controller: {src} "
                          "(paths are relative to the playbook's folder)")
    dest = _container_path("upload", "dest", _required("upload", a, "dest", "an absolute path in the container"))
    mode = _mode(a.get("mode"))
    if mode is not None and not 0 <= mode <= 0o7777:
        raise TargetError(f"upload.mode: {a.get('mode')!r} is not a file mode like '0644'")
    return _call(_ops(ctx, "upload").upload, _step("upload", ctx, a), service, src, dest, mode, shown)
