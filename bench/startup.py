"""Benchmark: CLI start-up, the time a person waits for `--help` and `validate`.

Each command runs as its own process (as a person or CI would run it), from
the repository root, several times; the median is printed. A measurement, not
a test: nothing fails on a slow machine. Bytecode is compiled first (as an
install would), so the first run does not pay for compiling every module.
Besides wall time it prints the CPU time (user + system) of each process,
which other work on a busy machine disturbs much less.

    .venv/bin/python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import compileall
import resource
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


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU time of one `python -m ajudaplay ARGV` process; it must succeed."""
    cmd = [sys.executable, "-m", "ajudaplay", *argv]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {shlex.join(cmd)}\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "ajudaplay"), quiet=1)
    width = max(len(label) for label, _ in COMMANDS)
    print(f"{'command':<{width}}  wall: median  min    max    cpu: median  (s, {args.runs} runs)")
    for label, argv in COMMANDS:
        timed(argv)  # warm the OS file cache
        runs = [timed(argv) for _ in range(args.runs)]
        wall = [w for w, _ in runs]
        cpu = statistics.median(c for _, c in runs)
        print(f"{label:<{width}}        {statistics.median(wall):.3f}  {min(wall):.3f}  {max(wall):.3f}       {cpu:.3f}")


if __name__ == "__main__":
    main()
