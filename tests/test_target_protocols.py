"""Target capabilities are types: a kind declares ServiceOps, Lockable, HostShell, and is held to them.

Before, `Target` was one class whose lock methods did nothing unless a mode
overrode them: a kind that forgot `renew_lock` silently never renewed. Now a
kind that declares Lockable and forgets a method is refused by mypy and at
run time, and a kind without a capability raises NotApplicable with the reason.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ajudaplay.errors import NotApplicable
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.locks import LockHolder
from ajudaplay.targets.base import (
    HostShell, Lockable, ServiceOps, StepContext, Target, capable, lock_of, service_ops, shell_of,
)
from ajudaplay.targets.compose import ComposeTarget
from ajudaplay.targets.fake import FakeTarget
from ajudaplay.targets.host import HostTarget
from ajudaplay.targets.kubernetes import KubernetesTarget
from ajudaplay.yamlmarks import Mark

ROOT = Path(__file__).resolve().parent.parent


def _spec(kind: str, connection: dict[str, object] | None = None) -> TargetSpec:
    return TargetSpec(name="t1", kind=kind, mark=Mark("inventory.yml", 1, 1), connection=connection or {},
                      services={"api": {}})


@pytest.mark.parametrize(("cls", "declared"), [
    (FakeTarget, {ServiceOps, Lockable}),
    (ComposeTarget, {ServiceOps, Lockable, HostShell}),
    (KubernetesTarget, {ServiceOps, Lockable}),
    (HostTarget, {Lockable, HostShell}),
], ids=lambda v: getattr(v, "__name__", ""))
def test_each_kind_declares_what_it_can_do(cls: type[Target], declared: set[type]) -> None:
    assert {c for c in (ServiceOps, Lockable, HostShell) if capable_cls(cls, c)} == declared


def capable_cls(cls: type, capability: type) -> bool:
    return capability in cls.__mro__


def test_a_missing_capability_is_not_applicable_with_the_reason() -> None:
    host = HostTarget(_spec("host", {"host": "@local"}))
    assert capable(host, HostShell) and not capable(host, ServiceOps)
    with pytest.raises(NotApplicable, match=r"deploy is not supported on target 't1' \(host\): a host target has no service actions"):
        service_ops(host, "deploy")
    with pytest.raises(NotApplicable, match="no service actions"):
        host.deploy(StepContext(run_id="r"), "api", "app:1", False)
    cluster = KubernetesTarget(_spec("kubernetes", {"kubeconfig": "/nonexistent", "namespace": "x"}))
    with pytest.raises(NotApplicable, match=r"command is not supported on target 't1' \(kubernetes\): .*no host shell"):
        shell_of(cluster, "command")
    assert lock_of(cluster) is cluster and service_ops(cluster, "deploy") is cluster


def test_the_plain_target_never_silently_skips_locking() -> None:
    bare = Target(_spec("abstract"))
    for call in (lambda: bare.acquire_lock(LockHolder("me", "box", "r"), 60, 0), bare.renew_lock, bare.release_lock,
                 bare.read_lock, bare.force_unlock):
        with pytest.raises(NotApplicable, match="no environment lock"):
            call()
    with pytest.raises(NotApplicable, match="no environment lock"):
        lock_of(bare)


FORGETFUL = textwrap.dedent('''
    from ajudaplay.errors import LockInfo
    from ajudaplay.inventory.model import TargetSpec
    from ajudaplay.locks import LockHolder
    from ajudaplay.targets.base import Lockable, Target


    class Forgetful(Lockable, Target):
        kind = "forgetful"

        def acquire_lock(self, holder: LockHolder, ttl: float, wait: float) -> None:
            pass

        def release_lock(self) -> None:
            pass

        def read_lock(self) -> LockInfo | None:
            return None

        def force_unlock(self) -> LockInfo | None:
            return None


    def make(spec: TargetSpec) -> Target:
        return Forgetful(spec)
''')


def test_a_kind_that_forgets_a_lock_method_is_refused_by_mypy_and_at_run_time(tmp_path: Path) -> None:
    module = tmp_path / "forgetful.py"
    module.write_text(FORGETFUL)
    mypy = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(module)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert 'Cannot instantiate abstract class "Forgetful" with abstract attribute "renew_lock"' in mypy.stdout, mypy.stdout
    namespace: dict[str, object] = {}
    exec(compile(FORGETFUL, str(module), "exec"), namespace)
    with pytest.raises(TypeError, match="renew_lock"):
        namespace["make"](_spec("forgetful"))  # type: ignore[operator]
