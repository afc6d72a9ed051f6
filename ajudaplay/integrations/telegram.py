"""The Telegram Bot API methods the runbook uses: getMe, getWebhookInfo, setWebhook, deleteWebhook, sendMessage.

The bot token is part of every URL (`<api_url>/bot<TOKEN>/<method>`), so every
call goes through `web.request` with the token (and the webhook secret) in
`secrets=`, and every error this module raises is masked again: nothing that
leaves it holds the token, whatever the server answered (401, 404, an HTML
page) or when it did not answer at all. The API's own failures
(`{"ok": false, "error_code": 401, "description": "Unauthorized"}`) become a
`TelegramError` that says what the code usually means.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ajudaplay.errors import TargetError
from ajudaplay.integrations.web import WebError, mask, request

__all__ = ["DEFAULT_API_URL", "Bot", "TelegramError", "webhook_summary"]

DEFAULT_API_URL = "https://api.telegram.org"

# what an error code usually means, for the operator reading the message at 3 a.m.
_HINTS = {
    401: "the bot token is wrong or was revoked; BotFather's /token shows the current one",
    404: "no such bot or method: the token is malformed or api_url is not a Bot API server",
    409: "a webhook is set while getUpdates is used (or the reverse)",
    429: "too many requests: wait and retry",
}


class TelegramError(TargetError):
    """A Bot API call that failed; the text names the method and never holds the token or the secret."""

    def __init__(self, message: str, *, error_code: int | None = None, timed_out: bool = False) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.timed_out = timed_out


@dataclass
class Bot:
    """One bot: its token, the API base URL and a timeout; `secrets` are masked as the token is."""

    token: str
    api_url: str = DEFAULT_API_URL
    timeout: float = 10.0
    secrets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.token or any(c.isspace() or c == "/" for c in self.token):
            raise TelegramError("Telegram: the bot token is empty or malformed (expected 123456:ABC...)")
        if not self.api_url.startswith(("http://", "https://")):
            raise TelegramError(f"Telegram: api_url must be an http:// or https:// URL, got {mask(self.api_url, self._masked)!r}")

    @property
    def _masked(self) -> list[str]:
        return [self.token, *self.secrets]

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """POST `params` as JSON to the method; its `result`, or TelegramError (masked)."""
        url = f"{self.api_url.rstrip('/')}/bot{self.token}/{method}"
        try:
            reply = request(url, "POST", json_body=params or {}, timeout=self.timeout, secrets=self._masked)
        except WebError as exc:
            raise TelegramError(f"Telegram {method}: {mask(str(exc), self._masked)}", timed_out=exc.timed_out) from None
        answer = reply.json()
        if not isinstance(answer, dict) or "ok" not in answer:
            body = mask(reply.text(200), self._masked).strip()
            raise TelegramError(
                f"Telegram {method}: HTTP {reply.status}, not a Bot API answer" + (f": {body}" if body else ""),
                error_code=reply.status,
            )
        if not answer.get("ok"):
            given = answer.get("error_code")
            code: int = given if isinstance(given, int) else reply.status
            description = mask(str(answer.get("description") or "no description"), self._masked)
            hint = _HINTS.get(code, "")
            raise TelegramError(f"Telegram {method}: {code} {description}" + (f" ({hint})" if hint else ""),
                                error_code=code)
        return answer.get("result")

    # the methods -----------------------------------------------------------------
    def get_me(self) -> dict[str, Any]:
        """The bot's identity (id, username, can_join_groups...): proves the token works."""
        result = self.call("getMe")
        return dict(result) if isinstance(result, dict) else {}

    def get_webhook_info(self) -> dict[str, Any]:
        """The webhook's state, with `last_error_date` as ISO time and its age in seconds added."""
        result = self.call("getWebhookInfo")
        return webhook_summary(result if isinstance(result, dict) else {})

    def set_webhook(self, url: str, secret_token: str | None = None, drop_pending_updates: bool = False) -> bool:
        """Point the bot at `url`; Telegram sends `secret_token` in X-Telegram-Bot-Api-Secret-Token."""
        params: dict[str, Any] = {"url": url, "drop_pending_updates": drop_pending_updates}
        if secret_token:
            params["secret_token"] = secret_token
        return bool(self.call("setWebhook", params))

    def delete_webhook(self, drop_pending_updates: bool = False) -> bool:
        return bool(self.call("deleteWebhook", {"drop_pending_updates": drop_pending_updates}))

    def send_message(self, chat_id: str | int, text: str, parse_mode: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"chat_id": chat_id, "text": text, "disable_web_page_preview": True}
        if parse_mode:
            params["parse_mode"] = parse_mode
        result = self.call("sendMessage", params)
        return dict(result) if isinstance(result, dict) else {}


def webhook_summary(info: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """getWebhookInfo's answer with stable keys: url, pending_update_count, last_error_date (ISO),
    last_error_age (seconds), last_error_message, max_connections, ip_address."""
    from datetime import datetime, timezone

    now = time.time() if now is None else now
    epoch = info.get("last_error_date")
    when = age = None
    if isinstance(epoch, (int, float)) and epoch > 0:
        when = datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")
        age = max(0, int(now - epoch))
    return {
        "url": str(info.get("url") or ""),
        "pending_update_count": int(info.get("pending_update_count") or 0),
        "last_error_date": when,
        "last_error_age": age,
        "last_error_message": str(info.get("last_error_message") or ""),
        "max_connections": info.get("max_connections"),
        "ip_address": info.get("ip_address"),
        "has_custom_certificate": bool(info.get("has_custom_certificate", False)),
    }
