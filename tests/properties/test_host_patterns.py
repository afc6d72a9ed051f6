"""Host patterns (`a:b`, `a:&b`, `a:!b`, globs, commas) against a reference set implementation.

The inventory is random: targets t0..tn, groups g0..gk whose members are targets and
later groups (so nesting is acyclic). The reference resolves each term with plain
sets: union of plain terms (or all), then intersections, then exclusions, in
inventory order. Unknown names must be refused, never select nothing.
"""

from __future__ import annotations

import fnmatch
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ajudaplay.errors import InvalidInput
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.inventory.model import Inventory
from ajudaplay.inventory.patterns import select_targets
from tests.properties.strategies import FEW

Groups = dict[str, dict[str, list[str]]]


@st.composite
def inventories(draw: st.DrawFn) -> tuple[list[str], Groups]:
    targets = [f"t{i}" for i in draw(st.permutations(range(draw(st.integers(1, 8)))))]  # file order is not name order
    groups: Groups = {}
    count = draw(st.integers(0, 5))
    for i in range(count):
        later = [f"g{j}" for j in range(i + 1, count)]
        members = draw(st.lists(st.sampled_from(targets + later), max_size=5, unique=True))
        groups[f"g{i}"] = {"targets": [m for m in members if m.startswith("t")],
                           "groups": [m for m in members if m.startswith("g")]}
    return targets, groups


def members(groups: Groups, group: str) -> set[str]:
    return set(groups[group]["targets"]).union(*(members(groups, child) for child in groups[group]["groups"]))


def reference(targets: list[str], groups: Groups, terms: list[str]) -> list[str]:
    def resolve(term: str) -> set[str]:
        if term in ("all", "*"):
            return set(targets)
        if term in groups:
            return members(groups, term)
        if term in targets:
            return {term}
        found = {t for t in targets if fnmatch.fnmatchcase(t, term)}
        return found.union(*(members(groups, g) for g in groups if fnmatch.fnmatchcase(g, term)))

    plain = [t for t in terms if t[0] not in "&!"] or ["all"]
    selected = set().union(*(resolve(t) for t in plain))
    for term in terms:
        if term[0] == "&":
            selected &= resolve(term[1:])
    for term in terms:
        if term[0] == "!":
            selected -= resolve(term[1:])
    return [t for t in targets if t in selected]


def load(targets: list[str], groups: Groups) -> Inventory:
    doc = {
        "targets": {t: {"fake": {}, "services": {"api": {}}} for t in targets},
        "groups": {g: [*m["targets"], *m["groups"]] for g, m in groups.items()},
    }
    with tempfile.TemporaryDirectory(prefix="ajudaplay-patterns-") as folder:
        path = Path(folder) / "test.yml"
        path.write_text(json.dumps(doc))  # JSON is YAML
        return load_inventory(path)


def known_terms(targets: list[str], groups: Groups) -> st.SearchStrategy[str]:
    names = st.sampled_from(["all", "*", *targets, *groups])
    globs = st.sampled_from(["t*", "g*", "t[0-3]", "?1", "*0"]).filter(
        lambda g: any(fnmatch.fnmatchcase(n, g) for n in [*targets, *groups]))
    return st.tuples(st.sampled_from(["", "&", "!"]), names | globs).map("".join)


@FEW
@given(inventories(), st.data())
def test_selection_equals_the_set_algebra(inv: tuple[list[str], Groups], data: st.DataObject) -> None:
    targets, groups = inv
    terms = data.draw(st.lists(known_terms(targets, groups), min_size=1, max_size=5))
    separators = data.draw(st.lists(st.sampled_from([":", ",", " : ", ", "]), min_size=len(terms), max_size=len(terms)))
    pattern = "".join(sep + term for sep, term in zip(separators, terms))[len(separators[0]):]
    assert select_targets(load(targets, groups), pattern) == reference(targets, groups, terms), pattern


@FEW
@given(inventories(), st.data())
def test_an_unknown_name_is_refused_wherever_it_stands(inv: tuple[list[str], Groups], data: st.DataObject) -> None:
    targets, groups = inv
    terms = data.draw(st.lists(known_terms(targets, groups), max_size=4))
    unknown = data.draw(st.sampled_from(["", "&", "!"])) + data.draw(st.sampled_from(["nosuch", "x9", "zz*"]))
    terms.insert(data.draw(st.integers(0, len(terms))), unknown)
    with pytest.raises(InvalidInput) as caught:
        select_targets(load(targets, groups), ":".join(terms))
    assert unknown.lstrip("&!") in str(caught.value)


def test_a_glob_matching_only_an_empty_group_selects_nothing_like_its_name() -> None:
    """Found by the property above: `g*` used to be refused as 'matches no target or group'."""
    inventory = load(["t0"], {"g0": {"targets": [], "groups": []}})
    assert select_targets(inventory, "g0") == [] and select_targets(inventory, "g*") == []
    assert select_targets(inventory, "t0:g*") == ["t0"]


def test_the_hint_lists_the_known_names_the_first_30_then_an_ellipsis() -> None:
    few = load(["t1", "t0"], {"g0": {"targets": ["t1"], "groups": []}})
    with pytest.raises(InvalidInput) as caught:
        select_targets(few, "t0:nosuch")
    assert str(caught.value).endswith("hint: known: all, g0, t0, t1")
    assert "in pattern 't0:nosuch'" in str(caught.value)
    many = load([f"t{i:02d}" for i in range(35)], {})
    with pytest.raises(InvalidInput) as caught:
        select_targets(many, "zz*")
    names = ", ".join(["all", *(f"t{i:02d}" for i in range(29))])
    assert str(caught.value) == f"'zz*' matches no target or group\n    hint: known: {names}, ..."
    with pytest.raises(InvalidInput) as caught:
        select_targets(load([f"t{i:02d}" for i in range(29)], {}), "zz*")
    assert str(caught.value).endswith(", t28")  # exactly 30 names: no ellipsis
    with pytest.raises(InvalidInput) as caught:
        select_targets(load([f"t{i:02d}" for i in range(30)], {}), "zz*")
    assert str(caught.value).endswith(", t28, ...")  # 31 names: the 31st is left off


def test_a_glob_unites_every_group_and_target_it_matches() -> None:
    inventory = load(["t0", "t1", "t2"], {"g0": {"targets": ["t0"], "groups": []},
                                          "g1": {"targets": ["t2"], "groups": []}})
    assert select_targets(inventory, "g*") == ["t0", "t2"]
    assert select_targets(inventory, "*1") == ["t1", "t2"]  # target t1 and group g1


def test_pattern_errors_point_at_the_hosts_line() -> None:
    from ajudaplay.errors import Mark

    mark = Mark("play.yml", 3, 10)
    inventory = load(["t0"], {})
    for pattern in ("nosuch", "zz*", "t0:&nope", "t0:!nope", "t0:&zz*", "t0:!zz*"):
        with pytest.raises(InvalidInput) as caught:
            select_targets(inventory, pattern, mark)
        assert [d.mark for d in caught.value.diagnostics] == [mark], pattern
        named = f" in pattern {pattern!r}" in str(caught.value)
        assert named is (":" in pattern), str(caught.value)  # a lone term is the pattern itself


def test_an_empty_pattern_is_refused_with_a_hint() -> None:
    from ajudaplay.errors import Mark

    mark = Mark("play.yml", 2, 10)
    for pattern in ("", ":", " , "):
        with pytest.raises(InvalidInput) as caught:
            select_targets(load(["t0"], {}), pattern, mark)
        [diagnostic] = caught.value.diagnostics
        assert diagnostic.mark == mark and diagnostic.message == f"empty host pattern {pattern!r}"
        assert diagnostic.hint == "use `all`, a group or a target name"


def test_only_a_leading_ampersand_or_bang_is_an_operator() -> None:
    inventory = load(["Xweb", "t0"], {})
    assert select_targets(inventory, "Xweb") == ["Xweb"]
    assert select_targets(inventory, "Xweb:t0:!Xweb") == ["t0"]
