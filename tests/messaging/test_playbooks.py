"""The shipped telegram.yml, deploy.yml and rollback.yml, and the announce action, run through the CLI on
the fake target, against the local Bot API and webhook stand-ins (the real services cannot be reached
from here). Each run's stdout, stderr, JUnit file and raw journal file are searched for the secrets."""

from __future__ import annotations

import json

from tests.infra.telegram.server import BotAPI, Receiver
from tests.messaging.conftest import ROOT, SECRET, TOKEN, Project

PLAYBOOKS = ROOT / "playbooks"
HOOK_PATH = "/services/T0SECRET/B0SECRET/hookkey123"  # what makes a Slack URL a credential


def _telegram_vars(bot: BotAPI) -> str:
    return f"""\
vars:
  telegram:
    token: "{{{{ telegram_bot_token }}}}"
    api_url: {bot.url}
    webhook_url: https://ajudadorabot.example/api/telegram/webhook
    secret_token: "{{{{ telegram_webhook_secret }}}}"
"""


def test_telegram_yml_finds_a_failing_webhook_and_the_reset_repairs_it(project: Project, bot: BotAPI) -> None:
    project.inventory(_telegram_vars(bot), env=f"telegram_bot_token={TOKEN}\ntelegram_webhook_secret={SECRET}\n")
    bot.webhook["url"] = "https://old.example/hook"
    bot.failing_webhook(pending=250, error_age=60)

    found = project.run(PLAYBOOKS / "telegram.yml")
    assert found.rc == 2, found.stderr
    [verdict] = found.results("Verdict")
    assert verdict["msg"].startswith("telegram: bot @ajudadorabot: pending updates: 250 (over 100); last delivery error 20"), verdict
    assert "Wrong response from the webhook: 502 Bad Gateway; webhook URL is https://old.example/hook, expected " \
           "https://ajudadorabot.example/api/telegram/webhook -> next: the runbook's reset" in verdict["msg"]
    assert [name for name, _ in bot.calls] == ["getMe", "getWebhookInfo"]

    would = project.run(PLAYBOOKS / "telegram.yml", "-e", "reset=true", "--check")
    [skipped] = would.results("Reset the webhook (setWebhook)")
    assert skipped["status"] == "skipped" and "would set the webhook to https://ajudadorabot.example/api/telegram/" \
        "webhook with a secret token (now: https://old.example/hook)" in skipped["msg"], skipped
    assert "setWebhook" not in [name for name, _ in bot.calls]

    reset = project.run(PLAYBOOKS / "telegram.yml", "-e", "reset=true", "-e", "drop_pending=true")
    assert reset.rc == 0, reset.stdout[-2000:]
    assert bot.secret_token == SECRET and bot.webhook["url"] == "https://ajudadorabot.example/api/telegram/webhook"
    assert bot.webhook["pending_update_count"] == 0
    [changed] = reset.results("Reset the webhook (setWebhook)")
    assert changed["status"] == "changed" and changed["diff"][0]["before"] == "https://old.example/hook"
    for run in (found, would, reset):
        assert TOKEN not in run.everything() and SECRET not in run.everything()


def test_the_token_never_leaks_on_401_or_a_timeout_even_from_a_plain_variable(project: Project, bot: BotAPI) -> None:
    """The token here is an ordinary variable (not a secret source): only the action's add_secret masks it."""
    project.inventory(f"vars:\n  telegram: {{token: '{TOKEN}', api_url: '{bot.url}'}}\n")
    project.write("pb.yml", """\
        - name: Bot
          hosts: all
          tasks:
            - {name: getMe, telegram: {method: get_me, timeout: 0.5}, ignore_errors: true}
            - {name: echo, debug: {msg: "token is {{ telegram.token }}"}}
        """)
    bot.unauthorized = True
    denied = project.run(project.root / "pb.yml")
    [result] = denied.results("getMe")
    assert result["status"] == "ignored" and "Telegram getMe: 401 Unauthorized" in result["msg"], result
    assert "token is ********" in denied.results("echo")[0]["msg"]
    bot.unauthorized, bot.hang = False, True
    hung = project.run(project.root / "pb.yml")
    assert "Telegram getMe: " in hung.results("getMe")[0]["msg"] and "timed out" in hung.results("getMe")[0]["msg"]
    for run in (denied, hung):
        assert TOKEN not in run.everything(), "token leaked"
        assert "AAH-testTokenNeverPrinted" not in run.everything()
    assert "Telegram getMe: 401 Unauthorized" in denied.junit  # the report has the error, masked


def test_a_notification_that_fails_warns_and_the_run_succeeds(project: Project) -> None:
    with Receiver(status=500) as down:
        project.inventory(f"vars:\n  notify: {{slack: '{down.url}{HOOK_PATH}', webhook: 'http://127.0.0.1:9/status'}}\n")
        project.write("pb.yml", """\
            - name: Tell
              hosts: all
              tasks:
                - {name: Tell everyone, announce: {template: investigating, message: "5xx at 12%", timeout: 2}}
            """)
        done = project.run(project.root / "pb.yml")
    assert done.rc == 0, done.stdout
    [told] = done.results("Tell everyone")
    assert told["status"] == "ok"
    assert sorted(told["warnings"]) == [
        f"notification not sent: slack {down.url}/… answered HTTP 500: no_service",
        "notification not sent: webhook http://127.0.0.1:9/…: [Errno 111] Connection refused",
    ]
    assert down.texts()[0].startswith("[INVESTIGATING] ? in testenv (t1): 5xx at 12%. Started by ")
    assert "hookkey123" not in done.everything() and "T0SECRET" not in done.everything()


def _deploy_inventory(project: Project, receiver: Receiver, bot: BotAPI) -> None:
    project.inventory(f"""\
vars:
  notify: {{webhook: '{receiver.url}/incidents', slack: '{receiver.url}{HOOK_PATH}', telegram: {{chat_id: '-100777'}}}}
  telegram: {{token: "{{{{ telegram_bot_token }}}}", api_url: '{bot.url}'}}
""", fake={"unhealthy_images": ["app:bad"]}, env=f"telegram_bot_token={TOKEN}\n")


def test_deploy_yml_announces_the_failure_with_the_step_and_still_fails(project: Project, receiver: Receiver,
                                                                          bot: BotAPI) -> None:
    _deploy_inventory(project, receiver, bot)
    done = project.run(PLAYBOOKS / "deploy.yml", "-e", "image=app:bad")
    assert done.rc == 2, done.stdout[-3000:]
    [deploy] = done.results("Deploy the service")
    assert deploy["status"] == "failed" and deploy["rolled_back"] is True  # as without announcements
    assert done.results("Announce the deploy")[0]["status"] == "skipped"
    end = [e for e in done.events if e["event"] == "run_end"][0]
    assert end["outcome"] == "failed" and end["stats"]["t1"]["failed"] == 1
    [(path, posted)] = [p for p in receiver.posts if p[0] == "/incidents"]
    assert posted["template"] == "failed"
    text = posted["text"]
    assert text.startswith("[FAILED] api in testenv (t1): step 'Deploy the service' failed: app:bad never got healthy"), text
    assert "Undone: rolled back to revision 1." in text and "Playbook Deploy, run " in text
    facts = posted["facts"]
    assert (facts["failed_step"], facts["revision_before"], facts["image"], facts["outcome"]) == \
        ("Deploy the service", 1, "app:1", "failed")
    assert isinstance(facts["duration"], int) and facts["started"].endswith("+00:00")
    assert [t["text"] for t in bot.messages] == [text] and bot.messages[0]["chat_id"] == "-100777"
    assert (HOOK_PATH, {"text": text}) in receiver.posts
    assert TOKEN not in done.everything() and "hookkey123" not in done.everything()


def test_deploy_yml_announces_a_good_deploy_and_check_mode_only_says_it_would(project: Project, receiver: Receiver,
                                                                               bot: BotAPI) -> None:
    _deploy_inventory(project, receiver, bot)
    done = project.run(PLAYBOOKS / "deploy.yml", "-e", "image=app:2", "-e", '{"service": "api"}')
    assert done.rc == 0, done.stdout[-3000:]
    assert done.results("Announce the failure")[0]["status"] == "skipped"
    texts = {path: data["text"] for path, data in receiver.posts}
    assert texts["/incidents"].startswith(
        "[RESOLVED] api in testenv (t1): revision 1 -> 2, image app:2; outcome deployed after "), texts
    assert len(receiver.posts) == 2 and len(bot.messages) == 1
    check = project.run(PLAYBOOKS / "deploy.yml", "-e", "image=app:2", "--check")
    [would] = check.results("Announce the deploy")
    assert would["status"] == "skipped" and would["msg"].startswith(
        "check mode: would send to slack, telegram, webhook: [RESOLVED] api in testenv (t1): revision 1 -> 1"), would
    assert len(receiver.posts) == 2 and len(bot.messages) == 1  # nothing more sent


def test_rollback_yml_announces_its_failure(project: Project, receiver: Receiver, bot: BotAPI) -> None:
    _deploy_inventory(project, receiver, bot)
    done = project.run(PLAYBOOKS / "rollback.yml")  # one revision only: nothing to go back to
    assert done.rc == 2
    [(_, posted)] = [p for p in receiver.posts if p[0] == "/incidents"]
    assert posted["text"].startswith("[FAILED] api in testenv (t1): step 'Roll the service back' failed: "), posted
    assert posted["facts"]["revision_before"] == 1


def test_without_notify_deploy_yml_sends_nothing(project: Project, receiver: Receiver) -> None:
    project.inventory()
    done = project.run(PLAYBOOKS / "deploy.yml", "-e", "image=app:2")
    assert done.rc == 0 and receiver.posts == []
    assert {e["status"] for e in done.events
            if e["event"] == "task_result" and e["task"].startswith("Announce")} == {"skipped"}


def test_a_rescue_sees_the_failed_step_and_its_message_masked_and_the_run_still_fails(project: Project) -> None:
    project.inventory(fake={"fail_on": ["restart"]}, env=f"api_key={SECRET}\n")
    project.write("pb.yml", """\
        - name: Rescue
          hosts: all
          tasks:
            - {name: Before, debug: {msg: "[{{ failed_step }}][{{ failed_msg }}]"}}
            - block:
                - {name: "Restart {{ 'api' }}", restart: {service: api}}
              rescue:
                - name: What failed
                  debug: {msg: "{{ failed_step }} | {{ failed_msg }} | {{ run_started }}"}
                - {name: Fail again, fail: {msg: "{{ failed_msg }} ({{ api_key }})"}}
        """)
    done = project.run(project.root / "pb.yml")
    assert done.rc == 2
    assert done.results("Before")[0]["msg"] == "[][]"  # nothing failed yet
    [seen] = done.results("What failed")
    step, message, started = seen["msg"].split(" | ")
    assert (step, message) == ("Restart api", "restart failed on t1 (fake fail_on)")
    assert started[:2] == "20" and started.endswith("+00:00")
    assert done.results("Restart api")[0]["status"] == "rescued"
    end = [e for e in done.events if e["event"] == "run_end"][0]
    assert end["outcome"] == "failed" and end["stats"]["t1"]["rescued"] == 1
    assert SECRET not in done.everything()
    assert json.loads(done.stdout.splitlines()[-1])["event"] == "run_end"
