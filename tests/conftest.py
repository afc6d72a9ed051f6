"""Test-wide set-up: the same gevent monkey-patching the CLI applies before a run.

pyinfra 3 runs on gevent; the CLI patches once at start for commands that touch
targets (see ajudaplay/cli.py). Tests that drive the engine in-process must run
under the same concurrency model, so the patch happens here, first.
"""

from gevent import monkey

monkey.patch_all()

# One definition of the session fixtures for the real control plane, shared by
# every folder that needs it (started only when a test asks for it).
pytest_plugins = ["tests.infra.k8s.conftest_fixtures"]
