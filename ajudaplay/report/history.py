"""`ajudaplay history` and `ajudaplay show RUN`: journal rows as plain tables or JSON.

Plain aligned text (no rich): it is piped into grep and less as often as read,
and must never wrap or colour differently by terminal.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TextIO

from ajudaplay.engine.prepare import LOCK_LOST_TASK
from ajudaplay.report.changes import restyle_summary
from ajudaplay.report.common import STAT_NAMES, Tally, human_duration, human_utc, iso_utc
from ajudaplay.report.recap import item_text, plain, recap_lines

if TYPE_CHECKING:
    from ajudaplay.journal.model import ResultRow, RevisionRow, RunDetail, RunRow

SHORT_ID = 12


def _counts_text(counts: dict[str, int]) -> str:
    parts = [f"{name}={counts[name]}" for name in STAT_NAMES if counts.get(name)]
    return " ".join(parts) or "-"


def _outcome(row: RunRow) -> str:
    text = row.outcome
    if row.check_mode:
        text += " (check)"
    return text


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = []
    for cells in [headers, *rows]:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])] + [cells[-1]]
        lines.append("  ".join(padded).rstrip())
    return lines


def run_json(row: RunRow) -> dict[str, Any]:
    """One run as the `--json` output documents it."""
    return {
        "run_id": row.id,
        "playbook": row.playbook,
        "inventory": row.inventory,
        "user": row.user,
        "host": row.host,
        "started_at": iso_utc(row.started_at),
        "finished_at": iso_utc(row.finished_at),
        "duration": None if row.duration is None else round(row.duration, 3),
        "outcome": row.outcome,
        "exit_code": row.exit_code,
        "check": row.check_mode,
        "counts": {name: row.counts.get(name, 0) for name in STAT_NAMES},
        "last_step": row.last_step,
    }


def _item(stored: str | None) -> Any:
    """Loop items are journaled as JSON; give back the value (or the text if it is not JSON)."""
    if stored is None:
        return None
    try:
        return json.loads(stored)
    except ValueError:
        return stored


def _result_json(row: ResultRow) -> dict[str, Any]:
    item = _item(row.item)
    return {
        "play": row.play,
        "task": row.task,
        "target": row.target,
        "status": row.status,
        "changed": row.changed,
        "duration": round(row.duration, 3),
        "started_at": iso_utc(row.started_at),
        "diff": restyle_summary(row.diff),
        "msg": row.msg,
        "item": item,
        "handler": row.handler,
        "rolled_back": row.rolled_back,
    }


def _revision_json(row: RevisionRow) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "target": row.target,
        "service": row.service,
        "before": row.before,
        "after": row.after,
        "image": row.image,
        "at": iso_utc(row.at),
    }


def _write_json(value: Any, stream: TextIO) -> None:
    stream.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def print_runs(rows: list[RunRow], stream: TextIO, as_json: bool = False) -> None:
    """The `history` table, newest first: one line per run."""
    if as_json:
        _write_json([run_json(row) for row in rows], stream)
        return
    if not rows:
        stream.write("no runs journaled yet\n")
        return
    table = [
        [
            row.id[:SHORT_ID],
            human_utc(row.started_at),
            human_duration(row.duration),
            _outcome(row),
            row.playbook,
            row.inventory,
            row.user,
            _counts_text(row.counts),
        ]
        for row in rows
    ]
    headers = ["RUN", "STARTED (UTC)", "DURATION", "OUTCOME", "PLAYBOOK", "INVENTORY", "USER", "RESULTS"]
    stream.write("\n".join(_table(headers, table)) + "\n")


def print_run(detail: RunDetail, stream: TextIO, as_json: bool = False) -> None:
    """The `show RUN` report: header, then each task with a line per target, then revisions."""
    run = detail.run
    if as_json:
        record = run_json(run)
        record.update(
            options=detail.options,
            message=detail.message,
            results=[_result_json(r) for r in detail.results],
            revisions=[_revision_json(r) for r in detail.revisions],
        )
        _write_json(record, stream)
        return
    exit_text = f" (exit {run.exit_code})" if run.exit_code is not None else ""
    header = [
        ("run", run.id),
        ("playbook", run.playbook),
        ("inventory", run.inventory),
        ("user", f"{run.user}@{run.host}"),
        ("started", f"{human_utc(run.started_at)} UTC"),
        ("finished", f"{human_utc(run.finished_at)} UTC" if run.finished_at else "-"),
        ("duration", human_duration(run.duration)),
        ("outcome", _outcome(run) + exit_text),
        ("results", _counts_text(run.counts)),
    ]
    if run.last_step and run.outcome in ("running", "abandoned", "interrupted"):
        header.append(("last step", run.last_step))  # where a run that did not finish was
    if detail.message:
        header.append(("message", detail.message))
    if detail.options:
        header.append(("options", json.dumps(detail.options, sort_keys=True, default=str)))
    lines = [f"{key + ':':<11}{value}" for key, value in header]
    lines += _result_lines(detail.results)
    lines += _recap(detail.results)
    if detail.revisions:
        lines += ["", "REVISIONS"]
        rows = [
            [
                r.target,
                r.service,
                f"{r.before or '-'} -> {r.after or '-'}",
                r.image or "-",
                f"{human_utc(r.at)} UTC",
            ]
            for r in detail.revisions
        ]
        lines += ["  " + line for line in _table(["TARGET", "SERVICE", "REVISION", "IMAGE", "AT"], rows)]
    stream.write("\n".join(lines) + "\n")


def _result_lines(results: list[ResultRow]) -> list[str]:
    lines: list[str] = []
    play: str | None = None
    task: tuple[str, bool] | None = None
    target_width = max((len(r.target) for r in results), default=0)
    for row in results:
        if row.play != play:
            play, task = row.play, None
            lines += ["", f"PLAY [{row.play}]"]
        if (row.task, row.handler) != task:
            task = (row.task, row.handler)
            lines.append(f"  {'HANDLER' if row.handler else 'TASK'} [{row.task}]")
        status = row.status + (" (rolled back)" if row.rolled_back else "")
        diff = restyle_summary(row.diff)
        detail = diff if row.status in ("ok", "changed") and diff else row.msg
        if row.status in ("failed", "unreachable") and diff:
            detail = f"{row.msg} [{diff}]" if row.msg else diff
        item = f"(item={item_text(_item(row.item))}) " if row.item is not None else ""
        first = detail.strip().splitlines()[0] if detail.strip() else ""
        lines.append(
            f"    {status:<20}  {row.target:<{target_width}}  {human_duration(row.duration):>7}"
            f"  {item}{first}".rstrip()
        )
    return lines


def _recap(results: list[ResultRow]) -> list[str]:
    """The run's PLAY RECAP, as the console printed it: the same table, from the same results."""
    if not results:
        return []
    tally = Tally()
    for row in results:
        tally.count(row.target, row.status, row.rolled_back)
    lost = {row.target for row in results if row.task == LOCK_LOST_TASK}
    lines = ["", "PLAY RECAP", *(plain(line) for line in recap_lines(tally.counts, lost))]
    failures = [row for row in results if row.status in ("failed", "unreachable", "interrupted")]
    if failures:
        lines.append("")
        for row in failures:
            reason = row.msg.strip().splitlines()[0] if row.msg.strip() else ""
            suffix = " (rolled back)" if row.rolled_back else ""
            item = f" (item={item_text(_item(row.item))})" if row.item is not None else ""
            lines.append(f"{row.status}: [{row.target}] {row.task}{item}: {reason}{suffix}")
    return lines
