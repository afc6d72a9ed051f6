"""incident.yml through the real CLI on the fake target, with the messaging stand-ins of tests/infra/telegram
(the Telegram Bot API and a JSON webhook cannot be reached from here) and a local health URL that answers 503:
the INVESTIGATING announcement goes out once per target (not with announce=false), getMe is called, the
summary line names the problems and the next runbook step, and the bot token shows nowhere.
"""

from __future__ import annotations

from pathlib import Path

from tests.infra.telegram.server import BotAPI, Receiver
from tests.messaging.conftest import TOKEN, Project

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "incident.yml"


def test_incident_announces_gathers_and_summarises(tmp_path: Path) -> None:
    project = Project(tmp_path)
    with BotAPI(TOKEN) as bot, Receiver() as hook, Receiver(status=503) as health:
        project.inventory(f"""
            vars:
              health_url: {health.url}/health
              notify: {{webhook: {hook.url}/incidents}}
              telegram: {{token: "{{{{ telegram_bot_token }}}}", api_url: {bot.url}}}
            """, env=f"telegram_bot_token={TOKEN}\n")
        done = project.run(PLAYBOOK)
        assert done.rc == 0, done.stdout + done.stderr
        [text] = hook.texts()
        assert "INVESTIGATING" in text.upper() and "api" in text, text
        assert [name for name, _ in bot.calls] == ["getMe"]
        [summary] = done.results("Incident summary")
        assert summary["msg"].startswith("t1 api: PROBLEMS: health URL fails"), summary["msg"]
        assert summary["msg"].endswith("next: network.yml, dns.yml"), summary["msg"]
        assert TOKEN not in done.everything()

        quiet = project.run(PLAYBOOK, "-e", "announce=false", "-e", f"health_url={bot.url}/health-is-not-here")
        assert quiet.rc == 0, quiet.stdout + quiet.stderr
        assert len(hook.posts) == 1 and [name for name, _ in bot.calls] == ["getMe", "getMe"]
        [skipped] = quiet.results("Announce the investigation")
        assert skipped["status"] == "skipped"
