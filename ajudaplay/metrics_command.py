"""`ajudaplay metrics [-i ENV] [--journal PATH] [--failure-window 1h] [--serve ADDRESS]`.

Delivery metrics from the journal (ajudaplay/journal/metrics.py) in the
Prometheus text format: printed once, or served at http://ADDRESS/metrics and
computed afresh on every scrape (the journal is opened read-only each time, so
runs journaled meanwhile show up at the next scrape). Nothing here touches a
target or the inventory: `-i ENV` only filters runs by their inventory name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ajudaplay.exitcodes import ExitCode

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

__all__ = ["add_parser", "environment_name", "parse_address", "parse_window", "run", "text"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The `metrics` subcommand on cli.py's subparsers."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "metrics", help="delivery metrics from the journal (Prometheus text format), printed or served")
    parser.add_argument("-i", "--inventory", metavar="ENV",
                        help="only runs of this environment (its inventory name; a path to the file means its name)")
    parser.add_argument("--journal", type=Path, metavar="PATH",
                        help="journal file (default $AJUDAPLAY_JOURNAL or ~/.local/state/ajudaplay/journal.sqlite)")
    parser.add_argument("--failure-window", default="1h", metavar="DURATION",
                        help="a deploy followed by a rollback within this time is a failed change (default 1h)")
    parser.add_argument("--serve", metavar="ADDRESS",
                        help="serve http://ADDRESS/metrics (HOST:PORT, :PORT for every IPv4 interface) until Ctrl-C or SIGTERM")
    return parser


def _invalid(message: str, hint: str) -> Exception:
    from ajudaplay.errors import Diagnostic, InvalidInput

    return InvalidInput([Diagnostic(None, message, hint)])


def parse_window(value: str) -> float:
    """A Go duration (30m, 1h, 1h30m, 90s) -> seconds; InvalidInput otherwise."""
    from ajudaplay.actions.durations import duration

    seconds = duration(str(value))
    if seconds is None:
        raise _invalid(f"--failure-window: {value!r} is not a duration", "write it like 30m, 1h, 1h30m or 90s")
    if seconds <= 0:
        raise _invalid(f"--failure-window: {value!r} must be longer than 0s", "for example --failure-window 1h")
    return seconds


def parse_address(value: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT or :PORT (every interface) -> (host, port); InvalidInput otherwise."""
    hint = "give HOST:PORT, e.g. --serve 127.0.0.1:9464, or :9464 for every IPv4 interface"
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit():
        raise _invalid(f"--serve: {value!r} is not an address with a port", hint)
    port = int(port_text)
    if port > 65535:
        raise _invalid(f"--serve: port {port} is out of range (0-65535)", hint)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "" and text.startswith(":"):
        host = "0.0.0.0"
    if not host or any(c in host for c in " /[]"):
        raise _invalid(f"--serve: {value!r} has no valid host", hint)
    return host, port


def text(journal: Path, environment: str | None, window: float) -> str:
    """The exposition text, computed now from the journal."""
    from ajudaplay.journal.metrics import compute, read_moves, render

    return render(compute(read_moves(journal, environment), window))


def environment_name(value: str | None) -> str | None:
    """`-i prod` -> prod; `-i inventory/prod.yml` -> prod too: runs are journaled with the file's stem."""
    if not value:
        return None
    return Path(value).stem if "/" in value or value.endswith((".yml", ".yaml")) else value


def _journal_path(args: argparse.Namespace) -> Path:
    from ajudaplay.journal import default_path

    explicit = getattr(args, "journal", None)
    return Path(explicit).expanduser() if explicit else default_path()


def run(args: argparse.Namespace) -> int:
    """The command body; InvalidInput / JournalError are reported by cli.main as for `history`."""
    window = parse_window(getattr(args, "failure_window", "1h") or "1h")
    journal = _journal_path(args)
    environment = environment_name(getattr(args, "inventory", None))
    address = getattr(args, "serve", None)
    if address is None:
        sys.stdout.write(text(journal, environment, window))
        return int(ExitCode.OK)
    host, port = parse_address(address)
    text(journal, environment, window)  # an unreadable journal is an error now, not at the first scrape
    server = _server(host, port, lambda: text(journal, environment, window))
    bound = server.server_address
    bound_host = str(bound[0]) if isinstance(bound, tuple) else host
    bound_port = int(bound[1]) if isinstance(bound, tuple) else port
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(f"ajudaplay: serving delivery metrics of {journal} at http://{shown}:{bound_port}/metrics "
          "(Ctrl-C stops)", file=sys.stderr, flush=True)
    restore = _stop_on_sigterm()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("ajudaplay: metrics server stopped", file=sys.stderr)
    finally:
        restore()
        server.server_close()
    return int(ExitCode.OK)


def _stop_on_sigterm() -> Callable[[], None]:
    """SIGTERM (a service manager's stop) ends the server like Ctrl-C; returns the restorer."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def _server(host: str, port: int, body: Callable[[], str]) -> ThreadingHTTPServer:
    """An HTTP server answering GET /metrics with `body()`; a bind failure is InvalidInput naming the address."""
    import socket
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ajudaplay.errors import AjudaplayError

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, "not found: the metrics are at /metrics\n")
                return
            try:
                self._answer(200, body(), CONTENT_TYPE)
            except AjudaplayError as exc:
                self._answer(500, f"ajudaplay: {exc}\n")

        def _answer(self, code: int, payload: str, content_type: str = "text/plain; charset=utf-8") -> None:
            data = payload.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            return  # a scrape every few seconds is not worth a line

    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

    try:
        return Server((host, port), Handler)
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise _invalid(f"--serve: cannot listen on {host}:{port}: {reason}",
                       "pick a free port and an address of this machine (127.0.0.1 for loopback only)") from None


def main(argv: list[str] | None = None) -> int:
    """`python -m ajudaplay.metrics_command ...`: the same command without cli.py (tests, until it is wired)."""
    from ajudaplay.errors import InvalidInput, JournalError

    parser = argparse.ArgumentParser(prog="ajudaplay")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["metrics", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run(args)
    except InvalidInput as exc:
        for diagnostic in exc.diagnostics:
            print(f"ajudaplay: {diagnostic}", file=sys.stderr)
        return int(ExitCode.INVALID_INPUT)
    except JournalError as exc:
        print(f"ajudaplay: journal error: {exc}", file=sys.stderr)
        return int(ExitCode.JOURNAL_ERROR)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
