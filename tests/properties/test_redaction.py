"""No secret value, in any nesting of dicts/lists/tuples/strings (or as a number), reaches a listener.

Events are built twice: once with the secrets, once with `********` where each secret
goes. The first set goes through the real EventBus (its Redactor) to a collecting
listener, the JSON Lines reporter and the console reporter; the second goes to the
same reporters directly. Everything they receive and print must be identical, so no
secret survives anywhere and nothing else was masked.

Secrets use letters and digits, the text around them only separators (never `*`), so
an occurrence of a secret is exactly a place the strategy put one.
"""

from __future__ import annotations

import io
import string
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ajudaplay.engine.bus import EventBus
from ajudaplay.engine.events import Event, Message, RunFinished, RunStarted, TaskResult
from ajudaplay.redaction import PLACEHOLDER, Redactor
from ajudaplay.report.console import ConsoleReporter
from ajudaplay.report.jsonl import JsonLinesReporter
from ajudaplay.targets.base import Change, Result
from tests.engine.conftest import Collector
from tests.properties.strategies import FAST

SECRET_CHARS = string.ascii_letters + string.digits + "ñß"
FILLER = st.text(alphabet=" -_./:=,;()[]{}<>\n\t\"'\\é€", min_size=1, max_size=6)
Pair = tuple[Any, Any]  # (with secrets, with placeholders)


def text_pairs(secrets: list[str]) -> st.SearchStrategy[Pair]:
    """A string made of separators and secrets, and the same string with each secret masked."""
    piece = st.one_of(FILLER.map(lambda f: (f, f)), st.sampled_from(secrets).map(lambda s: (s, PLACEHOLDER)))

    def join(pieces: list[Pair]) -> Pair:
        return "|".join(p[0] for p in pieces), "|".join(p[1] for p in pieces)

    return st.lists(piece, max_size=5).map(join)


def data_pairs(secrets: list[str]) -> st.SearchStrategy[Pair]:
    numeric = [s for s in secrets if s.isdigit() and not s.startswith("0")]
    leaves: list[st.SearchStrategy[Pair]] = [
        text_pairs(secrets),
        st.integers(0, 99).map(lambda n: (n, n)),  # too short to contain a secret
        st.booleans().map(lambda b: (b, b)),
        st.none().map(lambda n: (n, n)),
    ]
    if numeric:  # a secret PIN rendered natively is an int
        leaves.append(st.sampled_from(numeric).map(lambda s: (int(s), PLACEHOLDER)))

    def extend(children: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
        def as_dict(items: list[tuple[Pair, Pair]]) -> Pair:
            return {k[0]: v[0] for k, v in items}, {k[1]: v[1] for k, v in items}

        return st.one_of(
            st.lists(children, max_size=4).map(lambda xs: ([x[0] for x in xs], [x[1] for x in xs])),
            st.lists(children, max_size=4).map(lambda xs: (tuple(x[0] for x in xs), tuple(x[1] for x in xs))),
            st.lists(st.tuples(text_pairs(secrets), children), max_size=4).map(as_dict),
        )

    return st.recursive(st.one_of(*leaves), extend, max_leaves=12)


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[str], list[Event], list[Event]]:
    secrets = draw(st.lists(st.text(alphabet=SECRET_CHARS, min_size=3, max_size=10)
                            | st.integers(100, 10**9).map(str), min_size=1, max_size=3, unique=True))
    text, data = text_pairs(secrets), data_pairs(secrets)
    raw: list[Event] = []
    clean: list[Event] = []
    options = draw(st.dictionaries(st.sampled_from(["limit", "extra_vars", "tags"]), data, max_size=3))
    both = [(raw, 0), (clean, 1)]
    for events, i in both:
        events.append(RunStarted("r1", "play.yml", "prod", "alice", 1.0, False, {k: v[i] for k, v in options.items()}))
    for _ in range(draw(st.integers(1, 3))):
        task, msg, error, item = draw(text), draw(text), draw(text), draw(data)
        registered = draw(st.dictionaries(st.sampled_from(["stdout", "stdout_lines", "args", "nested"]), data))
        change = draw(st.tuples(text, text, text, text))
        warnings = draw(st.lists(text, max_size=2))
        status = draw(st.sampled_from(["ok", "changed", "failed", "ignored"]))
        for events, i in both:
            result = Result(changed=status == "changed", failed=status in ("failed", "ignored"), msg=msg[i],
                            changes=[Change(*(c[i] for c in change))], data={k: v[i] for k, v in registered.items()},
                            warnings=[w[i] for w in warnings])
            events.append(TaskResult("r1", "play", task[i], "t1", status, result, 0.5, 2.0,  # type: ignore[arg-type]
                                     item=item[i], error=error[i] if status == "failed" else ""))
        note = draw(text)
        for events, i in both:
            events.append(Message("r1", "t1", "warning", note[i]))
    final = draw(text)
    for events, i in both:
        events.append(RunFinished("r1", "failed", 2, 9.0, {}, final[i]))
    return secrets, raw, clean


def _outputs(events: list[Event], bus: EventBus | None) -> tuple[list[Event], str, str]:
    collect, jsonl, console = Collector(), io.StringIO(), io.StringIO()
    listeners = [collect, JsonLinesReporter(jsonl), ConsoleReporter(console, verbosity=3, color=False, show_diff=True,
                                                                    live=False)]
    if bus is not None:
        bus.listeners = listeners
    for event in events:
        if bus is not None:
            bus.emit(event)
        else:
            for listener in listeners:
                listener.handle(event)
    for listener in listeners:
        listener.close()
    return collect.events, jsonl.getvalue(), console.getvalue()


@FAST
@given(runs())
def test_no_secret_survives_into_any_event_or_output(run: tuple[list[str], list[Event], list[Event]]) -> None:
    secrets, raw, clean = run
    bus = EventBus([], Redactor(secrets))
    got_events, got_json, got_console = _outputs(raw, bus)
    want_events, want_json, want_console = _outputs(clean, None)
    assert not bus.errors, bus.errors
    assert got_events == want_events  # every field of every event, tuples still tuples
    assert got_json == want_json
    assert got_console == want_console
    for secret in secrets:  # and so, directly:
        assert (secret not in got_json and secret not in got_console) or secret in want_json + want_console


@st.composite
def direct_data(draw: st.DrawFn) -> tuple[list[str], Any, Any]:
    secrets = draw(st.lists(st.text(alphabet=SECRET_CHARS, min_size=3, max_size=10), min_size=1, max_size=3,
                            unique=True))
    value = draw(data_pairs(secrets))
    raw = draw(text_pairs(secrets))
    # bytes that are not UTF-8 are decoded with replacement characters, never refused
    return secrets, [value[0], raw[0].encode(), raw[0].encode() + b"\xff"], \
        [value[1], raw[1].encode(), (raw[1] + "\ufffd").encode()]


@FAST
@given(direct_data())
def test_the_redactor_alone_masks_every_nesting_and_bytes(case: tuple[list[str], Any, Any]) -> None:
    """Redactor.data on its own (the journal and registered values use it too), bytes included."""
    secrets, raw, clean = case
    assert Redactor(secrets).data(raw) == clean
    assert Redactor([]).data(raw) is raw  # no secrets: the very same object, nothing copied


def test_overlapping_secrets_are_masked_longest_first() -> None:
    """`bcd` inside `abcde`: masking the shorter first would leave `a` and `e` around it (and sorting
    by anything but length puts `bcd` first)."""
    for order in (["bcd", "abcde"], ["abcde", "bcd"]):
        assert Redactor(order).text("x abcde bcd") == f"x {PLACEHOLDER} {PLACEHOLDER}"


def test_values_shorter_than_3_are_not_masked() -> None:
    redactor = Redactor(["ab", "x"])
    assert not redactor and redactor.text("abc x") == "abc x"
    assert Redactor(["abc"]).text("abc") == PLACEHOLDER


def test_a_multi_line_secret_is_also_masked_line_by_line() -> None:
    """A PEM key: each line of 8+ characters is a secret of its own, the ----- armour lines are not."""
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n  hkiG9w0BAQEF  \nshort\n-----END KEY-----"
    redactor = Redactor([key])
    assert redactor.text(key) == PLACEHOLDER
    assert redactor.text("head: MIIEvQIBADANBgkq") == f"head: {PLACEHOLDER}"
    assert redactor.text("x hkiG9w0BAQEF y") == f"x {PLACEHOLDER} y"  # stripped
    assert redactor.text("short -----BEGIN KEY----- 12345678") == "short -----BEGIN KEY----- 12345678"
    assert Redactor(["MIIEvQIBADANBgkq"]).text("MIIEvQIBADANBgkq") == PLACEHOLDER
    exactly_8 = Redactor(["first line\n12345678\n1234567"])
    assert exactly_8.text("12345678 1234567") == f"{PLACEHOLDER} 1234567"


def test_booleans_and_none_are_not_text() -> None:
    """Only numbers are masked as their text: True stays True even when a secret is `rue`."""
    assert Redactor(["rue", "one", "als"]).data([True, None, False, 1.5]) == [True, None, False, 1.5]
    assert Redactor(["1.5"]).data([1.5, 21.53]) == [PLACEHOLDER, f"2{PLACEHOLDER}3"]
