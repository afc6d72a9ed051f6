"""Secrets known before the run: what the playbook's `secret`, `certificate`, `backup` and `restore`
tasks will be given.

The engine masks these from the first event on (ajudaplay.engine.run); the
actions register what they get too, when they run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ajudaplay.envfile import parse_env

if TYPE_CHECKING:
    from ajudaplay.inventory.model import Inventory
    from ajudaplay.playbook.model import Playbook, Task


# action -> its arguments whose values are secret (a mapping's values, or the value itself)
SECRET_ARGS: dict[str, tuple[str, ...]] = {
    "secret": ("values",), "backup": ("key",), "restore": ("key",),
    "telegram": ("token", "secret_token"), "announce": ("token", "url"),  # a Slack webhook URL is itself a secret
}


def given_secrets(playbook: Playbook, inventory: Inventory, extra_vars: Mapping[str, Any]) -> list[str]:
    """Values the playbook's `secret`, `certificate`, `backup` and `restore` (their `key`) tasks will be given, as far as they are
    known before anything runs, so the Redactor masks them from the first event on (a `debug`
    before the `secret` step, the -e values in `run_start`): literal values, the values of the
    variables `values:` reads (through play/block/task vars, in -e or the inventory), and the
    contents of env and key files named literally. The actions register what they get too.
    """
    from ajudaplay.inventory.secrets import secret_leaves
    from ajudaplay.templating import Templar, is_template

    templar, base = Templar(), playbook.path.parent
    names: set[str] = set()
    found: list[str] = []
    layers: list[Mapping[str, Any]] = []
    for task in _tasks(playbook, layers):
        args = task.args if isinstance(task.args, dict) else {}
        for key in SECRET_ARGS.get(task.action or "", ()):
            values = args.get(key)
            for value in values.values() if isinstance(values, dict) else [values]:
                if is_template(value):
                    names |= templar.references(value)
                elif value is not None:
                    found += secret_leaves(value)
        for key, reader in (("env_file", _env_values), ("key_file", _key_text)):
            if task.action in ("secret", "certificate") and isinstance(args.get(key), str) and not is_template(args[key]):
                path = Path(args[key]).expanduser()
                found += reader(path if path.is_absolute() else base / path)
    while True:  # a name read through vars entries reads what they read
        more = {n for layer in layers for k, v in layer.items() if k in names for n in templar.references(v)} - names
        if not more:
            break
        names |= more
    sources = [extra_vars, inventory.vars, *(g.vars for g in inventory.groups.values()),
               *(t.vars for t in inventory.targets.values())]
    found += [leaf for source in sources for name in names if name in source for leaf in secret_leaves(source[name])]
    return found


def _tasks(playbook: Playbook, layers: list[Mapping[str, Any]]) -> Iterator[Task]:
    """Every task (blocks, rescue, always, handlers) of every play; collects the vars layers."""
    def walk(tasks: list[Task]) -> Iterator[Task]:
        for task in tasks:
            layers.append(task.vars)
            if task.block is not None:
                yield from walk([*task.block, *task.rescue, *task.always])
            else:
                yield task

    for play in playbook.plays:
        layers.append(play.vars)
        yield from walk([*play.tasks, *play.handlers])


def _env_values(path: Path) -> list[str]:
    try:
        return list(parse_env(path.read_text(encoding="utf-8"))[0].values())
    except (OSError, UnicodeDecodeError):
        return []  # the action reports it when it runs


def _key_text(path: Path) -> list[str]:
    try:
        return [path.read_text(encoding="utf-8", errors="replace")]
    except OSError:
        return []
