"""Which tasks run: `--tags`/`--skip-tags` (with Ansible's `always`/`never`)."""

from __future__ import annotations

from collections.abc import Collection


def tag_selected(task_tags: Collection[str], only: Collection[str], skip: Collection[str]) -> bool:
    """Ansible's rules: `always` runs unless skipped by name, `never` only when asked for."""
    tags = set(task_tags)
    wanted = set(only)
    skipped = set(skip)
    if tags & skipped:
        return False
    if "always" in tags and "always" not in skipped:
        return True
    if "never" in tags and not (tags - {"never"}) & wanted and "never" not in wanted:
        return False
    if not wanted or "all" in wanted:
        return "never" not in tags or bool((tags - {"never"}) & wanted)
    if "tagged" in wanted and tags:
        return True
    if "untagged" in wanted and not tags:
        return True
    return bool(tags & wanted)
