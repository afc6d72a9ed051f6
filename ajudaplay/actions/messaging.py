"""The messaging actions: `telegram` (the Bot API checks and the webhook reset) and `announce` (notifications).

`announce` is the issue's "notify" action under another name: `notify:` is the
task keyword that notifies handlers (as in Ansible), and an action of the same
name would take every `notify: handler` line for itself.

Both run on the controller. What they are not given comes from the variables
`telegram` ({token, api_url, webhook_url, secret_token}) and `notify`
({slack, webhook, telegram: {chat_id}}), so a playbook says `announce:
{template: resolved}` and the inventory says where it goes. Every token,
secret and webhook URL is handed to `ctx.add_secret` before anything can
print it. A notification that does not get through is a warning on an ok
step: announcing must never be the reason a procedure fails.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping

from ajudaplay.actions.base import ActionSpec, Registry
from ajudaplay.actions.service import _bool  # the service actions' argument rules
from ajudaplay.errors import TargetError
from ajudaplay.results import Change, Result

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext

__all__ = ["register"]

READ_METHODS = ("get_me", "get_webhook_info")
WRITE_METHODS = ("set_webhook", "delete_webhook")


def register(registry: Registry) -> None:
    """Add the messaging actions to `registry`."""
    registry.register(ActionSpec("telegram", run_telegram, controller=True,
                                 description="Call the Telegram Bot API: getMe, getWebhookInfo, setWebhook, deleteWebhook."))
    registry.register(ActionSpec("announce", run_announce, controller=True,
                                 description="Announce on Slack, Telegram or a JSON webhook; a failure only warns."))


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _variable(ctx: ActionContext, name: str) -> dict[str, Any]:
    """The variable `telegram` or `notify` as a mapping ({} when not defined)."""
    return _mapping(ctx.vars.get(name))


def _secret(ctx: ActionContext, value: Any) -> str:
    """`value` as text, masked from now on (empty stays empty)."""
    text = "" if value is None else str(value)
    if text:
        ctx.add_secret(text)
    return text


def _timeout(value: Any, default: float = 10.0) -> float:
    try:
        seconds = float(value) if value not in (None, "") else default
    except (TypeError, ValueError) as exc:
        raise TargetError(f"timeout must be a number of seconds, got {value!r}") from exc
    if seconds <= 0:
        raise TargetError(f"timeout must be more than 0 seconds, got {value!r}")
    return seconds


# telegram ------------------------------------------------------------------------------
def run_telegram(ctx: ActionContext, args: Any) -> Result:
    """`telegram: {method}`: reads run in check mode too; set/delete webhook say what they would do."""
    from ajudaplay.integrations.telegram import DEFAULT_API_URL, Bot

    a = dict(args or {})
    conf = _variable(ctx, "telegram")
    token = _secret(ctx, a.get("token") or conf.get("token"))
    secret_token = _secret(ctx, a.get("secret_token") or conf.get("secret_token"))
    method = str(a.get("method") or "get_me")
    if not token:
        raise TargetError("telegram: no bot token (give `token`, or set the variable telegram.token from a secret)")
    api_url = str(a.get("api_url") or conf.get("api_url") or DEFAULT_API_URL)
    bot = Bot(token, api_url, _timeout(a.get("timeout")), [secret_token] if secret_token else [])
    if method == "get_me":
        me = bot.get_me()
        name = me.get("username") or me.get("first_name") or me.get("id")
        return Result(msg=f"bot @{name} answers (id {me.get('id')})",
                      data={"method": method, "bot": me, "username": me.get("username"), "id": me.get("id")})
    if method == "get_webhook_info":
        info = bot.get_webhook_info()
        return Result(msg=_webhook_line(info), data={"method": method, "webhook": info, **info})
    if method == "set_webhook":
        return _set_webhook(ctx, bot, a, conf, secret_token)
    if method == "delete_webhook":
        drop = _bool("telegram", a, "drop_pending_updates", False)
        if ctx.step.check:
            return _would(bot, "delete the webhook" + (" and drop pending updates" if drop else ""), None)
        bot.delete_webhook(drop)
        return Result(changed=True, msg="webhook deleted" + (", pending updates dropped" if drop else ""),
                      data={"method": method, "ok": True, "drop_pending_updates": drop})
    raise TargetError(f"telegram: unknown method {method!r} (one of {', '.join(READ_METHODS + WRITE_METHODS)})")


def _webhook_line(info: Mapping[str, Any]) -> str:
    line = f"webhook {info.get('url') or '(none)'}, {info.get('pending_update_count', 0)} pending update(s)"
    if info.get("last_error_date"):
        line += f", last error {info['last_error_date']}: {info.get('last_error_message') or '?'}"
    return line


def _set_webhook(ctx: ActionContext, bot: Any, a: Mapping[str, Any], conf: Mapping[str, Any], secret_token: str) -> Result:
    url = str(a.get("url") or conf.get("webhook_url") or "")
    if not url.startswith("https://") and not url.startswith("http://"):
        raise TargetError("telegram set_webhook: give `url` (https://...), or set the variable telegram.webhook_url")
    drop = _bool("telegram", dict(a), "drop_pending_updates", False)
    what = f"set the webhook to {url}" + (" with a secret token" if secret_token else "") + \
        (", dropping pending updates" if drop else "")
    if ctx.step.check:
        return _would(bot, what, url)
    before = _current_url(bot)
    bot.set_webhook(url, secret_token or None, drop)
    return Result(changed=True, msg=what.replace("set the webhook", "webhook set", 1),
                  changes=[Change("telegram webhook", before or None, url)],
                  data={"method": "set_webhook", "ok": True, "url": url, "before": before,
                        "secret_token_set": bool(secret_token), "drop_pending_updates": drop})


def _current_url(bot: Any) -> str | None:
    """The webhook URL set now, or None when it cannot be read (the change is then shown from '?')."""
    try:
        return str(bot.get_webhook_info().get("url") or "")
    except TargetError:
        return None


def _would(bot: Any, what: str, url: str | None) -> Result:
    before = _current_url(bot)
    return Result(skipped=True, msg=f"check mode: would {what} (now: {before or '(none)' if before is not None else '?'})",
                  changes=[Change("telegram webhook", before or None, url)],
                  data={"would": what, "before": before})


# announce ---------------------------------------------------------------------------------
def run_announce(ctx: ActionContext, args: Any) -> Result:
    """`announce`: the template (or message) from the facts, to each channel; failures warn."""
    from ajudaplay.integrations.notify import CHANNELS, NotifyError, compose, send, url_secrets

    a = dict(args or {})
    conf = _variable(ctx, "notify")
    tconf = _variable(ctx, "telegram")
    given = a.get("channel")
    channels = list(dict.fromkeys(str(c) for c in (given if isinstance(given, list) else [given]))) if given else \
        [c for c in CHANNELS if conf.get(c)]  # a channel named twice is sent to once
    token = _secret(ctx, a.get("token") or tconf.get("token"))
    url = str(a.get("url") or "")
    for value in (url, conf.get("slack"), conf.get("webhook")):
        if isinstance(value, str) and value:
            for part in url_secrets(value):  # a Slack webhook URL is a credential itself
                ctx.add_secret(part)
    facts = _facts(ctx, a)
    template = a.get("template")
    warnings: list[str] = []
    try:
        text = compose(str(template) if template else None, facts, str(a.get("message") or ""))
    except NotifyError as exc:  # a template name a variable gave: the message alone still goes out
        warnings.append(str(exc))
        text = compose(None, facts, str(a.get("message") or ""))
    data: dict[str, Any] = {"text": text, "facts": facts, "channels": {}, "sent": []}
    if not channels:
        return Result(msg="no channel to notify (set the variable notify, or give `channel`)",
                      warnings=[*warnings, "announce: nothing configured: the variable notify names no slack, telegram or webhook"],
                      data=data)
    if ctx.step.check:
        return Result(skipped=True, show=True, msg=f"check mode: would send to {', '.join(channels)}: {text}",
                      warnings=warnings, data=data)
    timeout = _timeout(a.get("timeout"))
    for channel in channels:
        chat = a.get("chat_id") or _mapping(conf.get("telegram")).get("chat_id") or tconf.get("chat_id")
        try:
            sent = send(channel, text, url=url or _channel_url(conf, channel), token=token, chat_id=chat,
                        api_url=tconf.get("api_url"), timeout=timeout,
                        blocks=a.get("blocks") if isinstance(a.get("blocks"), list) else None,
                        payload={"template": template, "facts": facts})
        except NotifyError as exc:
            warnings.append(f"notification not sent: {exc}")
            data["channels"][channel] = {"sent": False, "error": str(exc)}
            continue
        data["channels"][channel] = {"sent": True, "status": sent.status, "seconds": sent.seconds,
                                     "message_id": sent.message_id}
        data["sent"].append(channel)
    done = ", ".join(data["sent"]) or "nowhere"
    return Result(show=True, msg=f"sent to {done}: {text}", warnings=warnings, data=data)


def _channel_url(conf: Mapping[str, Any], channel: str) -> str | None:
    value = conf.get(channel)
    return str(value) if isinstance(value, str) and value else None


def _facts(ctx: ActionContext, a: Mapping[str, Any]) -> dict[str, Any]:
    """The run's facts (environment, who, run, start, duration, the failed step) under the step's own `facts`."""
    from datetime import datetime, timezone

    v = ctx.vars
    now = time.time()
    facts: dict[str, Any] = {
        "environment": v.get("inventory_name") or "",
        "target": v.get("target_name") or "",
        "service": v.get("service") or "",
        "who": v.get("ajudaplay_user") or ctx.step.user,
        "run_id": v.get("run_id") or ctx.step.run_id,
        "playbook": v.get("play_name") or "",
        "time": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
    }
    started = v.get("run_started")
    if started:
        facts["started"] = str(started)
        try:
            facts["duration"] = max(0, round(now - datetime.fromisoformat(str(started)).timestamp()))
        except ValueError:
            pass
    for name in ("failed_step", "failed_msg"):
        if v.get(name):
            facts[name] = v[name]
    given = a.get("facts")
    if isinstance(given, Mapping):
        facts.update({str(k): val for k, val in given.items()})
    return facts
