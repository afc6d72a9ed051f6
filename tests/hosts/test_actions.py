"""Host actions on @local and over real SSH: commands (table-driven), copy, template, wait_for, http."""

from __future__ import annotations

import http.server
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from ajudaplay.errors import TemplateError
from ajudaplay.targets.base import Result
from ajudaplay.targets.host import HostTarget

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "commands.yml").read_text())


def _fill(value: Any, workdir: str) -> Any:
    if isinstance(value, str):
        return value.replace("{dir}", workdir)
    if isinstance(value, list):
        return [_fill(v, workdir) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, workdir) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_command_cases(case: dict[str, Any], target: HostTarget, workdir: str, call: Callable[..., Result]) -> None:
    result = call(target, case["action"], _fill(case["args"], workdir), check=case.get("check", False))
    for key, want in _fill(case["expect"], workdir).items():
        got = getattr(result, key) if key in ("changed", "failed", "skipped", "msg") else result.data.get(key)
        assert got == want, f"{key}: {got!r} != {want!r} ({result})"
    if "absent" in case:
        assert target.host().run(f"test -e {_fill(case['absent'], workdir)}").rc != 0


def test_command_timeout_is_reported(target: HostTarget, call: Callable[..., Result]) -> None:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.actions.host import run_command
    from ajudaplay.targets.base import StepContext

    ctx = ActionContext(target=target, step=StepContext(run_id="r", timeout=0.5), vars={}, render=lambda v: v)
    result = run_command(ctx, "sleep 5")
    assert result.failed and result.data["rc"] == 124
    assert "timed out after 0.5s" in result.data["stderr"]
    assert result.data["delta"] < 4


def test_copy_content_idempotent_mode_and_diff(target: HostTarget, workdir: str, call: Callable[..., Result]) -> None:
    dest = f"{workdir}/app.conf"
    first = call(target, "copy", {"content": "port=80\n", "dest": dest, "mode": "0640"}, diff=True)
    assert first.changed and not first.failed
    assert target.host().read_file(dest) == b"port=80\n"
    assert target.host().run(f"stat -c %a {dest}").stdout.strip() == "640"
    again = call(target, "copy", {"content": "port=80\n", "dest": dest, "mode": "0640"})
    assert not again.changed and again.changes == []
    # check mode + diff: says what would change, writes nothing
    preview = call(target, "copy", {"content": "port=8080\n", "dest": dest, "mode": "0640"}, check=True, diff=True)
    assert preview.changed
    assert "-port=80\n+port=8080" in preview.changes[0].unified
    assert target.host().read_file(dest) == b"port=80\n"
    # check mode with only the mode differing: says so, leaves the mode alone
    mode_preview = call(target, "copy", {"content": "port=80\n", "dest": dest, "mode": "0600"}, check=True)
    assert mode_preview.changed and [c.what for c in mode_preview.changes] == [f"mode {dest}"]
    assert target.host().run(f"stat -c %a {dest}").stdout.strip() == "640"
    # only the mode differs
    mode_only = call(target, "copy", {"content": "port=80\n", "dest": dest, "mode": "0600"})
    assert mode_only.changed and [c.what for c in mode_only.changes] == [f"mode {dest}"]
    assert target.host().run(f"stat -c %a {dest}").stdout.strip() == "600"


def test_copy_binary_src_relative_to_playbook(target: HostTarget, workdir: str, call: Callable[..., Result],
                                               tmp_path: Path) -> None:
    payload = bytes(range(256)) * 50
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "blob.bin").write_bytes(payload)
    result = call(target, "copy", {"src": "files/blob.bin", "dest": f"{workdir}/"}, base_dir=tmp_path, diff=True)
    assert result.changed
    assert target.host().read_file(f"{workdir}/blob.bin") == payload
    assert "Binary" in result.changes[0].unified
    assert not call(target, "copy", {"src": "files/blob.bin", "dest": f"{workdir}/blob.bin"}, base_dir=tmp_path).changed


def test_copy_missing_src_fails_clearly(target: HostTarget, workdir: str, call: Callable[..., Result]) -> None:
    from ajudaplay.errors import TargetError

    with pytest.raises(TargetError, match="cannot read src .*nope.txt"):
        call(target, "copy", {"src": "nope.txt", "dest": f"{workdir}/x"})


def test_template_renders_target_vars(target: HostTarget, workdir: str, call: Callable[..., Result],
                                      tmp_path: Path) -> None:
    (tmp_path / "nginx.conf.j2").write_text(
        "upstream api {\n{% for p in ports %}  server 127.0.0.1:{{ p }};\n{% endfor %}}\n# {{ env_name }}\n"
    )
    dest = f"{workdir}/nginx.conf"
    variables = {"ports": [8080, 8081], "env_name": "prod"}
    result = call(target, "template", {"src": "nginx.conf.j2", "dest": dest, "mode": "0644"}, vars=variables)
    assert result.changed
    text = target.host().read_file(dest)
    assert text == b"upstream api {\n  server 127.0.0.1:8080;\n  server 127.0.0.1:8081;\n}\n# prod\n"
    assert not call(target, "template", {"src": "nginx.conf.j2", "dest": dest}, vars=variables).changed


def test_template_single_expression_keeps_newline(target: HostTarget, workdir: str, call: Callable[..., Result],
                                                  tmp_path: Path) -> None:
    (tmp_path / "v.j2").write_text("{{ version }}\n")
    call(target, "template", {"src": "v.j2", "dest": f"{workdir}/v"}, vars={"version": 42})
    assert target.host().read_file(f"{workdir}/v") == b"42\n"


def test_template_undefined_variable_names_it(target: HostTarget, workdir: str, call: Callable[..., Result],
                                              tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("a\n{{ missing_var }}\n")
    with pytest.raises(TemplateError, match="template t.j2: undefined variable 'missing_var'"):
        call(target, "template", {"src": "t.j2", "dest": f"{workdir}/t"})
    assert target.host().run(f"test -e {workdir}/t").rc != 0


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port listening on 127.0.0.1 (shared by the controller and the loopback 'hosts')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_wait_for_port_and_path(target: HostTarget, workdir: str, call: Callable[..., Result], listener: int) -> None:
    ok = call(target, "wait_for", {"port": listener, "timeout": 5})
    assert not ok.failed and not ok.changed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert not call(target, "wait_for", {"port": free, "state": "stopped", "timeout": 5}).failed
    late = call(target, "wait_for", {"port": free, "timeout": 0.6, "sleep": 0.2})
    assert late.failed and "timed out after 0.6s" in late.msg and late.data["attempts"] >= 2
    # a file that appears while we wait
    threading.Timer(0.4, lambda: target.host().run(f"touch {workdir}/ready")).start()
    appeared = call(target, "wait_for", {"path": f"{workdir}/ready", "timeout": 5, "sleep": 0.1})
    assert not appeared.failed and appeared.data["attempts"] > 1
    assert not call(target, "wait_for", {"path": f"{workdir}/nope", "state": "absent", "timeout": 1}).failed


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self.path == "/health":
            body, code, ctype = b'{"status": "Healthy", "version": "1.2.3"}', 200, "application/json"
        else:
            body, code, ctype = b"nope", 503, "text/plain"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_health(target: HostTarget, call: Callable[..., Result], web: str) -> None:
    ok = call(target, "http", {"url": f"{web}/health", "return_content": True})
    assert not ok.failed and ok.data["status"] == 200
    assert ok.data["json"]["version"] == "1.2.3" and "Healthy" in ok.data["content"]
    bad = call(target, "http", {"url": f"{web}/other"})
    assert bad.failed and "returned HTTP 503, expected 200" in bad.msg
    assert not call(target, "http", {"url": f"{web}/other", "status": [200, 503]}).failed
    posted = call(target, "http", {"url": f"{web}/x", "method": "POST", "json": {"a": 1}, "status": 201})
    assert posted.data["json"] == {"a": 1}
    skipped = call(target, "http", {"url": f"{web}/x", "method": "POST", "json": {}}, check=True)
    assert skipped.skipped
    down = call(target, "http", {"url": "http://127.0.0.1:1/health", "timeout": 2})
    assert down.failed and "127.0.0.1:1" in down.msg


def test_wait_for_url(target: HostTarget, call: Callable[..., Result], web: str) -> None:
    assert not call(target, "wait_for", {"url": f"{web}/health", "timeout": 5}).failed
    assert call(target, "wait_for", {"url": f"{web}/other", "timeout": 0.3, "sleep": 0.1}).failed


def test_wait_for_honours_cancel(target: HostTarget, listener: int) -> None:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.actions.host_probes import run_wait_for
    from ajudaplay.targets.base import StepContext
    import time

    step = StepContext(run_id="r")
    ctx = ActionContext(target=target, step=step, vars={}, render=lambda v: v)
    threading.Timer(0.3, step.cancel.set).start()
    started = time.monotonic()
    result = run_wait_for(ctx, {"port": listener, "state": "stopped", "timeout": 30, "sleep": 5})
    assert result.failed and "cancelled" in result.msg
    assert time.monotonic() - started < 2
