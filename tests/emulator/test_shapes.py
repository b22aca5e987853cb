"""The fast path of line bodies (``shapes``) against the validator (``wire``), the reference.

The fast path may decline any body (then the validator reads it line by line); when it takes
one, every line must be one the validator accepts, stored as the validator would store it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kameleoon_pandas.emulator import EmulatorState, shapes, wire
from kameleoon_pandas.emulator.model import EmulatorModel

from .helpers import nonce


@pytest.fixture(autouse=True)
def _fresh_shapes() -> Iterator[None]:
    shapes.reset()
    yield
    shapes.reset()


def slow_rows(text: str) -> tuple[list[tuple[str, str, str, str]], list[wire.Rejection]]:
    """``(visitor, nonce, kind, stored text)`` per accepted line, and the refused lines."""
    raws, rejections = wire.decode_text(text, json_body=False)
    rows = [
        (event.visitor_code or "", event.nonce, event.kind, line)
        for event, line in wire.iter_visit_events(raws, None, rejections)
    ]
    return rows, rejections


def fast_rows(text: str) -> list[tuple[str, str, str, str]] | None:
    fast = shapes.match_visit_lines(text)
    if fast is None:
        return None
    return list(zip(fast.visitor_codes, fast.nonces, fast.kinds, fast.lines, strict=True))


def learn(text: str) -> None:
    rows, rejections = slow_rows(text)
    assert not rejections, rejections
    shapes.learn_visit_lines(row[3] for row in rows)


ENCODER = [  # lines the way kameleoon-pandas' encoder writes them
    "eventType=conversion&visitorCode=v1&goalId=1001&revenue=1.5&metadata=%7B%22a%22%3A1%7D"
    "&nonce=EF210760ABB3EFB6",
    "eventType=page&visitorCode=v1&href=https%3A%2F%2Fx%2Fy%3Fa%3D1&title=T&nonce=50E35740D89D1F98",
    "eventType=staticData&visitorCode=v2&deviceType=PHONE&browserIndex=0&nonce=74BE521DBFFF465A",
    "eventType=customData&visitorCode=v2&index=2&valuesCountMap=%7B%22gold%22%3A2%7D"
    "&overwrite=true&nonce=74BE521DBFFF465B",
]


def test_a_body_of_learned_shapes_takes_the_fast_path_with_the_validators_rows() -> None:
    body = "\n".join(ENCODER)
    assert fast_rows(body) is None  # nothing learned yet
    learn(body)
    other = "\n".join(
        line.replace("v1", "other-visitor").replace("EF21", "AAAA").replace("1001", "-7")
        for line in ENCODER
    )
    rows, rejections = slow_rows(other)
    assert not rejections
    assert fast_rows(other) == rows
    assert fast_rows(other + "\n") == rows  # a trailing empty line is allowed


@pytest.mark.parametrize(
    "change",
    [
        ("goalId=1001", "goalId=abc"),  # a bad value: the validator names it
        ("goalId=1001", "goalId=99999999999999999999"),  # beyond 64 bits
        ("revenue=1.5", "revenue=1e400"),
        ("%7B%22a%22%3A1%7D", "%7B%22a%22%3A1e400%7D"),  # a JSON value that is not finite
        ("%7B%22gold%22%3A2%7D", "%7B%22%5Cud800%22%3A2%7D"),  # a lone surrogate escape
        ("visitorCode=v1", "visitorCode=v%201"),  # encoded: the validator decodes it
        ("visitorCode=v1", "visitorCode=" + "v" * 101),
        ("nonce=EF210760ABB3EFB6", "nonce=ef210760abb3efb6"),  # lower case: upper-cased alike
        ("&title=T", "&title=T&mappingValue=crm-1"),  # a mapping value: model rules
        ("eventType=page", "eventType=PAGE"),  # another spelling: another shape
        ("deviceType=PHONE", "deviceType=phone"),
    ],
)
def test_anything_unusual_leaves_the_body_to_the_validator(change: tuple[str, str]) -> None:
    learn("\n".join(ENCODER))
    old, new = change
    body = "\n".join(line.replace(old, new) for line in ENCODER)
    assert body != "\n".join(ENCODER)
    fast = fast_rows(body)
    if fast is not None:  # only where the validator agrees line by line (lower-case nonces)
        assert fast == slow_rows(body)[0] and not slow_rows(body)[1]
    else:
        assert fast is None


@pytest.mark.parametrize("separator", ["\r\n", "\n\n"])
def test_other_line_breaks_and_empty_lines_take_the_slow_path(separator: str) -> None:
    learn("\n".join(ENCODER))
    assert fast_rows(separator.join(ENCODER)) is None
    assert fast_rows("\n".join(ENCODER) + "\n\n") is None


def test_the_fast_path_rows_are_stored_like_the_validators() -> None:
    learn("\n".join(ENCODER))
    text = "\n".join(ENCODER)
    fast = shapes.match_visit_lines(text)
    assert fast is not None
    state = EmulatorState(":memory:")
    model = EmulatorModel(state)
    raws, rejections = wire.decode_text(text, json_body=False)
    slow = model.prepare_visit_events("s", wire.iter_visit_events(raws, None, rejections), now=7)
    quick = model.prepare_visit_lines("s", fast, now=7)
    strip_seq = lambda rows: [row[:4] + row[5:] for row in rows]  # noqa: E731
    assert strip_seq(quick.rows) == strip_seq(slow.rows) and quick.links == slow.links == []
    state.close()


def test_at_most_max_shapes_are_learned() -> None:
    lines = [f"eventType=activity&visitorCode=v&x{i}=1&nonce={nonce()}" for i in range(100)]
    learn("\n".join(lines))
    assert shapes.learn_visit_lines(lines) == 0
    assert len(shapes._registry.branches) == shapes.MAX_SHAPES


# -- the property: never more than the validator accepts ------------------------------------------

KINDS = {
    "conversion": ["goalId", "revenue", "negative", "metadata"],
    "customData": ["index", "valuesCountMap", "overwrite"],
    "page": ["href", "title", "referrersIndices"],
    "staticData": ["browserIndex", "browser", "browserVersion", "deviceType", "os", "osIndex",
                   "visitNumber", "timeSincePreviousVisit"],
    "experiment": ["id", "variationId"],
    "geolocation": ["country", "region", "city", "latitude", "longitude"],
    "activity": [],
}  # fmt: skip
GOOD = {
    "goalId": "12", "revenue": "9.5", "negative": "false", "metadata": '{"a": [1]}',
    "index": "3", "valuesCountMap": '{"gold": 1}', "overwrite": "true", "href": "https://x/?a=1",
    "title": "A title", "referrersIndices": "[1, 2]", "browserIndex": "2", "browser": "CHROME",
    "browserVersion": "125.0", "deviceType": "DESKTOP", "os": "MAC", "osIndex": "1",
    "visitNumber": "2", "timeSincePreviousVisit": "60000", "id": "5", "variationId": "6",
    "country": "France", "region": "IDF", "city": "Paris", "latitude": "48.8", "longitude": "2.3",
    "userAgent": "Mozilla/5.0",
}  # fmt: skip
EDGES = [
    "", "0", "-0", "+1", "1.", ".5", "1e400", "nan", "-inf", "99999999999999999999",
    "999999999999999999", "-999999999999999999", "1" * 19, "true", "True", "FALSE", "6", "-1",
    "phone", "TABLET", "[1e400]", '{"a": 99999999999999999999}', '{"\\ud800": 1}', "[1, 2.5]",
    "[" * 70 + "]" * 70, "x" * 101, "é", "%", "%ZZ", "a+b", "=", "[]", "{}", "null", "\\",
]  # fmt: skip


@st.composite
def shaped_lines(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """``(training lines with good values, test lines of the same shapes with any values)``."""
    layouts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(sorted(KINDS)))
        required = [n for n, (_, req) in wire.VISIT_FIELDS[kind].items() if req]
        optional = [n for n in [*KINDS[kind], "userAgent"] if n not in required]
        fields = required + draw(st.lists(st.sampled_from(optional), unique=True))
        names = draw(st.permutations(["eventType", "nonce", "visitorCode", *fields]))
        spelling = draw(st.sampled_from([kind, kind.upper(), kind.lower()]))
        layouts.append((spelling, names))

    raw = draw(st.sets(st.sampled_from(sorted(GOOD))))  # fields written unencoded when they can

    def encode(name: str, value: str) -> str:
        if name in raw and not any(c in value for c in "&\n\r"):
            return value
        return quote(value, safe="").replace("%20", "+")

    def line(spelling: str, names: list[str], values: dict[str, str]) -> str:
        return "&".join(f"{name}={encode(name, values[name])}" for name in names)

    training, testing = [], []
    for spelling, names in layouts:
        good = {**GOOD, "eventType": spelling, "nonce": nonce(), "visitorCode": "visitor-1"}
        training.append(line(spelling, names, good))
        for _ in range(draw(st.integers(1, 3))):
            values = {**good, "nonce": draw(st.sampled_from([nonce(), nonce(), nonce().lower()]))}
            values["visitorCode"] = draw(st.sampled_from(["v", "v2", "a b", "x" * 100]))
            odds = draw(st.sampled_from([0, 0, 3, 8]))  # 0: good values only
            for name in names:
                if name != "eventType" and odds and draw(st.integers(0, odds)) == 0:
                    values[name] = draw(
                        st.sampled_from(EDGES)
                        | st.text(max_size=6)
                        | st.integers(-(2**64), 2**64).map(str)
                        | st.floats().map(repr)
                    )
            testing.append(line(spelling, names, values))
    return training, draw(st.permutations(testing))


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(lines=shaped_lines())
def test_the_fast_path_never_accepts_more_than_the_validator(
    lines: tuple[list[str], list[str]],
) -> None:
    training, testing = lines
    shapes.reset()
    rows, rejections = slow_rows("\n".join(training))
    if rejections:  # a layout the validator refuses with good values (a required field left out)
        training = [row[3] for row in rows]
    shapes.learn_visit_lines(training)
    if training:
        assert fast_rows("\n".join(training)) == slow_rows("\n".join(training))[0]
    body = "\n".join(testing)
    fast = fast_rows(body)
    event("fast path" if fast is not None else "slow path")
    if fast is not None:
        rows, rejections = slow_rows(body)
        assert rejections == []
        assert fast == rows


def test_json_values_are_checked_once_per_distinct_value() -> None:
    learn("\n".join(ENCODER))
    calls = []
    original = shapes._JSON_FIELDS["valuesCountMap"]

    def counting(value: str) -> object:
        calls.append(value)
        return original(value)

    shapes._JSON_FIELDS["valuesCountMap"] = counting
    try:
        body = "\n".join([ENCODER[3].replace("74BE521DBFFF465B", nonce()) for _ in range(500)])
        assert fast_rows(body) is not None
        assert fast_rows(body) is not None
    finally:
        shapes._JSON_FIELDS["valuesCountMap"] = original
    assert calls == [json.dumps({"gold": 2}, separators=(",", ":"))]  # once, then remembered
