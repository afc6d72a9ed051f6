"""deploy.yml announces on both modes in one run, and telegram.yml runs with the same inventory: a Compose
target (real Docker) and a Kubernetes target (the real node). Slack and the Telegram Bot API cannot be
reached from here: a local receiver and the Bot API stand-in (tests/infra/telegram/server.py) take them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import docker_engine  # noqa: F401 - fixture
from tests.infra.telegram.server import BotAPI, Receiver
from tests.kubernetes.conftest import NodeCluster, node_cluster  # noqa: F401 - fixture
from tests.kubernetes.test_both_modes import V2, both_modes_project
from tests.messaging.conftest import SECRET, TOKEN

pytestmark = [pytest.mark.kubernetes, pytest.mark.docker]


def test_deploy_yml_announces_each_target_and_telegram_yml_checks_the_bot(
    request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None, node_cluster: NodeCluster
) -> None:
    project = both_modes_project(request, tmp_path, node_cluster)
    with Receiver() as slack, BotAPI(TOKEN) as bot:
        inv: dict[str, Any] = json.loads(project.inventory.read_text())
        inv.setdefault("vars", {}).update(
            tg_token=TOKEN, tg_secret=SECRET, slack_url=f"{slack.url}/services/T0/B0/hookkey123",
            notify={"slack": "{{ slack_url }}"},
            telegram={"token": "{{ tg_token }}", "api_url": bot.url, "secret_token": "{{ tg_secret }}",
                      "webhook_url": "https://ajudadorabot.example/api/telegram/webhook"},
        )
        inv["secrets"] = {"vars": ["tg_token", "tg_secret", "slack_url"]}
        project.inventory.write_text(json.dumps(inv))
        bot.webhook["url"] = "https://ajudadorabot.example/api/telegram/webhook"

        deployed = project.run("deploy.yml", "-e", f"image={V2}")
        assert deployed.rc == 0, deployed.text
        texts = sorted(slack.texts())
        assert len(texts) == 2, texts
        for text, target in zip(texts, ("box", "cluster")):
            assert text.startswith(f"[RESOLVED] api in {project.inventory.stem} ({target}): revision "), text
            assert f", image {V2}; outcome deployed after " in text
        assert [r["status"] for r in deployed.results("Announce the failure")] == ["skipped", "skipped"]

        checked = project.run("telegram.yml")
        assert checked.rc == 0, checked.text
        assert {r["target"] for r in checked.results("Verdict")} == {"box", "cluster"}
        assert all(r["msg"].startswith("telegram: bot @ajudadorabot OK") for r in checked.results("Verdict"))
        for run in (deployed, checked):
            assert TOKEN not in run.text and SECRET not in run.text and "hookkey123" not in run.text
