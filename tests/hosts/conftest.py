"""Fixtures for host connections: a real sshd on loopback, @local, and action contexts."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from ajudaplay.actions.base import ActionContext, default_registry, Registry
from ajudaplay.errors import Mark
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.targets.base import Result, StepContext
from ajudaplay.targets.host import HostTarget

MARK = Mark("tests/hosts", 1, 1)


@pytest.fixture(scope="session")
def sshd() -> Iterator[Any]:
    """One real OpenSSH server for the session: 127.0.0.1..20, users ajtest, ajtest01..30.

    Fails (never skips) when it cannot start: a skip would hide every SSH test on CI.
    """
    from tests.infra.sshd.sshd import SSHServer

    try:
        server = SSHServer(n_addresses=20)
    except RuntimeError as exc:
        pytest.fail(f"cannot start sshd: {exc}; run tests/infra/sshd/setup.sh", pytrace=False)
    with server:
        yield server


def ssh_connection(sshd: Any, user: str = "ajtest", addr: str = "127.0.0.1", **extra: Any) -> dict[str, Any]:
    """The inventory `connection` mapping for one loopback SSH 'host'."""
    return {
        "host": f"ssh://{user}@{addr}:{sshd.port}",
        "key": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts),
        **extra,
    }


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def target(request: pytest.FixtureRequest) -> Iterator[HostTarget]:
    """The same HostTarget API over @local and over real SSH."""
    if request.param == "local":
        connection: dict[str, Any] = {"host": "@local"}
    else:
        connection = ssh_connection(request.getfixturevalue("sshd"))
    t = HostTarget(TargetSpec(name=f"t-{request.param}", kind="host", mark=MARK, connection=connection))
    t.open()
    yield t
    t.close()


@pytest.fixture
def workdir(target: HostTarget) -> Iterator[str]:
    """A fresh folder on the target host, writable by the connecting user."""
    path = f"/tmp/ajudaplay-test-{uuid.uuid4().hex[:10]}"
    assert target.host().run(f"mkdir -p {path}").rc == 0
    yield path
    target.host().run(f"rm -rf {path}")


@pytest.fixture(scope="session")
def registry() -> Registry:
    from ajudaplay.actions import host

    reg = Registry()
    host.register(reg)
    return reg


@pytest.fixture
def call(registry: Registry, tmp_path: Path) -> Callable[..., Result]:
    """Run one action like the engine does: call(target, "copy", args, check=False, diff=False, vars={})."""

    def run(target: HostTarget, action: str, args: Any, *, check: bool = False, diff: bool = False,
            vars: dict[str, Any] | None = None, base_dir: Path | None = None) -> Result:
        from ajudaplay.templating import Templar

        templar = Templar()
        variables = dict(vars or {})
        spec = registry.get(action)
        assert spec is not None, action
        step = StepContext(run_id="test-run", check=check, diff=diff, base_dir=base_dir or tmp_path)
        ctx = ActionContext(target=target, step=step, vars=variables,
                            render=lambda value: templar.render(value, variables, MARK))
        return spec.run(ctx, templar.render(args, variables, MARK))

    return run
