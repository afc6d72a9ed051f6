"""The runbook's communication templates, and the three places an announcement goes.

A message is made from *facts* (environment, service, revisions, who, duration,
outcome, the failed step...) with plain Python formatting, never with Jinja:
facts come from targets and from the run and are data, so a revision note or
an error message holding `{{ ... }}` is printed as written. Channels:
Slack incoming webhooks (`{"text": ...}`), Telegram `sendMessage`, and a
generic JSON webhook (status pages) that gets the text, the template name and
the facts. A Slack or webhook URL is itself a credential: it is masked in
every error, like the bot token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ajudaplay.errors import TargetError
from ajudaplay.integrations.web import WebError, mask, request, shown_url

__all__ = ["CHANNELS", "FACT_NAMES", "TEMPLATES", "NotifyError", "Sent", "compose", "human_duration", "send", "url_secrets"]

CHANNELS = ("slack", "telegram", "webhook")
TELEGRAM_MAX = 4096  # sendMessage refuses longer texts ("message is too long"): a long failure message is cut
TEMPLATES = ("investigating", "resolved", "failed")
# every fact a template may use (docs/actions-messaging.md lists them); missing ones read as "?"
FACT_NAMES = (
    "environment", "target", "service", "revision_before", "revision_after", "image", "who", "run_id",
    "started", "time", "duration", "outcome", "playbook", "failed_step", "failed_msg", "undone",
)


class NotifyError(TargetError):
    """A notification that did not get through; its text holds no token and no webhook URL."""


@dataclass(frozen=True)
class Sent:
    """What a channel answered: HTTP status and seconds, plus Telegram's message id when there is one."""

    channel: str
    status: int
    seconds: float
    message_id: int | None = None


def human_duration(seconds: Any) -> str:
    """`252` -> "4m 12s"; anything that is not a number is shown as it is."""
    try:
        total = int(round(float(seconds)))
    except (TypeError, ValueError):
        return str(seconds)
    hours, rest = divmod(max(total, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _fact(facts: Mapping[str, Any], name: str) -> str:
    value = facts.get(name)
    if value is None or value == "":
        return "?"
    return human_duration(value) if name == "duration" else str(value)


def compose(template: str | None, facts: Mapping[str, Any], message: str = "") -> str:
    """The announcement text: the template filled from `facts`, with `message` as its free text.

    No template: the message alone (or a line naming the service). Only
    str.format-free concatenation is used, so a fact's braces stay braces.
    """
    f = {name: _fact(facts, name) for name in FACT_NAMES}
    where = f"{f['service']} in {f['environment']}" + (f" ({f['target']})" if facts.get("target") else "")
    if template == "investigating":
        text = (f"[INVESTIGATING] {where}: {message or 'we are investigating an incident'}. "
                f"Started by {f['who']} at {f['time']}.")
        return text + (f" Run {f['run_id']}." if facts.get("run_id") else "")
    if template == "resolved":
        moved = f"revision {f['revision_before']} -> {f['revision_after']}"
        image = f", image {f['image']}" if facts.get("image") else ""
        text = f"[RESOLVED] {where}: {moved}{image}; outcome {f['outcome']} after {f['duration']}, by {f['who']}."
        return text + (f" {message}" if message else "")
    if template == "failed":
        step = f"step '{f['failed_step']}' failed" if facts.get("failed_step") else "the procedure failed"
        detail = f": {f['failed_msg']}" if facts.get("failed_msg") else ""
        undone = f" Undone: {f['undone']}." if facts.get("undone") else " Nothing was undone automatically."
        text = (f"[FAILED] {where}: {step}{detail}.{undone} "
                f"Playbook {f['playbook']}, run {f['run_id']} by {f['who']}, after {f['duration']}.")
        return text + (f" {message}" if message else "")
    if template is not None:
        raise NotifyError(f"announce: unknown template {template!r} (one of {', '.join(TEMPLATES)})")
    return message or f"{where}: {f['outcome']}"


def send(
    channel: str,
    text: str,
    *,
    url: str | None = None,
    token: str | None = None,
    chat_id: str | int | None = None,
    api_url: str | None = None,
    payload: Mapping[str, Any] | None = None,
    blocks: list[Any] | None = None,
    timeout: float = 10.0,
) -> Sent:
    """Deliver `text` on `channel` (Slack: with Block Kit `blocks` when given); NotifyError (masked) when it
    does not get through."""
    if channel == "telegram":
        return _telegram(text, token, chat_id, api_url, timeout)
    if channel not in ("slack", "webhook"):
        raise NotifyError(f"announce: unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
    if not url:
        raise NotifyError(f"announce: no {channel} URL (give `url`, or set the variable notify.{channel})")
    body: dict[str, Any] = {"text": text} if channel == "slack" else {"text": text, **(payload or {})}
    if channel == "slack" and blocks:
        body["blocks"] = list(blocks)  # Block Kit layout; `text` stays the notification's fallback
    secrets = url_secrets(url)
    where = f"{channel} {_origin(url)}"
    try:
        reply = request(url, "POST", json_body=body, timeout=timeout, secrets=secrets)
    except WebError as exc:
        said, prefix = str(exc), shown_url(url, secrets) + ": "
        reason = said[len(prefix):] if said.startswith(prefix) else said
        raise NotifyError(f"{where}: {mask(reason, secrets)}") from None
    if not 200 <= reply.status < 300:
        answer = mask(reply.text(200), secrets).strip()
        raise NotifyError(f"{where} answered HTTP {reply.status}" + (f": {answer}" if answer else ""))
    return Sent(channel, reply.status, round(reply.seconds, 3))


def url_secrets(url: str) -> list[str]:
    """What of a webhook URL is a credential: all of it, and its path and query on their own
    (Slack's /services/T.../B.../XXXX is the key); the scheme and host may be shown."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return [url, *([rest] if len(rest.strip("/")) >= 3 else [])]


def _origin(url: str) -> str:
    """scheme://host[:port]/… : where a webhook is, without its secret part."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "?") + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{host}/…"


def _telegram(text: str, token: str | None, chat_id: str | int | None, api_url: str | None, timeout: float) -> Sent:
    import time

    from ajudaplay.integrations.telegram import DEFAULT_API_URL, Bot

    if not token:
        raise NotifyError("telegram: no bot token (give `token`, or set the variable telegram.token)")
    if chat_id in (None, ""):
        raise NotifyError("telegram: no chat_id (give `chat_id`, or set the variable notify.telegram.chat_id)")
    started = time.monotonic()
    try:
        bot = Bot(token, api_url or DEFAULT_API_URL, timeout)
        answer = bot.send_message(chat_id, text if len(text) <= TELEGRAM_MAX else text[:TELEGRAM_MAX - 1] + "…")
    except TargetError as exc:
        raise NotifyError(mask(str(exc), [token])) from None
    message_id = answer.get("message_id")
    return Sent("telegram", 200, round(time.monotonic() - started, 3), message_id if isinstance(message_id, int) else None)
