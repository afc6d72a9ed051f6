"""Benchmark: deploy a new image to 20 Deployments, ajudaplay vs parallel kubectl, same control plane.

Both sides talk to the real kube-apiserver (tests/infra/k8s) through the
fault proxy in pass mode, which counts every HTTP request. ajudaplay runs one
`ajudaplay run` over 20 Kubernetes targets (one Deployment each, its own
Lease); kubectl runs `set image` + `rollout status` per Deployment, all 20 in
parallel, with a warm discovery cache (as on an operator's machine). Rounds
alternate images so every round really rolls out. Goals: wall time no worse
than parallel kubectl; fewer API requests per Deployment.

    .venv/bin/python bench/kubernetes.py [--deployments 20] [--rounds 3] [--replicas 1]

Needs the control-plane binaries (tests/infra/k8s/build-controlplane.sh) and kubectl.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/: this file would shadow the `kubernetes` package

from tests.infra.k8s.controlplane import ControlPlane  # noqa: E402
from tests.infra.k8s.faultproxy import FaultProxy  # noqa: E402
from tests.infra.k8s.nodesim import NodeSimulator  # noqa: E402

NAMESPACE = "bench"
DEPLOY_ONLY = """\
- name: Deploy (bench)
  hosts: all
  tasks:
    - name: Deploy the service
      deploy: {service: api, image: "{{ image }}", atomic: true, timeout: 300}
"""


def kubectl(kubeconfig: Path, *args: str, cache: Path, stdin: str | None = None) -> None:
    proc = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache), "-n", NAMESPACE, *args],
                          input=stdin, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def manifest(i: int, image: str, replicas: int) -> dict[str, Any]:
    name = f"d{i:02d}"
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "api", "image": image}]}}}}


def inventory(path: Path, kubeconfig: Path, count: int) -> None:
    targets = {f"t{i:02d}": {"kubernetes": {"kubeconfig": str(kubeconfig), "namespace": NAMESPACE,
                                            "lock_name": f"ajudaplay-lock-t{i:02d}"},
                             "services": {"api": {"deployment": f"d{i:02d}", "container": "api"}}}
               for i in range(count)}
    import yaml

    path.write_text(yaml.safe_dump({"targets": targets, "groups": {"api": sorted(targets)}}))


def ajudaplay(playbook: Path, inv: Path, image: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ajudaplay", "run", str(playbook), "-i", str(inv), "-e", f"image={image}",
                           "--no-journal", "--forks", "50"], capture_output=True, text=True, timeout=900, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"ajudaplay failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def kubectl_parallel(kubeconfig: Path, cache: Path, count: int, image: str) -> float:
    def one(i: int) -> None:
        kubectl(kubeconfig, "set", "image", f"deployment/d{i:02d}", f"api={image}", cache=cache)
        kubectl(kubeconfig, "rollout", "status", f"deployment/d{i:02d}", "--timeout=300s", cache=cache)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args()
    n = args.deployments
    work = Path(tempfile.mkdtemp(prefix="ajudaplay-bench-k8s-"))
    cache = work / "kubectl-cache"
    with ControlPlane() as cp, NodeSimulator(cp.kubeconfig) as _sim, FaultProxy(cp) as proxy:
        print(f"control plane ready in {cp.startup_seconds:.1f}s; {n} Deployments x {args.replicas} replicas", flush=True)
        cp.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        time.sleep(2)  # default ServiceAccount
        items = {"apiVersion": "v1", "kind": "List", "items": [manifest(i, "img:v0", args.replicas) for i in range(n)]}
        kubectl(cp.kubeconfig, "apply", "-f", "-", cache=cache, stdin=json.dumps(items))
        for i in range(n):
            kubectl(cp.kubeconfig, "rollout", "status", f"deployment/d{i:02d}", "--timeout=120s", cache=cache)
        kubectl(proxy.kubeconfig, "get", "deployments", cache=cache)  # warm kubectl's discovery cache
        inv = work / "inventory.yml"
        inventory(inv, proxy.kubeconfig, n)
        bench_pb = work / "deploy-only.yml"
        bench_pb.write_text(DEPLOY_ONLY)
        rows: dict[str, list[tuple[float, int]]] = {"ajudaplay deploy.yml (lock+deploy+status)": [],
                                                      "ajudaplay deploy only (lock+deploy)": [],
                                                      "kubectl set image + rollout status": []}
        version = 0
        for _ in range(args.rounds):
            for label in rows:
                version += 1
                image = f"img:v{version}"
                proxy.reset_counts()
                if label.startswith("kubectl"):
                    elapsed = kubectl_parallel(proxy.kubeconfig, cache, n, image)
                elif "deploy.yml" in label:
                    elapsed = ajudaplay(ROOT / "playbooks" / "deploy.yml", inv, image)
                else:
                    elapsed = ajudaplay(bench_pb, inv, image)
                rows[label].append((elapsed, proxy.count()))
                print(f"  {label:45s} {elapsed:6.2f}s {proxy.count():5d} requests", flush=True)
    print(f"\n{n} Deployments, {args.rounds} rounds (median):")
    print(f"{'':45s} {'wall s':>8s} {'requests':>9s} {'req/deployment':>15s}")
    for label, samples in rows.items():
        wall = statistics.median(s[0] for s in samples)
        reqs = statistics.median(s[1] for s in samples)
        print(f"{label:45s} {wall:8.2f} {reqs:9.0f} {reqs / n:15.1f}")


if __name__ == "__main__":
    main()
