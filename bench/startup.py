"""Benchmark: CLI start-up, the time a person waits for `--help` and `validate`.

Each command runs as its own process (as a person or CI would run it), from
the repository root, several times; the median is printed. A measurement, not
a test: nothing fails on a slow machine. Bytecode is compiled first (as an
install would), so the first run does not pay for compiling every module.

    .venv/bin/python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import compileall
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (
    ("--help", ["--help"]),
    ("validate playbooks/", ["validate", "playbooks/"]),
    ("validate playbooks/ -i inventory/local.yml", ["validate", "playbooks/", "-i", "inventory/local.yml"]),
)


def timed(argv: list[str]) -> float:
    """Wall time of one `python -m ajudaplay ARGV` process; it must succeed."""
    cmd = [sys.executable, "-m", "ajudaplay", *argv]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {shlex.join(cmd)}\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "ajudaplay"), quiet=1)
    width = max(len(label) for label, _ in COMMANDS)
    print(f"{'command':<{width}}  median   min      max      (s, {args.runs} runs)")
    for label, argv in COMMANDS:
        timed(argv)  # warm the OS file cache
        times = [timed(argv) for _ in range(args.runs)]
        print(f"{label:<{width}}  {statistics.median(times):.3f}    {min(times):.3f}    {max(times):.3f}")


if __name__ == "__main__":
    main()
