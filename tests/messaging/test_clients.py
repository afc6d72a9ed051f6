"""The Bot API client and the announcement senders against local stand-ins (tests/infra/telegram/server.py):
api.telegram.org and Slack cannot be reached from here. Every error text is searched for the token."""

from __future__ import annotations

import time

import pytest

from ajudaplay.integrations import notify
from ajudaplay.integrations.telegram import Bot, TelegramError, webhook_summary
from tests.infra.telegram.server import BotAPI, Receiver
from tests.messaging.conftest import SECRET, TOKEN


def test_get_me_and_the_webhook_round_trip(bot: BotAPI) -> None:
    client = Bot(TOKEN, bot.url, timeout=5)
    assert client.get_me()["username"] == "ajudadorabot"
    assert client.get_webhook_info()["url"] == ""
    assert client.set_webhook("https://bot.example/hook", SECRET, drop_pending_updates=True) is True
    assert bot.secret_token == SECRET and bot.calls[-1] == (
        "setWebhook", {"url": "https://bot.example/hook", "drop_pending_updates": True, "secret_token": SECRET})
    assert client.get_webhook_info()["url"] == "https://bot.example/hook"
    assert client.delete_webhook() is True and client.get_webhook_info()["url"] == ""
    sent = client.send_message(-100123, "hello")
    assert sent["message_id"] == 1 and bot.messages[0]["chat_id"] == -100123


def test_webhook_info_has_the_last_error_as_iso_time_and_age() -> None:
    now = 1_760_000_000
    info = webhook_summary({"url": "https://x", "pending_update_count": 7, "last_error_date": now - 120,
                            "last_error_message": "Connection refused"}, now=now)
    assert info["last_error_date"] == "2025-10-09T08:51:20+00:00" and info["last_error_age"] == 120
    assert (info["pending_update_count"], info["last_error_message"]) == (7, "Connection refused")
    clean = webhook_summary({"url": ""}, now=now)
    assert clean["last_error_date"] is None and clean["last_error_age"] is None and clean["pending_update_count"] == 0


@pytest.mark.parametrize("case", ["unauthorized", "wrong token", "bad request", "refused", "hang", "not the api"])
def test_errors_are_clear_and_never_hold_the_token_or_the_secret(bot: BotAPI, case: str) -> None:
    token, url, method = TOKEN, bot.url, "getMe"
    if case == "unauthorized":
        bot.unauthorized = True
    elif case == "wrong token":
        token = TOKEN.replace("AAH", "BBH")
    elif case == "refused":
        url = "http://127.0.0.1:9"
    elif case == "hang":
        bot.hang = True
    elif case == "not the api":
        url = bot.url + "/nothing-here/x"
    client = Bot(token, url, timeout=0.5, secrets=[SECRET])
    started = time.monotonic()
    with pytest.raises(TelegramError) as caught:
        if case == "bad request":
            method = "setWebhook"
            client.set_webhook("http://plain.example/hook", SECRET)  # the API wants https
        else:
            client.get_me()
    text = str(caught.value)
    assert token not in text and SECRET not in text and "AAH-test" not in text and "BBH-test" not in text, text
    assert text.startswith(f"Telegram {method}: "), text
    expected = {
        "unauthorized": "401 Unauthorized (the bot token is wrong or was revoked",
        "wrong token": "401 Unauthorized",
        "bad request": "400 Bad Request: bad webhook: HTTPS url must be provided",
        "refused": "/bot********/getMe: ",
        "hang": "timed out",
        "not the api": "404 Not Found",
    }[case]
    assert expected in text, text
    assert (caught.value.timed_out, caught.value.__cause__) == (case == "hang", None)
    assert time.monotonic() - started < 5


def test_a_malformed_token_is_refused_before_any_request() -> None:
    with pytest.raises(TelegramError, match="empty or malformed"):
        Bot("12345:abc/def", "http://127.0.0.1:9")


def test_templates_fill_the_facts_and_never_evaluate_them() -> None:
    facts = {"environment": "prod", "target": "cluster", "service": "api", "who": "alice", "run_id": "r1",
             "revision_before": 3, "revision_after": 4, "image": "app:{{ 7 * 7 }}", "outcome": "deployed",
             "duration": 72, "failed_step": "Deploy the service", "failed_msg": "never got healthy {% raise %}",
             "undone": "rolled back to revision 3", "playbook": "Deploy", "time": "2026-12-02T10:00:00+00:00"}
    assert notify.compose("resolved", facts) == (
        "[RESOLVED] api in prod (cluster): revision 3 -> 4, image app:{{ 7 * 7 }}; outcome deployed after 1m 12s, by alice.")
    failed = notify.compose("failed", facts, "Paging the on-call.")
    assert failed == ("[FAILED] api in prod (cluster): step 'Deploy the service' failed: never got healthy {% raise %}. "
                      "Undone: rolled back to revision 3. Playbook Deploy, run r1 by alice, after 1m 12s. Paging the on-call.")
    assert notify.compose("investigating", facts, "5xx at 12%") == (
        "[INVESTIGATING] api in prod (cluster): 5xx at 12%. Started by alice at 2026-12-02T10:00:00+00:00. Run r1.")
    assert notify.compose("resolved", {"service": "api"}).startswith("[RESOLVED] api in ?: revision ? -> ?")
    assert notify.compose(None, {}, "just this") == "just this"
    with pytest.raises(notify.NotifyError, match="unknown template 'other'"):
        notify.compose("other", facts)


def test_slack_and_webhook_get_their_shapes(receiver: Receiver) -> None:
    sent = notify.send("slack", "hi", url=receiver.url + "/services/T0/B0/XXXX", timeout=5)
    assert (sent.channel, sent.status) == ("slack", 200)
    notify.send("webhook", "hi", url=receiver.url + "/incidents", payload={"template": "failed", "facts": {"a": 1}})
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    notify.send("slack", "hi", url=receiver.url + "/s", blocks=blocks)
    assert receiver.posts == [("/services/T0/B0/XXXX", {"text": "hi"}),
                              ("/incidents", {"text": "hi", "template": "failed", "facts": {"a": 1}}),
                              ("/s", {"text": "hi", "blocks": blocks})]
    assert receiver.posts[:2] == [("/services/T0/B0/XXXX", {"text": "hi"}),
                              ("/incidents", {"text": "hi", "template": "failed", "facts": {"a": 1}})]


@pytest.mark.parametrize("how", ["500", "refused", "hang", "no url"])
def test_a_failed_delivery_names_the_host_never_the_webhook_path(how: str) -> None:
    secret_path = "/services/T0SECRET/B0SECRET/hookkey123"
    with Receiver(status=500) as down, BotAPI(TOKEN) as hung:
        hung.hang = True
        url = {"500": down.url, "refused": "http://127.0.0.1:9", "hang": hung.url, "no url": ""}[how]
        with pytest.raises(notify.NotifyError) as caught:
            notify.send("slack", "hi", url=(url + secret_path) if url else None, timeout=0.5)
    text = str(caught.value)
    assert "hookkey123" not in text and "T0SECRET" not in text, text
    expected = {"500": "answered HTTP 500: no_service", "refused": "Connection refused", "hang": "timed out",
                "no url": "no slack URL"}[how]
    assert expected in text and (how == "no url" or "slack http://127.0.0.1:" in text), text


def test_telegram_channel_needs_a_token_and_a_chat(bot: BotAPI) -> None:
    sent = notify.send("telegram", "hi", token=TOKEN, chat_id="-100", api_url=bot.url)
    assert sent.message_id == 1 and bot.messages[0]["text"] == "hi"
    notify.send("telegram", "x" * 5000, token=TOKEN, chat_id="-100", api_url=bot.url)  # over sendMessage's limit
    assert len(bot.messages[1]["text"]) == 4096 and bot.messages[1]["text"].endswith("x…")
    with pytest.raises(notify.NotifyError, match="no chat_id"):
        notify.send("telegram", "hi", token=TOKEN, api_url=bot.url)
    bot.unauthorized = True
    with pytest.raises(notify.NotifyError) as caught:
        notify.send("telegram", "hi", token=TOKEN, chat_id="-100", api_url=bot.url)
    assert "401 Unauthorized" in str(caught.value) and TOKEN not in str(caught.value)
