"""Stand-ins for the Telegram Bot API and for Slack/status-page webhooks, on 127.0.0.1.

api.telegram.org and hooks.slack.com cannot be reached from the tests (and a
real bot token must not be used in them), so `BotAPI` implements the five Bot
API methods ajudaplay calls (getMe, getWebhookInfo, setWebhook, deleteWebhook,
sendMessage) with Telegram's answer shapes (`{"ok": true, "result": ...}`,
`{"ok": false, "error_code": 401, "description": "Unauthorized"}`), and
`Receiver` records what webhooks get. Switches: `unauthorized` (every call
answers 401), `hang` (calls are never answered until `release()`), and for the
receiver `status` (the HTTP status it answers). One ThreadingHTTPServer on a
free port each, in a daemon thread.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server:
    """A ThreadingHTTPServer on a free loopback port; `handle(method, path, headers, body) -> (status, body)`."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer = owner.handle(self.command, self.path, dict(self.headers), body)
                if status == 0:  # hung: the client gave up; answer nothing
                    return
                data = json.dumps(answer).encode() if not isinstance(answer, bytes) else answer
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            do_GET = do_POST = _any

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="test-http")

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()

    def release(self) -> None:
        """Let hung requests go (overridden where there is something to release)."""


class BotAPI(_Server):
    """`with BotAPI(token) as api:` api.url is the `api_url`; api.calls lists (method, params)."""

    def __init__(self, token: str, username: str = "ajudadorabot") -> None:
        super().__init__()
        self.token = token
        self.username = username
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: list[dict[str, Any]] = []
        self.unauthorized = False
        self.hang = False
        self._released = threading.Event()
        self.webhook: dict[str, Any] = {"url": "", "has_custom_certificate": False, "pending_update_count": 0,
                                        "max_connections": 40, "ip_address": "127.0.0.1"}
        self.secret_token: str | None = None

    def release(self) -> None:
        self._released.set()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if self.hang:
            self._released.wait(30)
            return 0, b""
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", path.split("?")[0])
        if not match:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, name = match.groups()
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        self.calls.append((name, params))
        if self.unauthorized or token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if name == "getMe":
            return 200, {"ok": True, "result": {"id": 4242, "is_bot": True, "first_name": "Ajudadora",
                                                "username": self.username, "can_join_groups": True}}
        if name == "getWebhookInfo":
            return 200, {"ok": True, "result": {k: v for k, v in self.webhook.items() if v is not None}}
        if name == "setWebhook":
            url = str(params.get("url") or "")
            if not url.startswith("https://"):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: bad webhook: HTTPS url must be provided for webhook"}
            self.webhook.update(url=url, last_error_date=None, last_error_message=None)
            if params.get("drop_pending_updates"):
                self.webhook["pending_update_count"] = 0
            self.secret_token = params.get("secret_token")
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if name == "deleteWebhook":
            self.webhook.update(url="")
            if params.get("drop_pending_updates"):
                self.webhook["pending_update_count"] = 0
            return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}
        if name == "sendMessage":
            if not params.get("chat_id"):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            self.messages.append(params)
            return 200, {"ok": True, "result": {"message_id": len(self.messages), "date": int(time.time()),
                                                "chat": {"id": params["chat_id"]}, "text": params.get("text")}}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    def failing_webhook(self, pending: int, error_age: float, message: str = "Wrong response from the webhook: 502 Bad Gateway") -> None:
        """A webhook Telegram cannot deliver to: updates pile up, the last error is `error_age` seconds old."""
        self.webhook.update(pending_update_count=pending, last_error_date=int(time.time() - error_age),
                            last_error_message=message)


class Receiver(_Server):
    """A Slack incoming webhook / status page: records each POST's path and JSON; answers `status`."""

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status
        self.posts: list[tuple[str, Any]] = []

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = body.decode("utf-8", "replace")
        self.posts.append((path, data))
        if self.status >= 400:
            return self.status, b"no_service"
        return self.status, b"ok"

    def texts(self) -> list[str]:
        return [str(d.get("text")) if isinstance(d, dict) else str(d) for _, d in self.posts]
