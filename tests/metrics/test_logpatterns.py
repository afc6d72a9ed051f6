"""Error lines counted per source and per message pattern (ajudaplay/logpatterns.py, LogLines' new keys).

Pure functions on text: the lines are written here the way both targets' `logs` give them
("<pod or container> <text>"), including the test service's own ERROR lines.
"""

from __future__ import annotations

from ajudaplay import logpatterns
from ajudaplay.outcomes import LogLines, to_result

TIMEOUT = ("api-7d9f-abcde 2026-12-02T13:05:0{s}Z ERROR GET /api/orders/{n} -> 500: upstream timed out after "
           "{ms} ms (request {uuid})")
UUIDS = ["970d1e57-2dbe-4995-be55-f225f85b4085", "f37a7495-b1ef-4312-800d-e95627cc4329",
         "0a321070-da90-4bf3-b945-050184cccdb8"]


def test_variable_parts_become_placeholders() -> None:
    cases = {
        "2026-12-02T13:05:05Z ERROR GET /api/orders/1007 -> 500: upstream timed out after 5001 ms "
        "(request 970d1e57-2dbe-4995-be55-f225f85b4085)":
            "<ts> ERROR GET /api/orders/<n> -> <n>: upstream timed out after <n> ms (request <uuid>)",
        "2024-01-02 10:00:00,123 database is locked (sqlite code 5) in transaction 0x3009":
            "<ts> database is locked (sqlite code <n>) in transaction <hex>",
        '10.0.0.5:443 - - [02/Jan/2024:10:00:00 +0000] "GET /x HTTP/1.1" 502 123':
            '<ip> - - [<ts>] "GET /x HTTP/<n>" <n> <n>',
        "Jan  2 10:00:00 host app[123]: error 42": "<ts> host app[<n>]: error <n>",
        "retry 3.5s id=deadbeef12 item-17 took 12ms": "retry <n>s id=<hex> item-<n> took <n>ms",
        "  spaces\tsqueezed  ": "spaces squeezed",
    }
    for text, pattern in cases.items():
        assert logpatterns.normalise(text) == pattern, text


def test_words_with_digits_and_plain_words_stay() -> None:
    """Numbers glued to a word and hex-looking words without a digit are part of the message."""
    assert logpatterns.normalise("http2 v1.2.3 user42 deadbeef facade") == "http2 v1.2.3 user42 deadbeef facade"


def test_counted_per_source_most_first_and_per_pattern_with_an_example() -> None:
    lines = [TIMEOUT.format(s=i, n=1000 + i, ms=5000 + i, uuid=UUIDS[i]) for i in range(3)]
    lines += ["api-7d9f-fghij 2026-12-02T13:05:07Z ERROR database is locked (sqlite code 5) in transaction 0x6012",
              "api-7d9f-fghij 2026-12-02T13:05:08Z ERROR database is locked (sqlite code 5) in transaction 0x9a1b",
              "api-7d9f-zzzzz 2026-12-02T13:05:09Z FATAL out of memory"]
    assert logpatterns.sources(lines) == {"api-7d9f-abcde": 3, "api-7d9f-fghij": 2, "api-7d9f-zzzzz": 1}
    assert list(logpatterns.sources(lines)) == ["api-7d9f-abcde", "api-7d9f-fghij", "api-7d9f-zzzzz"]
    found = logpatterns.patterns(lines)
    assert [(p["pattern"], p["count"]) for p in found] == [
        ("<ts> ERROR GET /api/orders/<n> -> <n>: upstream timed out after <n> ms (request <uuid>)", 3),
        ("<ts> ERROR database is locked (sqlite code <n>) in transaction <hex>", 2),
        ("<ts> FATAL out of memory", 1),
    ]
    assert found[0]["example"] == lines[0]  # the first such line, its source included
    assert found[1]["example"] == lines[3]


def test_top_ten_ties_in_order_of_appearance_empty_messages_not_counted() -> None:
    lines = [f"pod message number{chr(97 + i)} x" for i in range(12) for _ in range(1 + (i == 11))]
    lines += ["pod", "pod ", ""]
    found = logpatterns.patterns(lines)
    assert len(found) == logpatterns.TOP == 10
    assert found[0] == {"pattern": "message numberl x", "count": 2, "example": "pod message numberl x"}
    assert [p["pattern"] for p in found[1:]] == [f"message number{chr(97 + i)} x" for i in range(9)]
    assert logpatterns.sources(lines) == {"pod": 15}


def test_long_lines_are_cut_in_the_pattern_and_example() -> None:
    line = "pod " + "word " * 200
    (found,) = logpatterns.patterns([line])
    assert len(found["pattern"]) == 300 and found["pattern"].endswith("…")
    assert len(found["example"]) == 500 and found["example"].endswith("…")


def test_loglines_registers_sources_and_patterns_computed_from_its_lines() -> None:
    """Both targets build LogLines from their lines only: the new keys come for free, in the registered data."""
    lines = ["c1 ERROR a 1", "c2 ERROR a 2", "c1 ERROR b"]
    data = to_result(LogLines.of({"service": "api", "lines": lines, "count": 3, "containers": {}})).data
    assert data["sources"] == {"c1": 2, "c2": 1}
    assert data["patterns"] == [{"pattern": "ERROR a <n>", "count": 2, "example": "c1 ERROR a 1"},
                                {"pattern": "ERROR b", "count": 1, "example": "c1 ERROR b"}]
    assert data["containers"] == {}  # the mode's extras stay
    empty = LogLines(service="api", lines=[], count=0, previous=True).but(count=0)
    assert empty.data["sources"] == {} and empty.data["patterns"] == []
    assert LogLines.registered_keys()[-2:] == ["sources", "patterns"]
