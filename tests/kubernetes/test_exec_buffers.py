"""An exec's output is never lost between the client's buffers (no cluster needed).

The kubernetes client's `WSClient.read_channel(ch)` reads more frames itself when `ch` has nothing
buffered: reading stderr can pull in stdout, stderr, the status and the close at once, leaving stdout
buffered after this round's stdout read. Seen on the real node under CI load: a command's stdout came
back empty while its stderr and exit status arrived. The loops in podexec.run and the exec action
must drain the buffers once more after the close. Here the real WSClient class reads from a scripted
frame source (its own read_channel/peek_channel/is_open run unchanged).
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.stream.ws_client import WSClient

from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes import execution, podexec

STATUS = json.dumps({"metadata": {}, "status": "Failure", "message": "command terminated with non-zero exit code",
                     "reason": "NonZeroExitCode",
                     "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}).encode()


class ScriptedClient(WSClient):
    """A WSClient whose frames all arrive in its second update(): the moment the race needs."""

    def __init__(self, binary: bool = True) -> None:  # no socket: the frames below stand in for the kubelet's
        self._connected, self._channels, self._closed_channels = True, {}, set()
        self.binary, self.subprotocol, self.updates = binary, "v4.channel.k8s.io", 0

    def update(self, timeout: float = 0) -> None:
        if not self.is_open():
            return
        self.updates += 1
        if self.updates == 2:  # inside read_channel(STDOUT)'s peek: nothing yet; then all at once
            return
        if self.updates == 3:
            frames = {1: b"out a b\n", 2: b"err\n", 3: STATUS}
            self._channels.update(frames if self.binary else {k: v.decode() for k, v in frames.items()})
            self._connected = False

    def close(self, **kwargs: Any) -> None:
        self._connected = False


def _served(monkeypatch: pytest.MonkeyPatch, binary: bool) -> ScriptedClient:
    """Every `kubernetes.stream.stream(...)` call gets this client."""
    import kubernetes.stream

    client = ScriptedClient(binary)
    monkeypatch.setattr(kubernetes.stream, "stream", lambda *args, **kwargs: client)
    return client


def test_podexec_run_keeps_stdout_that_a_later_read_buffered(monkeypatch: pytest.MonkeyPatch) -> None:
    _served(monkeypatch, binary=True)
    kube = SimpleNamespace(api_client=None, namespace="ns")
    done = podexec.run(kube, "pod", "api", ["sh", "-c", "echo out a b; echo err >&2; exit 3"])  # type: ignore[arg-type]
    assert (done.rc, done.stdout, done.stderr) == (3, b"out a b\n", b"err\n")


def test_the_exec_action_keeps_stdout_that_a_later_read_buffered(monkeypatch: pytest.MonkeyPatch) -> None:
    _served(monkeypatch, binary=False)  # the exec action's stream is text
    kube = SimpleNamespace(api_client=None, namespace="ns")
    done = execution._stream(kube, StepContext(run_id="r"), "pod", "api", ["sh", "-c", "echo"], None, None)  # type: ignore[arg-type]
    assert (done["rc"], done["stdout"], done["stderr"]) == (3, "out a b\n", "err\n")
