"""The `ajudaplay` command: argument parsing, wiring and exit codes, nothing else.

gevent: pyinfra 3 is built on gevent, so ``gevent.monkey.patch_all()`` runs
once, before the engine, pyinfra or the kubernetes client are imported, for the
commands that touch targets: `unlock` and `backups` at once, `run` as soon as the inventory
is loaded and has a target reached over the network (SSH, a cluster; see
`needs_gevent`). The blocking kubernetes client and urllib3 then cooperate
through patched sockets, threads become greenlets, and the engine's bounded
fan-out is a pool of greenlets. A run whose targets are all the controller
itself uses plain threads (the engine works with both) and skips the patch,
~0.1 s, a third of such a run. Never at import of a library module: API users
and `validate`/`schema`/`history` (which must start in < 0.3 s) never pay for it.

Exit codes are `ajudaplay.exitcodes.ExitCode`, documented in docs/user-guide.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, TextIO

from ajudaplay import __version__
from ajudaplay.errors import AjudaplayError, Diagnostic, InvalidInput, JournalError
from ajudaplay.exitcodes import ExitCode
from ajudaplay.argparser import COLOR, Parser, at_least
from ajudaplay.inventory_command import cmd_inventory
from ajudaplay.state_commands import cmd_history, cmd_show, cmd_unlock, open_journal

if TYPE_CHECKING:
    from ajudaplay.actions.base import Registry
    from ajudaplay.inventory.model import Inventory

RegistryFactory = Callable[[], "Registry"]


def build_parser() -> Parser:
    """Every subcommand and flag; docs/user-guide.md documents each (a test checks)."""
    parser = Parser(prog="ajudaplay", description="Run operational procedures (YAML playbooks) "
                    "against Kubernetes clusters and Docker Compose hosts.")
    parser.add_argument("--version", action="version", version=f"ajudaplay {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    run = sub.add_parser("run", help="run a playbook against an environment")
    run.add_argument("playbook", type=Path, help="playbook file")
    run.add_argument("-i", "--inventory", required=True, metavar="ENV", help="environment name (inventory/ENV.yml) or file")
    _extra_vars_arg(run)
    run.add_argument("-C", "--check", action="store_true", help="dry run: report what would change, change nothing")
    run.add_argument("-D", "--diff", action="store_true", help="show the differences each step makes")
    _selection_args(run)
    run.add_argument("--list-tasks", action="store_true", help="print the tasks that would run, run nothing")
    run.add_argument("--list-targets", action="store_true", help="print the targets of each play, run nothing")
    run.add_argument("--syntax-check", action="store_true",
                     help="check as `validate PLAYBOOK -i ENV` does, run nothing")
    run.add_argument("-v", "--verbose", action="count", default=0, help="more output (-vv: tracebacks)")
    run.add_argument("--start-at-step", "--start-at-task", metavar="NAME", help="skip tasks until the one with this name")
    run.add_argument("--step", action="store_true", help="ask before each task (terminal only): y/n/c")
    run.add_argument("-f", "--forks", type=int, default=None, metavar="N", help="targets in parallel (default: 10 per CPU, 5 to 200, within the open-file limit)")
    run.add_argument("--yes", action="store_true", help="answer yes to every confirmation (restore, approvals)")
    run.add_argument("--lock-wait", type=at_least(0, float), default=0.0, metavar="SECONDS",
                     help="wait this long for a held lock")
    run.add_argument("--output", choices=("console", "json"), default="console", help="console, or JSON Lines on stdout")
    run.add_argument("--color", choices=tuple(COLOR), default="auto",
                     help="colour the console output: auto (a terminal, unless NO_COLOR), always, never")
    run.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML report")
    _journal_args(run)
    run.add_argument("--no-journal", action="store_true", help="do not record this run")

    validate = sub.add_parser("validate", help="check playbooks/inventories without running anything")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    validate.add_argument("-i", "--inventory", metavar="ENV",
                          help="also make every check `run -i ENV` makes before it touches a target")
    _extra_vars_arg(validate)
    _selection_args(validate)
    validate.add_argument("--output", choices=("console", "json"), default="console", help="console, or JSON Lines on stdout")

    schema = sub.add_parser("schema", help="print the JSON Schema of playbooks or inventories")
    schema.add_argument("kind", choices=("playbook", "inventory"))

    history = sub.add_parser("history", help="list recent runs from the journal")
    history.add_argument("--limit", type=at_least(0, int), default=20, metavar="N", help="how many runs (default 20)")
    _journal_args(history)
    _read_output_args(history)

    show = sub.add_parser("show", help="show one run from the journal")
    show.add_argument("run", metavar="RUN", help="run id or unique prefix")
    _journal_args(show)
    _read_output_args(show)

    unlock = sub.add_parser("unlock", help="remove a stale environment lock on a target")
    unlock.add_argument("-i", "--inventory", required=True, metavar="ENV")
    unlock.add_argument("target", metavar="TARGET")
    unlock.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    inventory = sub.add_parser("inventory", help="list an environment's targets, groups and variables")
    inventory.add_argument("-i", "--inventory", required=True, metavar="ENV", help="environment name (inventory/ENV.yml) or file")
    shown = inventory.add_mutually_exclusive_group(required=True)
    shown.add_argument("--list", action="store_true", help="targets, kinds, groups, services and variables (secrets masked)")
    shown.add_argument("--graph", action="store_true", help="groups and their members as a tree")
    shown.add_argument("--names", choices=("targets", "groups", "services"),
                       help="one name a line (for scripts and shell completion)")
    inventory.add_argument("--output", choices=("console", "json"), default="console", help="a table, or JSON (--list)")

    backups = sub.add_parser("backups", help="list the database backups an environment's stores hold, newest first")
    backups.add_argument("-i", "--inventory", required=True, metavar="ENV", help="environment name (inventory/ENV.yml) or file")
    backups.add_argument("--service", metavar="SERVICE", help="only this service's databases")
    backups.add_argument("--output", choices=("console", "json"), default="console", help="a table, or JSON")

    from ajudaplay.metrics_command import add_parser as add_metrics_parser
    add_metrics_parser(sub)

    completion = sub.add_parser("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=("bash", "zsh"))

    sub.add_parser("man", help="print the manual page (roff)")
    return parser


def _selection_args(parser: argparse.ArgumentParser) -> None:
    """`--limit`, `--tags`, `--skip-tags`: the same on `run` and `validate` (validate checks what run would)."""
    parser.add_argument("-l", "--limit", metavar="PATTERN", help="only these targets/groups (pattern)")
    parser.add_argument("-t", "--tags", action="append", default=[], metavar="TAGS",
                        help="only tasks with these tags (comma separated)")
    parser.add_argument("--skip-tags", action="append", default=[], metavar="TAGS", help="skip tasks with these tags")


def _read_output_args(parser: argparse.ArgumentParser) -> None:
    """`--output console|json` and its shorthand `--json`, for the commands that read the journal."""
    parser.add_argument("--output", choices=("console", "json"), default="console", help="a table, or JSON")
    parser.add_argument("--json", dest="output", action="store_const", const="json", help="the same as --output json")


def _extra_vars_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                        help="key=value pairs, a JSON object, or @file (YAML/JSON); highest precedence")


def _journal_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", type=Path, metavar="PATH", help="journal file (default $AJUDAPLAY_JOURNAL or ~/.local/state/ajudaplay/journal.sqlite)")


def main(argv: Sequence[str] | None = None, registry_factory: RegistryFactory | None = None) -> int:
    """Entry point; returns the process exit code (see ExitCode)."""
    parser = build_parser()
    args = parser.parse(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return int(ExitCode.INVALID_INPUT)
    if args.command in ("unlock", "backups"):  # `run` decides once its inventory is loaded (cmd_run)
        patch_gevent()
    verbosity = getattr(args, "verbose", 0)
    try:
        handler = COMMANDS[args.command]
        return handler(args, registry_factory or _default_registry)
    except InvalidInput as exc:
        print_diagnostics(exc.diagnostics, sys.stderr)
        return int(ExitCode.INVALID_INPUT)
    except JournalError as exc:
        print(f"ajudaplay: journal error: {exc}", file=sys.stderr)
        return int(ExitCode.JOURNAL_ERROR)
    except KeyboardInterrupt:
        print("ajudaplay: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except AjudaplayError as exc:
        print(f"ajudaplay: {exc}", file=sys.stderr)
        return int(ExitCode.FAILED)
    except Exception as exc:
        if verbosity >= 2:
            import traceback

            traceback.print_exc()
        print(f"ajudaplay: internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback)", file=sys.stderr)
        return int(ExitCode.INTERNAL_ERROR)


def patch_gevent() -> None:
    """`gevent.monkey.patch_all()`, with its plugin look-up scanning site-packages once, not 25 times.

    patch_all asks importlib.metadata for the entry points of a few plugin groups
    once per patched module; each call walks all of site-packages (measured ~1 s
    in total on a slow disk). One scan answers every group here; the stand-in
    lives only for the duration of the call.
    """
    from importlib import metadata

    from gevent import monkey

    original = metadata.entry_points
    scanned = original()

    def entry_points(**params: Any) -> Any:  # what the original returns for these arguments
        return scanned.select(**params) if params else scanned

    metadata.entry_points = entry_points
    try:
        monkey.patch_all()
    finally:
        metadata.entry_points = original


def needs_gevent(inventory: Inventory) -> bool:
    """Whether a run on this inventory must patch gevent: some target is reached over the network.

    SSH hosts (pyinfra, paramiko) and clusters (the kubernetes client's watches)
    need cooperative sockets. `@local` hosts and Compose projects run commands
    on the controller, and fake targets are in-process: with only those the
    engine's plain threads do, and the run skips the patch.
    """
    from ajudaplay.hosts.address import is_local
    from ajudaplay.kinds import CONTROLLER_KINDS, IN_PROCESS_KINDS

    for spec in inventory.targets.values():
        if spec.kind in IN_PROCESS_KINDS or (spec.kind in CONTROLLER_KINDS and is_local(spec.connection)):
            continue
        return True
    return False


def print_diagnostics(diagnostics: list[Diagnostic], stream: TextIO) -> None:
    """`file:line:col: message` and its hint, one per problem."""
    for diagnostic in diagnostics:
        print(str(diagnostic), file=stream)
    count = len(diagnostics)
    print(f"ajudaplay: {count} problem{'s' if count != 1 else ''} found; nothing was changed", file=stream)


def _default_registry() -> Registry:
    from ajudaplay.actions.base import default_registry

    return default_registry()


# commands ---------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, registry_factory: RegistryFactory) -> int:
    """`ajudaplay run`: load, patch gevent if needed, plan, then run with the chosen listeners.

    A run refused before it touched a target still reports to `--output json`
    and `--junit` (outcome `invalid`, one event per diagnostic); stderr gets
    the diagnostics as always.
    """
    if args.syntax_check:
        return cmd_validate(argparse.Namespace(**{**vars(args), "paths": [args.playbook]}), registry_factory)
    try:
        registry = registry_factory()
        extra = _extra_vars(args)  # the command line first, as `validate` reads it
        playbook, inventory = _load_inputs(args, registry)
        if needs_gevent(inventory):
            patch_gevent()  # before the engine, pyinfra or the kubernetes client are imported

        from ajudaplay.engine.run import Runner

        options = _options(args, extra, inventory)
        options.recent_runs = _recent_runs(args)
        runner = Runner(playbook, inventory, registry, options, [])
        listing = bool(args.list_targets or args.list_tasks)
        plan = runner.preflight(templates=not listing)  # a listing previews the plan, templates unchecked
    except InvalidInput as exc:
        _report_invalid(args, exc.diagnostics)
        raise
    if listing:
        from ajudaplay.engine.listing import list_targets, list_tasks

        lines = list_targets(plan) if args.list_targets else []
        lines += list_tasks(plan) if args.list_tasks else []
        print("\n".join(lines))
        return int(ExitCode.OK)
    listeners, closers = _listeners(args)
    runner.rc.bus.listeners.extend(listeners)
    try:
        summary = runner.run()
    finally:
        for close in closers:
            close()
    return summary.exit_code


def _recent_runs(args: argparse.Namespace) -> Callable[[str, float], list[dict[str, Any]]]:
    """What `changes` reads: the run's journal (the default one read-only with --no-journal; none: no runs)."""
    from ajudaplay.journal import default_path
    from ajudaplay.journal.recent import RecentRuns

    return RecentRuns(args.journal or default_path())


def _extra_vars(args: argparse.Namespace) -> dict[str, Any]:
    from ajudaplay.engine.extravars import parse_extra_vars

    return parse_extra_vars(list(args.extra_vars), Path.cwd())


def _options(args: argparse.Namespace, extra: dict[str, Any], inventory: Inventory | None) -> Any:
    """The RunOptions of `run` (and of `validate`, which checks what that run would check)."""
    from ajudaplay.engine.options import RunOptions

    options = RunOptions(
        check=getattr(args, "check", False),
        diff=getattr(args, "diff", False),
        limit=args.limit,
        tags=_split(getattr(args, "tags", [])),
        skip_tags=_split(getattr(args, "skip_tags", [])),
        start_at_step=getattr(args, "start_at_step", None),
        extra_vars=extra,
        secret_extra_vars=set(extra) & set(inventory.secret_names) if inventory is not None else set(),
        lock_wait=getattr(args, "lock_wait", 0.0),
        verbosity=getattr(args, "verbose", 0),
        assume_yes=getattr(args, "yes", False),
        step=getattr(args, "step", False),
    )
    forks = getattr(args, "forks", None)
    if forks is not None:
        if forks < 1:
            raise InvalidInput([Diagnostic(None, f"--forks must be at least 1, got {forks}")])
        options.forks = forks
    return options


def _report_invalid(args: argparse.Namespace, diagnostics: list[Diagnostic]) -> None:
    """`run_start`, one event per diagnostic, `run_end` (outcome `invalid`) to JSON Lines and JUnit."""
    if args.output != "json" and not args.junit:
        return
    from ajudaplay.engine.preflight import invalid_run_events

    listeners: list[Any] = []
    if args.output == "json":
        from ajudaplay.report.jsonl import JsonLinesReporter

        listeners.append(JsonLinesReporter(sys.stdout))
    if args.junit:
        from ajudaplay.report.junit import JUnitReporter

        listeners.append(JUnitReporter(args.junit))
    for event in invalid_run_events(str(args.playbook), str(args.inventory), diagnostics,
                                    check=args.check, limit=args.limit):
        for listener in listeners:
            listener.handle(event)
    for listener in listeners:
        listener.close()


def _split(values: list[str]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


def _load_inputs(args: argparse.Namespace, registry: Registry) -> tuple[Any, Any]:
    """Playbook and inventory, with the problems of both reported together."""
    from ajudaplay.inventory.loader import load_inventory, resolve_inventory_arg
    from ajudaplay.playbook.loader import load_playbook

    problems: list[Diagnostic] = []
    playbook = inventory = None
    if not args.playbook.is_file():
        problems.append(Diagnostic(None, f"playbook {str(args.playbook)!r} does not exist", "give the path to a .yml file"))
    else:
        try:
            playbook = load_playbook(args.playbook, registry)
        except InvalidInput as exc:
            problems.extend(exc.diagnostics)
    try:
        inventory = load_inventory(resolve_inventory_arg(args.inventory, Path.cwd()))
    except InvalidInput as exc:
        problems.extend(exc.diagnostics)
    if problems:
        raise InvalidInput(problems)
    return playbook, inventory


def _listeners(args: argparse.Namespace) -> tuple[list[Any], list[Callable[[], None]]]:
    """Console or JSON Lines, JUnit, journal; opened before the run so failures come first."""
    listeners: list[Any] = []
    closers: list[Callable[[], None]] = []
    if not args.no_journal:
        journal = open_journal(args.journal)
        listeners.append(journal.listener())
        closers.append(journal.close)
    if args.output == "json":
        from ajudaplay.report.jsonl import JsonLinesReporter

        listeners.append(JsonLinesReporter(sys.stdout))
    else:
        from ajudaplay.report.console import ConsoleReporter

        listeners.append(ConsoleReporter(sys.stdout, verbosity=args.verbose, show_diff=args.diff,
                                         color=COLOR[args.color], journaled=not args.no_journal))
    if args.junit:
        from ajudaplay.report.junit import JUnitReporter

        listeners.append(JUnitReporter(args.junit))
    return listeners, closers


def cmd_validate(args: argparse.Namespace, registry_factory: RegistryFactory) -> int:
    """`ajudaplay validate`: each file's checks, then (with `-i`) every check `run` makes first."""
    from ajudaplay.engine.preflight import Validation, validate
    from ajudaplay.inventory.loader import resolve_inventory_arg

    try:
        options = _options(args, _extra_vars(args), None)  # the command line first, as `run` reads it
        inventory = resolve_inventory_arg(args.inventory, Path.cwd()) if args.inventory else None
        found = validate(list(args.paths), registry_factory(), inventory, options)
    except InvalidInput as exc:  # the command line itself (-e, -i): JSON consumers still get the verdict
        found = Validation(exc.diagnostics, ())
    if args.output == "json":
        from ajudaplay.report.jsonl import validate_records

        for record in validate_records([str(p) for p in args.paths], found.diagnostics, found.skipped):
            print(json.dumps(record, ensure_ascii=False), flush=True)
    if found.diagnostics:
        raise InvalidInput(found.diagnostics)
    if args.output != "json":
        print(f"ok: {', '.join(str(p) for p in args.paths)}")
        if found.skipped:
            print(f"skipped without -i ENV: {', '.join(found.skipped)} (give -i ENV to check them as run would)")
    return int(ExitCode.OK)


def cmd_schema(args: argparse.Namespace, registry_factory: RegistryFactory) -> int:
    from ajudaplay.playbook.schema import playbook_schema
    from ajudaplay.schemas import inventory_schema

    schema = playbook_schema(registry_factory()) if args.kind == "playbook" else inventory_schema()
    json.dump(schema, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
    return int(ExitCode.OK)


def cmd_completion(args: argparse.Namespace, registry_factory: RegistryFactory) -> int:
    """`ajudaplay completion bash|zsh`: the script, generated from this very parser."""
    from ajudaplay.completion import completion_script

    sys.stdout.write(completion_script(args.shell, build_parser()))
    return int(ExitCode.OK)


def cmd_man(args: argparse.Namespace, registry_factory: RegistryFactory) -> int:
    """`ajudaplay man`: the manual page in roff, generated from this very parser."""
    from ajudaplay.manpage import man_page

    sys.stdout.write(man_page(build_parser(), __version__))
    return int(ExitCode.OK)


def cmd_backups(args: argparse.Namespace, registry_factory: RegistryFactory) -> int:
    """`ajudaplay backups`: the stores' listing (ajudaplay/backups_command.py, imported only here)."""
    from ajudaplay.backups_command import cmd_backups as list_backups
    return list_backups(args, registry_factory)


def cmd_metrics(args: argparse.Namespace, registry_factory: RegistryFactory) -> int:
    """`ajudaplay metrics`: delivery metrics from the journal (ajudaplay/metrics_command.py, imported only here)."""
    from ajudaplay.metrics_command import run as metrics
    return metrics(args)


COMMANDS: Mapping[str, Callable[[argparse.Namespace, RegistryFactory], int]] = MappingProxyType({
    "run": cmd_run,
    "validate": cmd_validate,
    "schema": cmd_schema,
    "history": cmd_history,
    "show": cmd_show,
    "unlock": cmd_unlock,
    "inventory": cmd_inventory,
    "backups": cmd_backups,
    "metrics": cmd_metrics,
    "completion": cmd_completion,
    "man": cmd_man,
})


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
