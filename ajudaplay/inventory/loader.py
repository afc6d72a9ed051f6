"""load_inventory: YAML with marks -> schema -> references, cycles, secrets -> typed Inventory.

`-i prod` names `inventory/prod.yml` (or `.yaml`) under the working directory;
a path works too. Every problem is collected and raised together as InvalidInput.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, cast

from ajudaplay.errors import Diagnostic, InvalidInput
from ajudaplay.inventory.groups import ALL, find_cycle
from ajudaplay.inventory.model import Group, Inventory, TargetKind, TargetSpec
from ajudaplay.inventory.secrets import read_env_file, secret_leaves
from ajudaplay.kinds import KIND_NAMES
from ajudaplay.schema_diagnostics import Vocabulary, did_you_mean, schema_diagnostics
from ajudaplay.schemas import compiled_validator, inventory_schema
from ajudaplay.yamlmarks import Document, JsonPath, format_path, load_yaml_file

KINDS = KIND_NAMES  # the kind keys, from the one table (ajudaplay/kinds.py)
SSH_OPTIONS = ("key", "known_hosts", "host_key_check")
HOST_OPTIONS = (*SSH_OPTIONS, "lock_path")  # a plain host target keeps these beside `host:`
INVENTORY_DIR = "inventory"
_PORT = re.compile(r":([0-9]+)/?$")


def resolve_inventory_arg(arg: str, cwd: Path) -> Path:
    """`-i prod` -> ./inventory/prod.yml (or .yaml); a path to a file works as is."""
    as_path = Path(arg).expanduser()
    as_path = as_path if as_path.is_absolute() else cwd / as_path
    looks_like_path = "/" in arg or arg.endswith((".yml", ".yaml"))
    if as_path.is_file():
        return as_path
    if not looks_like_path:
        for suffix in (".yml", ".yaml"):
            candidate = cwd / INVENTORY_DIR / f"{arg}{suffix}"
            if candidate.is_file():
                return candidate
    found = sorted(
        p.stem for p in (cwd / INVENTORY_DIR).glob("*") if p.suffix in (".yml", ".yaml") and p.is_file()
    ) if (cwd / INVENTORY_DIR).is_dir() else []
    if looks_like_path:
        message = f"inventory file {arg!r} does not exist"
    else:
        message = f"no inventory {arg!r}: neither {INVENTORY_DIR}/{arg}.yml nor {INVENTORY_DIR}/{arg}.yaml exists in {cwd}"
    if found:
        hint = f"{did_you_mean(arg, found)} environments found in ./{INVENTORY_DIR}/: {', '.join(found)}".strip()
    else:
        hint = f"no ./{INVENTORY_DIR}/ folder with *.yml files here; pass a path with -i path/to/inventory.yml"
    raise InvalidInput([Diagnostic(None, message, hint)])


def load_inventory(path: Path) -> Inventory:
    """Load, validate and build an inventory; raises InvalidInput carrying every diagnostic."""
    doc = load_yaml_file(path, strict=False)
    inventory, diagnostics = check_inventory_document(doc, path)
    if diagnostics:
        raise InvalidInput(diagnostics)
    return inventory


def _classify(path: JsonPath) -> str:
    if not path:
        return "inventory"
    if len(path) == 2 and path[0] == "targets":
        return "target"
    if len(path) == 2 and path[0] == "groups":
        return "group"
    return ""


def check_inventory_document(doc: Document, path: Path) -> tuple[Inventory, list[Diagnostic]]:
    """Schema and semantic diagnostics, and the (best-effort) model of a loaded inventory."""
    validator = compiled_validator(inventory_schema())
    vocab = Vocabulary(root="", classify=_classify, kinds=list(KINDS))
    diagnostics = [*doc.problems, *schema_diagnostics(doc, validator, vocab)]
    builder = _Builder(doc, path)
    inventory = builder.build()
    diagnostics.extend(d for d in builder.diagnostics if str(d) not in {str(x) for x in diagnostics})
    diagnostics.sort(key=lambda d: (d.mark.line, d.mark.column) if d.mark else (0, 0))
    return inventory, diagnostics


def _expand(value: Any, base: Path) -> Any:
    """A local file path: `~` expanded, relative paths taken from the inventory's folder."""
    if not isinstance(value, str):
        return value
    expanded = Path(os.path.expanduser(value))
    return str(expanded if expanded.is_absolute() else base / expanded)


class _Builder:
    """Builds the model defensively (the data may have failed the schema) and records problems."""

    def __init__(self, doc: Document, path: Path) -> None:
        self.doc = doc
        self.path = path
        self.base = path.parent
        self.data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
        self.diagnostics: list[Diagnostic] = []

    def problem(self, where: JsonPath, message: str, hint: str = "", *, key: bool = False) -> None:
        mark = self.doc.key_mark(where) if key else self.doc.mark(where)
        shown = format_path(where[:-1] if key and len(where) > 2 else where)
        self.diagnostics.append(Diagnostic(mark, message, hint, shown))

    def build(self) -> Inventory:
        inventory = Inventory(path=self.path, name=self.path.stem, vars=_mapping(self.data.get("vars")),
                              vars_mark=self.doc.key_mark(("vars",)))
        store = self.data.get("backup_store")
        inventory.backup_store = dict(store) if isinstance(store, dict) else None
        targets = _mapping(self.data.get("targets"))
        for name, spec in targets.items():
            target = self.target(str(name), spec)
            if target is not None:
                own = spec.get("backup_store") if isinstance(spec, dict) else None
                target.backup_store = dict(own) if isinstance(own, dict) else inventory.backup_store
                inventory.targets[str(name)] = target
        self.groups(inventory)
        self.secrets(inventory)
        return inventory

    def target(self, name: str, data: Any) -> TargetSpec | None:
        if not isinstance(data, dict):
            return None
        where: JsonPath = ("targets", name)
        kinds = [k for k in KINDS if k in data]
        if len(kinds) != 1:
            return None  # the schema reported it
        kind = kinds[0]
        if kind == "host":
            connection: dict[str, Any] = {"host": data["host"], "host_key_check": True}
            connection.update({k: data[k] for k in HOST_OPTIONS if k in data})
        else:
            connection = dict(data[kind]) if isinstance(data[kind], dict) else {}
            for option in HOST_OPTIONS:
                if option in data:
                    self.problem((*where, option), f"{option!r} belongs inside `{kind}:` for a {kind} target",
                                 f"move it under {kind}:" if kind == "compose" else "only host and compose targets use SSH", key=True)
            if kind == "compose":
                connection.setdefault("host", "@local")
                connection.setdefault("host_key_check", True)
            if kind == "kubernetes":
                connection.setdefault("in_cluster", False)
                if connection["in_cluster"] and ("context" in connection or "kubeconfig" in connection):
                    self.problem((*where, kind), "in_cluster: true uses the pod's service account; drop context/kubeconfig")
        for option in ("key", "known_hosts", "kubeconfig"):
            if option in connection and kind != "fake":
                connection[option] = _expand(connection[option], self.base)
        host = connection.get("host")
        if kind in ("host", "compose") and isinstance(host, str):
            self.check_port(host, (*where, "host") if kind == "host" else (*where, kind, "host"))
        for service, mapping in _mapping(data.get("services")).items():
            if isinstance(mapping, dict) and "database" in mapping:
                self.check_database((*where, "services", str(service), "database"), mapping["database"])
        return TargetSpec(
            name=name, kind=cast(TargetKind, kind), mark=self.doc.key_mark(where), connection=connection,
            services={str(k): dict(v) for k, v in _mapping(data.get("services")).items() if isinstance(v, dict)},
            vars=_mapping(data.get("vars")),
        )

    def check_database(self, where: JsonPath, value: Any) -> None:
        """`database: {path: /abs.db}` (one, named main) or `{NAME: {path: /abs.db}, ...}`: said plainly."""
        shape = "write database: {path: /app/data/app.db}, or by name: {main: {path: ...}, audit: {path: ...}}"
        if not isinstance(value, dict):
            return  # the schema reported it
        entries = [(where, value)] if "path" in value else [((*where, str(k)), v) for k, v in value.items()]
        for at, entry in entries:
            if not isinstance(entry, dict):
                self.problem(at, f"expected {{path: /absolute/file.db}}, got {entry!r}", shape)
                continue
            for key in sorted(set(entry) - {"path"}):
                self.problem((*at, key), f"unknown key {key!r} in a database", shape, key=True)
            path = entry.get("path")
            if "path" not in entry:
                self.problem(at, "a database needs `path:` (the SQLite file inside the service's container)", shape)
            elif not (isinstance(path, str) and path.startswith("/")):
                self.problem((*at, "path"), f"a database's path must be absolute, inside the service's container, "
                             f"not {path!r}", "e.g. path: /app/data/ajudadorabot.db")

    def check_port(self, url: str, where: JsonPath) -> None:
        match = _PORT.search(url)
        if url.startswith("ssh://") and match and not 0 < int(match.group(1)) < 65536:
            self.problem(where, f"malformed ssh URL {url!r}: port {match.group(1)} is out of range 1-65535")

    def groups(self, inventory: Inventory) -> None:
        raw = _mapping(self.data.get("groups"))
        names = set(inventory.targets) | {str(g) for g in raw} | {ALL}
        for name, spec in raw.items():
            where: JsonPath = ("groups", str(name))
            group = Group(name=str(name), mark=self.doc.key_mark(where))
            if isinstance(spec, list):
                members = [(m, (*where, i)) for i, m in enumerate(spec) if isinstance(m, str)]
                for member, at in members:
                    self.add_member(inventory, raw, group, member, at, names)
            elif isinstance(spec, dict):
                group.vars = _mapping(spec.get("vars"))
                for list_name in ("children", "targets"):
                    items = spec.get(list_name)
                    for i, member in enumerate(items if isinstance(items, list) else []):
                        if isinstance(member, str):
                            self.add_member(inventory, raw, group, member, (*where, list_name, i), names, list_name)
            if str(name) in inventory.targets:
                self.problem(where, f"{name!r} is both a target and a group", "rename one of them", key=True)
            if str(name) == ALL and (group.targets or group.children):
                self.problem(where, "the group 'all' is implicit and contains every target", "give `all` only `vars:`", key=True)
            inventory.groups[str(name)] = group
        cycle = find_cycle(inventory.groups)
        if cycle:
            where = ("groups", cycle[0])
            self.problem(where, f"groups include each other: {' -> '.join(cycle)}", "nested groups must form a tree (no cycles)", key=True)
            for group in inventory.groups.values():
                group.children = []  # keep later look-ups finite; the error above stops the run
        everyone = inventory.groups.setdefault(ALL, Group(name=ALL, mark=self.doc.mark(())))
        everyone.targets, everyone.children = list(inventory.targets), []

    def add_member(self, inventory: Inventory, raw: dict[str, Any], group: Group, member: str,
                   at: JsonPath, names: set[str], list_name: str = "") -> None:
        if list_name != "children" and member in inventory.targets:
            group.targets.append(member)
        elif list_name != "targets" and member in raw:
            group.children.append(member)
        elif member == ALL:
            self.problem(at, "'all' cannot be a member of a group", "every target is already in `all`")
        else:
            wanted = {"children": "group", "targets": "target"}.get(list_name, "target or group")
            pool = [g for g in raw] if list_name == "children" else list(inventory.targets) if list_name == "targets" else sorted(names - {ALL})
            hint = did_you_mean(member, [str(p) for p in pool])
            self.problem(at, f"group {group.name!r}: unknown {wanted} {member!r}", hint or f"known: {', '.join(sorted(str(p) for p in pool))}")

    def secrets(self, inventory: Inventory) -> None:
        secrets = _mapping(self.data.get("secrets"))
        env_file = secrets.get("env_file")
        if isinstance(env_file, str):
            values, problems = read_env_file(Path(_expand(env_file, self.base)), env_file, self.doc.mark(("secrets", "env_file")))
            self.diagnostics.extend(problems)
            for key, value in values.items():
                inventory.vars.setdefault(key, value)
                inventory.secret_names.add(key)
                inventory.secret_values.append(value)
        names = secrets.get("vars")
        inventory.secret_names.update(n for n in (names if isinstance(names, list) else []) if isinstance(n, str))
        layers = [inventory.vars, *(g.vars for g in inventory.groups.values()), *(t.vars for t in inventory.targets.values())]
        for layer in layers:
            for name, value in layer.items():
                if name in inventory.secret_names:
                    inventory.secret_values.extend(secret_leaves(value))
        inventory.secret_values = list(dict.fromkeys(v for v in inventory.secret_values if v))


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}
