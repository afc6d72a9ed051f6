"""Test-wide set-up: the same gevent monkey-patching the CLI applies before a run.

pyinfra 3 runs on gevent; the CLI patches once at start for commands that touch
targets (see ajudaplay/cli.py). Tests that drive the engine in-process must run
under the same concurrency model, so the patch happens here, first.
"""

from gevent import monkey

monkey.patch_all()

import pytest  # noqa: E402  (after the patch, like everything else)

# One definition of the session fixtures for the real control plane, shared by
# every folder that needs it (started only when a test asks for it).
pytest_plugins = ["tests.infra.k8s.conftest_fixtures"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the real sshd carries the `ssh` marker (`-m ssh` / `-m "not ssh"`).

    Marked here: tests asking for the `sshd` fixture, and tests parametrized "ssh" (the
    `target`/`project` fixtures get sshd at run time). Others that start sshd themselves
    carry the marker explicitly.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        over_ssh = callspec is not None and any(_names_ssh(v) for v in callspec.params.values())
        if over_ssh or "sshd" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.ssh)


def _names_ssh(param: object) -> bool:
    """A fixture parameter "ssh", or a tuple of them such as ("ssh", "sigkill")."""
    return param == "ssh" or (isinstance(param, (tuple, list)) and "ssh" in param)
