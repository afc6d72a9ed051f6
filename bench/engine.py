"""Engine benchmark: ajudaplay vs ansible-playbook vs pyinfra's CLI on the same work.

Prints numbers and ratios (it is not a test). Needs root (it starts a real
sshd on 127.0.0.1..30 with users ajtest01..ajtest30, see tests/infra/sshd) and,
for the peers, ansible-core in bench/.venv-peers (see bench/README.md).

    .venv/bin/python bench/engine.py                # everything
    .venv/bin/python bench/engine.py --hosts 1,10 --no-ansible
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scenario  # noqa: E402  (after sys.path)

VENV_BIN = ROOT / ".venv" / "bin"
PEERS_BIN = ROOT / "bench" / ".venv-peers" / "bin"
TOOLS = ("ajudaplay", "ansible", "pyinfra")


@dataclass(frozen=True)
class Timing:
    """One measurement: wall seconds, and the client's CPU seconds (user+sys, its children too)."""

    wall: float
    cpu: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> Timing:
    """Wall and CPU time of one CLI process (start-up included), failing loudly on a non-zero exit.

    CPU is the tool's own (and its child processes', e.g. Ansible's ssh), not
    sshd's: on a loaded machine it moves far less than wall time.
    """
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if check and proc.returncode != 0:
        sys.exit(f"FAILED ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return Timing(elapsed, _children_cpu() - cpu_before)


def median(timings: list[Timing]) -> Timing:
    """Median wall time and median CPU time (robust to one noisy run on a shared machine)."""
    return Timing(statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings))


def best_of(n: int, fn: Callable[[], Timing]) -> Timing:
    """Median of n runs."""
    return median([fn() for _ in range(n)])


def compile_bytecode() -> None:
    """Write ajudaplay's .pyc files, as an install does (the peers' packages have theirs).

    An editable checkout run with PYTHONDONTWRITEBYTECODE=1 (set on some build
    machines) would otherwise compile every module from source at every start.
    """
    subprocess.run([str(VENV_BIN / "python"), "-m", "compileall", "-q", str(ROOT / "ajudaplay")], check=True)


def state_of(dirs: list[Path]) -> dict[str, tuple[str, str, float]]:
    """relative path -> (sha256, mode, mtime) for every file under the given folders."""
    out: dict[str, tuple[str, str, float]] = {}
    for base in dirs:
        if not base.exists():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file():
                st = path.stat()
                key = f"{base.parent.name}/{path.relative_to(base)}"
                out[key] = (hashlib.sha256(path.read_bytes()).hexdigest(), oct(st.st_mode & 0o777), st.st_mtime)
    return out


class Bench:
    """Generates the three tools' inputs in a work folder and runs them against the sshd."""

    def __init__(self, sshd: Any, work: Path, repeat: int, tools: tuple[str, ...]) -> None:
        self.sshd = sshd
        self.work = work
        self.repeat = repeat
        self.tools = tools
        self.env = dict(os.environ, ANSIBLE_CONFIG=str(work / "ansible" / "ansible.cfg"), PYTHONWARNINGS="ignore")
        self.rows: list[tuple[str, dict[str, Timing]]] = []

    def clean(self, n: int) -> None:
        for i in range(1, n + 1):
            for tool in TOOLS:
                shutil.rmtree(scenario.bench_dir(i, tool), ignore_errors=True)

    def command(self, tool: str, kind: str, n: int) -> list[str]:
        w = self.work
        if tool == "ajudaplay":
            return [str(VENV_BIN / "ajudaplay"), "run", str(w / "ajudaplay" / f"{kind}.yml"),
                    "-i", str(w / "ajudaplay" / f"inventory-{n}.yml"), "--forks", str(max(n, 1)), "--no-journal"]
        if tool == "ansible":
            return [str(PEERS_BIN / "ansible-playbook"), "-i", str(w / "ansible" / f"inventory-{n}.yml"),
                    "-f", str(max(n, 5)), str(w / "ansible" / f"{kind}.yml")]
        return [str(VENV_BIN / "pyinfra"), str(w / "pyinfra" / f"inventory_{n}.py"), str(w / "pyinfra" / f"{kind}.py"),
                "-y", "--parallel", str(max(n, 1))]

    def run(self, tool: str, kind: str, n: int) -> Timing:
        return timed(self.command(tool, kind, n), cwd=self.work / ("ajudaplay" if tool == "ajudaplay" else tool), env=self.env)

    def startup(self) -> None:
        aj = str(VENV_BIN / "ajudaplay")
        help_t = best_of(5, lambda: timed([aj, "--help"], ROOT))
        val_t = best_of(5, lambda: timed([aj, "validate", "playbooks/"], ROOT))
        row = {"ajudaplay": help_t}
        if "ansible" in self.tools:
            row["ansible"] = best_of(3, lambda: timed([str(PEERS_BIN / "ansible-playbook"), "--help"], ROOT))
        if "pyinfra" in self.tools:
            row["pyinfra"] = best_of(3, lambda: timed([str(VENV_BIN / "pyinfra"), "--help"], ROOT))
        self.rows.append(("start-up: --help", row))
        row = {"ajudaplay": val_t}
        if "ansible" in self.tools:
            row["ansible"] = best_of(3, lambda: timed(
                [str(PEERS_BIN / "ansible-playbook"), "--syntax-check", "-i", str(self.work / "ansible" / "inventory-1.yml"),
                 str(self.work / "ansible" / "tenstep.yml")], self.work / "ansible", self.env))
        self.rows.append(("start-up: validate playbooks/ (ansible: --syntax-check)", row))

    def local(self) -> None:
        """One trivial task on the controller itself (`@local`; Ansible: `-c local`): start-up is the cost."""
        w = self.work
        commands = {
            "ajudaplay": ([str(VENV_BIN / "ajudaplay"), "run", str(w / "ajudaplay" / "trivial1.yml"),
                           "-i", str(w / "ajudaplay" / "inventory-local.yml"), "--no-journal"], w / "ajudaplay"),
            "ansible": ([str(PEERS_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                         str(w / "ansible" / "trivial1.yml")], w / "ansible"),
            "pyinfra": ([str(VENV_BIN / "pyinfra"), "@local", str(w / "pyinfra" / "trivial1.py"), "-y"], w / "pyinfra"),
        }
        runs: dict[str, list[Timing]] = {t: [] for t in self.tools}
        for _ in range(max(self.repeat, 3)):
            for tool in self.tools:
                cmd, cwd = commands[tool]
                runs[tool].append(timed(cmd, cwd, self.env))
        self.rows.append(("1 trivial task on @local (whole CLI run)", {t: median(runs[t]) for t in self.tools}))

    def per_task(self) -> None:
        """(50 trivial tasks - 1 task) / 49 on 1 host: what each extra task costs.

        The tools take turns within each repeat, so a change of load on a shared
        machine hits all of them rather than one.
        """
        ones: dict[str, list[Timing]] = {t: [] for t in self.tools}
        fifties: dict[str, list[Timing]] = {t: [] for t in self.tools}
        for _ in range(self.repeat):
            for tool in self.tools:
                ones[tool].append(self.run(tool, "trivial1", 1))
                fifties[tool].append(self.run(tool, "trivial50", 1))
        one = {t: median(ones[t]) for t in self.tools}
        fifty = {t: median(fifties[t]) for t in self.tools}
        self.rows.append(("1 trivial task, 1 host (whole CLI run)", one))
        self.rows.append(("50 trivial tasks, 1 host", fifty))
        per_task = {
            t: Timing((fifty[t].wall - one[t].wall) / 49 * 1000, (fifty[t].cpu - one[t].cpu) / 49 * 1000) for t in self.tools
        }
        self.rows.append(("per-task overhead (ms) = (T50-T1)/49", per_task))

    def tenstep(self, n: int) -> None:
        firsts: dict[str, list[Timing]] = {t: [] for t in self.tools}
        seconds: dict[str, list[Timing]] = {t: [] for t in self.tools}
        states: dict[str, dict[str, tuple[str, str]]] = {}
        for _ in range(self.repeat):
            for tool in self.tools:  # tools take turns: a load change hits all of them
                self.clean(n)
                firsts[tool].append(self.run(tool, "tenstep", n))
                before = state_of([scenario.bench_dir(i, tool) for i in range(1, n + 1)])
                seconds[tool].append(self.run(tool, "tenstep", n))
                after = state_of([scenario.bench_dir(i, tool) for i in range(1, n + 1)])
                touched = [k for k in before if before[k][2] != after.get(k, ("", "", -1))[2]]
                if touched:
                    sys.exit(f"{tool}: the no-change run rewrote {touched[:5]}")
                states[tool] = {k.split("/", 1)[1] + "@" + k.split("/")[0]: v[:2] for k, v in after.items()}
        first = {t: median(firsts[t]) for t in self.tools}
        second = {t: median(seconds[t]) for t in self.tools}
        self.verify(n, states)
        self.rows.append((f"10-task playbook, {n} host(s), first run", first))
        self.rows.append((f"10-task playbook, {n} host(s), no-change run", second))

    def verify(self, n: int, states: dict[str, dict[str, tuple[str, str]]]) -> None:
        """Same files, contents and modes on every host for every tool."""
        expected = scenario.EXPECTED_FILES * n
        for tool, state in states.items():
            if len(state) != expected:
                sys.exit(f"{tool}: {len(state)} files on {n} hosts, expected {expected}: {sorted(state)[:12]}")
        normalised = {
            tool: sorted((k.split("@")[0].split("/", 1)[-1], v) for k, v in state.items()) for tool, state in states.items()
        }
        reference = normalised["ajudaplay"]
        for tool, state in normalised.items():
            if state != reference:
                diff = [a for a, b in zip(state, reference) if a != b][:3]
                sys.exit(f"end state differs between ajudaplay and {tool} on {n} hosts: {diff}")

    def roundtrip(self) -> list[str]:
        """One persistent SSH connection: ms per `true` command with and without TCP_NODELAY."""
        code = (
            "import sys, time\n"
            "from gevent import monkey; monkey.patch_all()\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "from ajudaplay.hosts.pyinfra_host import connect_host\n"
            "for nodelay in (True, False):\n"
            f"    h = connect_host({{'host': 'ssh://ajtest01@127.0.0.1:{self.sshd.port}', 'key': {str(self.sshd.client_key)!r},"
            f" 'known_hosts': {str(self.sshd.known_hosts)!r}, 'tcp_nodelay': nodelay}}, 'rt')\n"
            "    h.run('true'); h.write_file('/tmp/ajb-rt-' + str(nodelay), b'x')\n"
            "    t = time.perf_counter()\n"
            "    for _ in range(100): h.run('true')\n"
            "    run_ms = (time.perf_counter() - t) * 10\n"
            "    t = time.perf_counter()\n"
            "    for _ in range(50): h.read_file('/tmp/ajb-rt-' + str(nodelay))\n"
            "    read_ms = (time.perf_counter() - t) * 20\n"
            "    h.run('rm -f /tmp/ajb-rt-' + str(nodelay)); h.close()\n"
            "    print(f'TCP_NODELAY {\"on \" if nodelay else \"off\"}: {run_ms:6.2f} ms per command, {read_ms:6.2f} ms per file read')\n"
        )
        out = subprocess.run([str(VENV_BIN / "python"), "-c", code], capture_output=True, text=True, check=True)
        return out.stdout.strip().splitlines()

    def print_table(self, cpu: bool = False) -> None:
        """The wall-time table, or (cpu=True) the same rows in client CPU seconds."""
        cols = [t for t in TOOLS if t in self.tools]
        width = max(len(label) for label, _ in self.rows) + 2
        header = f"{'':<{width}}" + "".join(f"{c:>12}" for c in cols)
        ratios = [f"{'x ' + c:>12}" for c in cols[1:]]
        print(header + "".join(ratios))
        for label, timings in self.rows:
            row = {tool: (t.cpu if cpu else t.wall) for tool, t in timings.items()}
            unit = "" if "(ms)" in label else " s"
            cells = "".join(f"{row[c]:>10.3f}{unit:2}" if c in row else f"{'-':>12}" for c in cols)
            aj = row.get("ajudaplay")
            ratio = "".join(f"{row[c] / aj:>11.1f}x" if c in row and aj and aj > 0 else f"{'-':>12}" for c in cols[1:])
            print(f"{label:<{width}}{cells}{ratio}")
        print("(x tool = tool time / ajudaplay time: how many times faster ajudaplay is)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="1,10,30", help="host counts for the 10-task playbook")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--no-ansible", action="store_true")
    parser.add_argument("--no-pyinfra", action="store_true")
    parser.add_argument("--work", default="/tmp/ajudaplay-bench", help="generated inputs go here")
    args = parser.parse_args()

    from tests.infra.sshd.sshd import SSHServer

    tools = tuple(t for t in TOOLS if not (t == "ansible" and args.no_ansible) and not (t == "pyinfra" and args.no_pyinfra))
    if "ansible" in tools and not (PEERS_BIN / "ansible-playbook").exists():
        sys.exit(f"ansible-playbook not found in {PEERS_BIN}: see bench/README.md (or pass --no-ansible)")
    counts = [int(x) for x in args.hosts.split(",")]
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    compile_bytecode()
    load_before = os.getloadavg()
    with SSHServer(n_addresses=max(counts)) as sshd:
        scenario.generate(work, sshd, max(counts), counts)
        bench = Bench(sshd, work, args.repeat, tools)
        roundtrip = bench.roundtrip()
        bench.startup()
        bench.local()
        bench.per_task()
        for n in counts:
            bench.tenstep(n)
            print(f"... {n} host(s) done", file=sys.stderr)
        bench.clean(max(counts))
        load_after = os.getloadavg()
        print(f"sshd on 127.0.0.1..{max(counts)}, {os.cpu_count()} CPUs, median of {args.repeat} run(s); "
              f"end state verified identical across tools; load average (1 min) {load_before[0]:.1f} before, "
              f"{load_after[0]:.1f} after")
        print("wall time:")
        bench.print_table()
        print("client CPU time (user+sys of the tool's process and its children; sshd's excluded):")
        bench.print_table(cpu=True)
        print("one persistent SSH connection (loopback), 100 sequential commands:")
        for line in roundtrip:
            print("  " + line)


if __name__ == "__main__":
    main()
