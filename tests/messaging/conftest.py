"""Messaging tests: a local Bot API and webhook receivers (tests/infra/telegram/server.py) stand in
for api.telegram.org, Slack and status pages, which cannot be reached from here; runs use the
fake target (no Docker, no cluster), through the real CLI where output must be searched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.infra.telegram.server import BotAPI, Receiver

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "7012345678:AAH-testTokenNeverPrinted_0123456789"  # a token's shape; the stand-in accepts only it
SECRET = "whsec-never-printed-42"


@pytest.fixture
def bot() -> Iterator[BotAPI]:
    with BotAPI(TOKEN) as api:
        yield api


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@dataclass
class Done:
    rc: int
    stdout: str
    stderr: str
    junit: str
    journal: bytes

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def results(self, task: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == "task_result" and e.get("task") == task]

    def everything(self) -> str:
        """Every place a secret could leak to: stdout, stderr, the JUnit file and the raw journal file."""
        return "\n".join([self.stdout, self.stderr, self.junit, self.journal.decode("latin-1")])


@dataclass
class Project:
    root: Path

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def inventory(self, vars_yaml: str = "", fake: dict[str, Any] | None = None, env: str = "") -> Path:
        """targets t1 (fake) with `vars_yaml` as inventory vars; `env` lines go to a secrets env file."""
        conf = {"state_dir": str(self.root / "state"), "images": {"api": "app:1"}, **(fake or {})}
        (self.root / "state").mkdir(exist_ok=True)
        self.write("secrets.env", env)
        text = (f"secrets: {{env_file: {self.root / 'secrets.env'}}}\n"
                f"targets:\n  t1:\n    fake: {json.dumps(conf)}\n    services: {{api: {{}}}}\n")
        return self.write("inventory/testenv.yml", text + textwrap.dedent(vars_yaml))

    def run(self, playbook: str | Path, *args: str, timeout: float = 60) -> Done:
        env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", AJUDAPLAY_JOURNAL=str(self.root / "journal.sqlite"))
        junit = self.root / "junit.xml"
        junit.unlink(missing_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "ajudaplay", "run", str(playbook), "-i", str(self.root / "inventory" / "testenv.yml"),
             "--output", "json", "--junit", str(junit), *args],
            cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout,
        )
        journal = self.root / "journal.sqlite"
        return Done(proc.returncode, proc.stdout, proc.stderr, junit.read_text() if junit.exists() else "",
                    journal.read_bytes() if journal.exists() else b"")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)
