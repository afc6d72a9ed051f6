"""deploy / history / rollback / atomic / scale through `ajudaplay run`, checked with `docker`."""

from __future__ import annotations

import pytest

from pathlib import Path

from tests.compose.conftest import Project, make_project

pytestmark = pytest.mark.docker

V1, V2, BAD = "ajudaplay-test/api:v1", "ajudaplay-test/api:v2", "ajudaplay-test/api:unhealthy"


def deploy_result(run: object) -> dict:
    [result] = run.results("Deploy the service")  # type: ignore[attr-defined]
    return result


def test_deploy_history_rollback(project: Project) -> None:
    assert project.images("api") == [V1] and project.healthy("api")

    first = project.run("deploy.yml", "-e", f"image={V2}")
    assert first.rc == 0, first.text
    assert deploy_result(first)["changed"] is True
    assert deploy_result(first)["revisions"] == [{"service": "api", "before": "1", "after": "2", "image": V2}]
    assert project.images("api") == [V2] and project.healthy("api")

    again = project.run("deploy.yml", "-e", "version=v2")  # same image via image_repos: ok, not changed
    assert again.rc == 0, again.text
    assert deploy_result(again)["status"] == "ok" and deploy_result(again)["changed"] is False

    revs = project.revisions("api")
    assert [(r["revision"], r["image"]) for r in revs] == [(1, V1), (2, V2)]
    [history] = project.run("triage.yml").results("Revisions of the service")
    assert [r["revision"] for r in history["data"]["revisions"]] == [1, 2]

    back = project.run("rollback.yml")
    assert back.rc == 0, back.text
    assert project.images("api") == [V1] and project.healthy("api")
    # kubectl numbering: revision 1 moved to 3; previous is now 2 (v2)
    assert [(r["revision"], r["image"]) for r in project.revisions("api")] == [(2, V2), (3, V1)]

    to_two = project.run("rollback.yml", "-e", "revision=2")
    assert to_two.rc == 0, to_two.text
    assert project.images("api") == [V2] and project.healthy("api")
    assert project.revisions("api")[-1]["image"] == V2


def test_atomic_deploy_of_unhealthy_image_rolls_back(project: Project) -> None:
    done = project.run("deploy.yml", "-e", f"image={BAD}")  # deploy.yml is atomic by default
    assert done.rc == 2, done.text
    result = deploy_result(done)
    assert result["status"] == "failed" and result["rolled_back"] is True
    assert "rolled back to revision 1" in result["msg"] and "unhealthy" in result["msg"]
    assert project.images("api") == [V1] and project.healthy("api")
    revs = project.revisions("api")
    assert [r["image"] for r in revs if r["status"] == "committed"] == [V1]  # the failed image is not a revision
    assert [(r["image"], r["status"]) for r in revs if r["status"] != "committed"] == [(BAD, "aborted")]
    finished = [e for e in done.events if e["event"] == "run_end"]
    assert finished and finished[0]["stats"]["box"]["rolled_back"] == 1


def test_scale_up_and_down(project: Project) -> None:
    up = project.run("scale.yml", "-e", "replicas=3")
    assert up.rc == 0, up.text
    assert len(project.containers("api")) == 3 and project.healthy("api")
    first_ids = {c["Id"] for c in project.containers("api")}

    same = project.run("scale.yml", "-e", "replicas=3")
    assert same.results("Scale the service")[0]["changed"] is False

    bounds = project.run("scale.yml", "-e", "replicas=1", "-e", "min_replicas=1", "-e", "max_replicas=5")
    assert bounds.rc == 0, bounds.text
    [scaled] = bounds.results("Scale the service")
    assert any("not applicable on Compose" in w for w in scaled["warnings"])
    remaining = project.containers("api")
    assert len(remaining) == 1 and remaining[0]["Id"] in first_ids  # kept, not recreated


def test_deploy_keeps_replica_count(project: Project) -> None:
    assert project.run("scale.yml", "-e", "replicas=2").rc == 0
    done = project.run("deploy.yml", "-e", f"image={V2}")
    assert done.rc == 0, done.text
    assert project.images("api") == [V2, V2] and project.healthy("api")


def test_compose_v1_deploy_and_atomic_rollback(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> None:
    """The same procedure with docker-compose v1 (forced: the host also has v2)."""
    project = make_project(request, tmp_path, "local", compose_command="docker-compose")
    assert project.run("deploy.yml", "-e", f"image={V2}").rc == 0
    assert project.images("api") == [V2] and project.healthy("api")
    bad = project.run("deploy.yml", "-e", f"image={BAD}")
    assert bad.rc == 2 and deploy_result(bad)["rolled_back"] is True, bad.text
    assert project.images("api") == [V2] and project.healthy("api")
