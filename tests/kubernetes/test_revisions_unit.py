"""kubectl's revision and rollout-status logic, table-driven (cases/*.yml), no cluster needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ajudaplay.errors import TargetError
from ajudaplay.targets.kubernetes.revisions import (
    equal_ignore_hash,
    label_selector,
    owned_replicasets,
    rollback_patch,
    select_replicaset,
)
from ajudaplay.targets.kubernetes.rollout import rollout_status

CASES = Path(__file__).parent / "cases"


def _load(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((CASES / name).read_text()))


def _rs(revision: int | None, image: str = "img:v1", hash_: str = "abc") -> dict[str, Any]:
    annotations = {} if revision is None else {"deployment.kubernetes.io/revision": str(revision)}
    return {"metadata": {"name": f"rs-{revision}", "annotations": annotations},
            "spec": {"template": {"metadata": {"labels": {"app": "api", "pod-template-hash": hash_}},
                                  "spec": {"containers": [{"name": "api", "image": image}]}}}}


@pytest.mark.parametrize("case", _load("revisions.yml"), ids=lambda c: c["name"])
def test_select_replicaset(case: dict[str, Any]) -> None:
    deployment = {"metadata": {"name": "api"}}
    replicasets = [_rs(r) for r in case["rs"]]
    if "error" in case:
        with pytest.raises(TargetError, match=case["error"]):
            select_replicaset(deployment, replicasets, case["to_revision"])
    else:
        chosen = select_replicaset(deployment, replicasets, case["to_revision"])
        assert chosen["metadata"]["name"] == f"rs-{case['picks']}"


@pytest.mark.parametrize("case", _load("rollout_status.yml"), ids=lambda c: c["name"])
def test_rollout_status(case: dict[str, Any]) -> None:
    deployment = {"metadata": {"name": "api", "generation": case["generation"]}, "spec": {"replicas": 2},
                  "status": case["status"]}
    if "error" in case:
        with pytest.raises(TargetError, match=case["error"]):
            rollout_status(deployment)
        return
    done, message = rollout_status(deployment)
    assert done is case["done"] and case["message"] in message


def test_equal_ignore_hash_and_semantic_empties() -> None:
    a = _rs(1, hash_="aaa")["spec"]["template"]
    b = _rs(2, hash_="bbb")["spec"]["template"]
    assert equal_ignore_hash(a, b)
    b["metadata"]["annotations"] = {}  # empty == unset, as apimachinery's semantic equality
    b["spec"]["volumes"] = []
    assert equal_ignore_hash(a, b)
    b["spec"]["containers"][0]["image"] = "img:v2"
    assert not equal_ignore_hash(a, b)


def test_rollback_patch_is_kubectls() -> None:
    deployment = {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "3",
                                               "kubernetes.io/change-cause": "deploy v3", "team": "x"}}}
    rs = _rs(1)
    rs["metadata"]["annotations"].update({"kubernetes.io/change-cause": "deploy v1",
                                          "deployment.kubernetes.io/desired-replicas": "2"})
    ops = rollback_patch(deployment, rs)
    assert [o["path"] for o in ops] == ["/spec/template", "/metadata/annotations"]
    assert "pod-template-hash" not in ops[0]["value"]["metadata"]["labels"]
    assert "pod-template-hash" in rs["spec"]["template"]["metadata"]["labels"]  # input untouched
    # kept from the Deployment: the skip list; copied from the RS: the rest (team is dropped, as kubectl does)
    assert ops[1]["value"] == {"deployment.kubernetes.io/revision": "3", "kubernetes.io/change-cause": "deploy v1"}


def test_owned_by_uid_and_selector_string() -> None:
    dep = {"metadata": {"uid": "u1"}}
    mine = {"metadata": {"ownerReferences": [{"controller": True, "uid": "u1"}]}}
    other = {"metadata": {"ownerReferences": [{"controller": True, "uid": "u2"}]}}
    orphan = {"metadata": {}}
    assert owned_replicasets(dep, [mine, other, orphan]) == [mine]
    selector = {"matchLabels": {"app": "api", "tier": "web"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                                     {"key": "canary", "operator": "DoesNotExist"}]}
    assert label_selector(selector) == "app=api,tier=web,env in (dev,prod),!canary"
