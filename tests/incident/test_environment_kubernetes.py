"""`environment` on Kubernetes against the real API server (simulated node: only the pod template and the
Secrets/ConfigMaps are read, no container has to run): env and envFrom names, refs with `present` from the
objects that exist, `optional` honoured, the inventory's expected names, limits; Secret values never registered.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ajudaplay.actions.base import ActionContext
from ajudaplay.actions.incident import run_environment
from ajudaplay.errors import Mark
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.targets.kubernetes import KubernetesTarget
from tests.kubernetes.conftest import Cluster, deployment_manifest, step

pytestmark = pytest.mark.kubernetes

SECRET_VALUE = "s3cr3t-db-password-81723"


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_names_refs_missing_and_limits(cluster: Cluster) -> None:
    cluster.apply(secret("api-env", {"DB_URL": SECRET_VALUE, "SESSION_KEY": SECRET_VALUE + "2"}))
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-config"},
                   "data": {"LOG_LEVEL": "info"}})
    manifest = deployment_manifest("api", "img:crash", replicas=1)
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {"name": "PLAIN", "value": "plain-value-9931"},
        {"name": "DB_URL", "valueFrom": {"secretKeyRef": {"name": "api-env", "key": "DB_URL"}}},
        {"name": "TELEGRAM_BOT_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api-env", "key": "TELEGRAM_BOT_TOKEN"}}},
        {"name": "FEATURE", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "FEATURE", "optional": True}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    container["envFrom"] = [{"configMapRef": {"name": "api-config"}}, {"secretRef": {"name": "absent"}, "prefix": "X_"}]
    container["resources"] = {"limits": {"memory": "64Mi", "cpu": "250m"}}
    cluster.apply(manifest)

    spec = TargetSpec(name="cluster", kind="kubernetes", mark=Mark("inventory.yml", 1, 1),
                      connection={"kubeconfig": str(cluster.kubeconfig), "namespace": cluster.namespace},
                      services={"api": {"deployment": "api", "container": "api",
                                        "env": ["DB_URL", "TELEGRAM_BOT_TOKEN", "SMTP_HOST"]}})
    target = KubernetesTarget(spec)
    target.open()
    try:
        ctx = ActionContext(target=target, step=step(check=True), vars={}, render=lambda v: v)
        result = run_environment(ctx, {"service": "api"})
    finally:
        target.close()
    data = result.data
    assert not result.failed and not result.changed
    # the names the pod template gives, read independently with kubectl (envFrom keys: from the ConfigMap)
    template = cluster.get("deployment", "api")["spec"]["template"]["spec"]["containers"][0]
    assert data["names"] == sorted({e["name"] for e in template["env"]} | {"LOG_LEVEL"})
    assert data["expected"] == ["DB_URL", "SMTP_HOST", "TELEGRAM_BOT_TOKEN"]
    # SMTP_HOST: expected, not set; TELEGRAM_BOT_TOKEN: set from a key the Secret does not have
    assert data["missing"] == ["SMTP_HOST", "TELEGRAM_BOT_TOKEN"]
    refs = {(r["kind"], r["source"], r["key"]): (r["name"], r["present"], r["optional"]) for r in data["refs"]}
    assert refs == {
        ("Secret", "api-env", "DB_URL"): ("DB_URL", True, False),
        ("Secret", "api-env", "TELEGRAM_BOT_TOKEN"): ("TELEGRAM_BOT_TOKEN", False, False),
        ("ConfigMap", "gone", "FEATURE"): ("FEATURE", False, True),  # optional: not missing
        ("ConfigMap", "api-config", "LOG_LEVEL"): ("LOG_LEVEL", True, False),
        ("Secret", "absent", None): (None, False, False),
    }
    assert data["limits"] == {"memory_bytes": 64 * 1048576, "cpu_millicores": 250.0}
    assert data["container"] == "api"
    shown = json.dumps(data) + result.msg + json.dumps(result.warnings)
    assert SECRET_VALUE not in shown and "plain-value-9931" not in shown
    assert "missing: SMTP_HOST, TELEGRAM_BOT_TOKEN" in result.msg
