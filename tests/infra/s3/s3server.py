"""A local S3-compatible server for tests: moto's standalone server (PyPI `moto[server]`).

moto stands in for the cloud: no test reaches AWS or any other network
service. The server listens on 127.0.0.1 only, on a free port, in a process of
its own (started with this interpreter, so the venv's moto), and is stopped
when the `with` block ends:

    from tests.infra.s3.s3server import MotoServer
    with MotoServer() as s3:
        boto3.client("s3", endpoint_url=s3.endpoint_url, **s3.credentials)

moto accepts any credentials; `credentials` are fixed fake ones so no test
depends on (or leaks) the machine's AWS configuration.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from types import TracebackType

START_TIMEOUT = 60.0  # moto imports much on first start; a loaded CI machine needs the margin


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """moto's S3 server in a subprocess on 127.0.0.1:<free port>."""

    credentials = {"aws_access_key_id": "ajudaplay-test", "aws_secret_access_key": "ajudaplay-test-secret",
                   "region_name": "us-east-1"}

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # moto logs every request: a pipe nobody reads would fill and block it

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=self._log, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._log.seek(0)
                err = self._log.read().decode(errors="replace")
                raise RuntimeError(f"moto server exited with {self._proc.returncode}: {err[-2000:]}"
                                   " (install the test extra: pip install -e '.[test]')")
            try:
                urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=2).close()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.endpoint_url} within {START_TIMEOUT:g} s")

    def reset(self) -> None:
        """Forget every bucket and object (moto's own reset endpoint)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._log.close()

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
