"""The telegram and announce actions called directly (no engine): defaults from the variables, check mode,
what they mask, what a failure becomes. The Bot API and the webhooks are the local stand-ins."""

from __future__ import annotations

from typing import Any, cast

from ajudaplay.actions.base import ActionContext
from ajudaplay.actions.messaging import run_announce, run_telegram
from ajudaplay.targets.base import StepContext, Target
from tests.infra.telegram.server import BotAPI, Receiver
from tests.messaging.conftest import SECRET, TOKEN


def _ctx(variables: dict[str, Any], check: bool = False) -> tuple[ActionContext, list[str]]:
    masked: list[str] = []
    ctx = ActionContext(target=cast(Target, None), step=StepContext(run_id="r1", check=check, user="alice"),
                        vars={"inventory_name": "prod", "target_name": "cluster", "ajudaplay_user": "alice",
                              "run_id": "r1", "run_started": "2026-12-02T10:00:00+00:00", **variables},
                        render=lambda value: value, add_secret=lambda value: masked.append(str(value)))
    return ctx, masked


def test_telegram_reads_its_defaults_from_the_variable_and_masks_token_and_secret(bot: BotAPI) -> None:
    ctx, masked = _ctx({"telegram": {"token": TOKEN, "api_url": bot.url, "secret_token": SECRET,
                                     "webhook_url": "https://bot.example/hook"}})
    me = run_telegram(ctx, {"method": "get_me"})
    assert (me.data["username"], me.data["id"], me.msg) == ("ajudadorabot", 4242, "bot @ajudadorabot answers (id 4242)")
    assert TOKEN in masked and SECRET in masked
    done = run_telegram(ctx, {"method": "set_webhook"})
    assert done.changed and bot.webhook["url"] == "https://bot.example/hook" and bot.secret_token == SECRET
    assert done.data["before"] == "" and done.changes[0].summary() == "telegram webhook: - -> https://bot.example/hook"
    info = run_telegram(ctx, {"method": "get_webhook_info"})
    assert info.data["url"] == info.data["webhook"]["url"] == "https://bot.example/hook" and not info.changed


def test_telegram_writes_are_skipped_in_check_mode_and_say_what_would_change(bot: BotAPI) -> None:
    bot.webhook["url"] = "https://old.example/hook"
    ctx, _ = _ctx({"telegram": {"token": TOKEN, "api_url": bot.url}}, check=True)
    would = run_telegram(ctx, {"method": "delete_webhook", "drop_pending_updates": True})
    assert would.skipped and would.msg == ("check mode: would delete the webhook and drop pending updates "
                                           "(now: https://old.example/hook)")
    assert run_telegram(ctx, {"method": "get_me"}).data["username"] == "ajudadorabot"  # reads still run
    assert [name for name, _ in bot.calls] == ["getWebhookInfo", "getMe"]
    real, _ = _ctx({"telegram": {"token": TOKEN, "api_url": bot.url}})
    assert run_telegram(real, {"method": "delete_webhook"}).changed and bot.webhook["url"] == ""


def test_announce_goes_to_every_configured_channel_unless_one_is_named(receiver: Receiver, bot: BotAPI) -> None:
    variables = {"notify": {"slack": receiver.url + "/slack/KEY", "webhook": receiver.url + "/status",
                            "telegram": {"chat_id": "-100"}},
                 "telegram": {"token": TOKEN, "api_url": bot.url}, "service": "api"}
    ctx, masked = _ctx(variables)
    sent = run_announce(ctx, {"template": "investigating", "message": "5xx at 12%"})
    assert sent.data["sent"] == ["slack", "telegram", "webhook"] and not sent.warnings and not sent.failed
    text = "[INVESTIGATING] api in prod (cluster): 5xx at 12%. Started by alice at " + sent.data["facts"]["time"] + ". Run r1."
    assert sent.data["text"] == text and bot.messages[0]["text"] == text
    assert receiver.posts[1] == ("/status", {"text": text, "template": "investigating", "facts": sent.data["facts"]})
    assert {receiver.url + "/slack/KEY", "/slack/KEY", TOKEN} <= set(masked)
    only, _ = _ctx(variables)
    assert run_announce(only, {"channel": "slack", "message": "back to normal"}).data["sent"] == ["slack"]
    assert receiver.posts[-1] == ("/slack/KEY", {"text": "back to normal"}) and len(bot.messages) == 1


def test_announce_without_configuration_or_with_a_bad_template_still_never_fails(receiver: Receiver) -> None:
    nothing, _ = _ctx({})
    result = run_announce(nothing, {"template": "resolved"})
    assert not result.failed and result.warnings == [
        "announce: nothing configured: the variable notify names no slack, telegram or webhook"]
    ctx, _ = _ctx({"notify": {"webhook": receiver.url}})
    odd = run_announce(ctx, {"template": "celebrating", "message": "done"})
    assert not odd.failed and odd.warnings == ["announce: unknown template 'celebrating' (one of investigating, resolved, failed)"]
    assert receiver.texts() == ["done"]
    quiet, _ = _ctx({"notify": {"webhook": receiver.url}}, check=True)
    would = run_announce(quiet, {"template": "failed", "facts": {"failed_step": "Deploy", "failed_msg": "boom"}})
    assert would.skipped and would.msg.startswith("check mode: would send to webhook: [FAILED] ? in prod (cluster): "
                                                  "step 'Deploy' failed: boom.")
    assert len(receiver.posts) == 1
