"""CLI tests run the real `python -m ajudaplay` in a subprocess, in a temp project folder
with fake targets (kind "fake", state kept in files so the test can see locks and calls)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Project:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state"

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def inventory(self, targets: dict[str, dict[str, Any]], extra: str = "") -> None:
        lines = ["targets:"]
        for name, conf in targets.items():
            conf = {"state_dir": str(self.state), **conf}
            lines += [f"  {name}:", f"    fake: {json.dumps(conf)}", "    services: {api: {}}"]
        self.write("inventory/test.yml", "\n".join(lines) + "\n" + textwrap.dedent(extra))

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT)
        env["AJUDAPLAY_JOURNAL"] = str(self.root / "journal.sqlite")
        env["NO_COLOR"] = "1"
        return env

    def cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ajudaplay", *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cmd(*args), cwd=self.root, env=self.env(), capture_output=True, text=True, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.cmd(*args), cwd=self.root, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def calls(self) -> list[dict[str, Any]]:
        path = self.state / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def locks(self) -> list[str]:
        return sorted(p.name for p in self.state.glob("*.lock"))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.state.mkdir()
    return p


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
