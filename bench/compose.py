"""Benchmark: a no-change `deploy.yml` run on a Compose target vs the same work by hand.

The service already runs the wanted image, so both sides only have to find
that out: ajudaplay (CLI start, inventory, lock, probe, inspect, status) and a
hand-written script (`docker compose up -d --no-deps api` + `docker inspect`
health). Measured @local and over a real loopback sshd (the script then runs
through `ssh`). Goal: ajudaplay < 1.5x the script.

    sudo .venv/bin/python bench/compose.py [--runs 7]

Needs the Docker engine and images (tests/infra/docker/setup.sh) and root for
the sshd fixture (tests/infra/sshd/setup.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
AJUDAPLAY = str(Path(sys.executable).with_name("ajudaplay"))
IMAGE = "ajudaplay-test/api:v1"


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {shlex.join(cmd)}\n{done.stdout}\n{done.stderr}")
    return elapsed


def script_for(project_dir: str, name: str) -> str:
    """What an operator would type: up the service (no-op when current), check it is healthy."""
    return (
        f"cd {project_dir} && docker compose -p {name} -f docker-compose.yml -f .ajudaplay/override.yml "
        f"up -d --no-deps api && "
        f"docker inspect -f '{{{{.State.Health.Status}}}}' $(docker compose -p {name} -f docker-compose.yml "
        f"-f .ajudaplay/override.yml ps -q api) | grep -qx healthy"
    )


def inventory(path: Path, name: str, project_dir: str, connection: dict[str, str]) -> None:
    inv = {
        "vars": {"image_repos": {"api": "ajudaplay-test/api", "nginx": "ajudaplay-test/nginx"},
                 "versions": {"api": "v1", "nginx": "v1"}},
        "targets": {"box": {"compose": {"project_dir": project_dir, "project_name": name, **connection},
                            "services": {"api": {"service": "api"}, "nginx": {"service": "nginx"}},
                            "vars": {"project_dir": project_dir}}},
        "groups": {"compose": ["box"], "api": ["box"]},
    }
    path.write_text(json.dumps(inv))


def bench_mode(mode: str, runs: int, work: Path, sshd: object | None) -> dict[str, float]:
    name = f"ajbench{mode}"
    project_dir = f"/tmp/ajudaplay-bench/{name}"
    os.makedirs("/tmp/ajudaplay-bench", mode=0o1777, exist_ok=True)
    os.chmod("/tmp/ajudaplay-bench", 0o1777)
    shutil.rmtree(project_dir, ignore_errors=True)
    if sshd is None:
        connection = {"host": "@local"}
        shell = ["sh", "-c"]
    else:
        port = getattr(sshd, "port")
        connection = {"host": f"ssh://ajtest@127.0.0.1:{port}", "key": str(getattr(sshd, "client_key")),
                      "known_hosts": str(getattr(sshd, "known_hosts"))}
        shell = ["ssh", *getattr(sshd, "ssh_options")(), "ajtest@127.0.0.1"]
    inv = work / f"{mode}.yml"
    inventory(inv, name, project_dir, connection)
    env = dict(os.environ)
    prep = [AJUDAPLAY, "run", str(ROOT / "playbooks/compose-host.yml"), "-i", str(inv), "--no-journal",
            "-e", "healthcheck_interval=1s", "-e", "healthcheck_start_period=1s"]
    timed(prep, env)
    deploy = [AJUDAPLAY, "run", str(ROOT / "playbooks/deploy.yml"), "-i", str(inv), "--no-journal", "-e", f"image={IMAGE}"]
    script = [*shell, script_for(project_dir, name)]
    tool, hand = [], []
    try:
        timed(deploy, env)  # warm caches on both sides
        timed(script, env)
        for _ in range(runs):
            tool.append(timed(deploy, env))
            hand.append(timed(script, env))
    finally:
        subprocess.run(f"docker ps -aq --filter label=com.docker.compose.project={name} | xargs -r docker rm -f",
                       shell=True, capture_output=True)
        subprocess.run(["docker", "network", "rm", f"{name}_default"], capture_output=True)
        shutil.rmtree(project_dir, ignore_errors=True)
    return {"ajudaplay": statistics.median(tool), "script": statistics.median(hand)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-ssh", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows.append(("local", bench_mode("local", args.runs, work, None)))
        if not args.no_ssh:
            from tests.infra.sshd.sshd import SSHServer

            with SSHServer(n_addresses=1) as sshd:
                rows.append(("ssh", bench_mode("ssh", args.runs, work, sshd)))
    print(f"no-change deploy.yml, median of {args.runs} runs (seconds)")
    print(f"{'target':<8} {'ajudaplay':>10} {'script':>10} {'ratio':>7}  goal < 1.50")
    for mode, r in rows:
        ratio = r["ajudaplay"] / r["script"]
        print(f"{mode:<8} {r['ajudaplay']:>10.3f} {r['script']:>10.3f} {ratio:>7.2f}  {'ok' if ratio < 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
