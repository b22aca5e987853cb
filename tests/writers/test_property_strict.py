"""What the encoder sends, the strict server stores; what it would refuse, the encoder refuses.

A property test (issue 9): hypothesis builds frames of every visit and product kind, mixing
good values with deliberately bad ones (and knowing which rows it made bad), pushes them to the
emulator in strict mode over loopback (where one bad line fails the whole body with a 400), and
checks that:

- no body was refused (nothing failed, the emulator kept no rejected line);
- the rows reported invalid are exactly the rows the generator made bad;
- every row sent is stored: visit events one for one (``srv.state``), product events as the
  views, add-to-cart and bought quantities of their EANs.

Bounded for CI: ``KAMELEOON_PROPERTY_EXAMPLES`` (default 50) examples per test.
"""

from __future__ import annotations

import itertools
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kameleoon_pandas as kp
from kameleoon_pandas.emulator import serve
from kameleoon_pandas.frames.encode import VISIT_KINDS

EXAMPLES = int(os.environ.get("KAMELEOON_PROPERTY_EXAMPLES", "50"))
INT64 = (-(2**63), 2**63 - 1)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_sites = itertools.count()


@pytest.fixture(scope="module")
def strict() -> Iterator[tuple[Any, kp.Client]]:
    with (
        serve(strict=True) as srv,
        kp.Client(srv.site_codes[0], base_url=srv.url, retry_budget=0) as client,
    ):
        yield srv, client


# --------------------------------------------------------------------------- values

#: Texts the server takes: any character but a lone surrogate (NUL, line breaks, & and = too).
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
SURROGATE = st.builds(lambda a, s, b: a + s + b, TEXT, st.characters(categories=["Cs"]), TEXT)
NONEMPTY = TEXT.filter(bool)
FINITE = st.floats(allow_nan=False, allow_infinity=False)


def good_int() -> st.SearchStrategy[Any]:
    # Python ints within 2**53: a column with a gap is float64, which holds those exactly (the
    # int64 limits come as texts, which stay exact; an int64 column is tested on its own)
    return st.one_of(
        st.integers(-(2**53), 2**53),
        st.integers(-(2**53), 2**53).map(float),  # integral floats: integers
        st.integers(-(10**6), 10**6).map(str),  # decimal texts
        st.sampled_from([str(INT64[0]), str(INT64[1]), "+7", " 12 ", 0]),
    )


BAD_INT = st.one_of(
    st.floats(allow_nan=False).filter(lambda x: not float(x).is_integer()),
    st.sampled_from(["abc", "", "1.5", "nan", True, 2**63, -(2**63) - 1, 2.0**63, float("inf")]),
    st.just([1]),
)
GOOD_FLOAT = st.one_of(FINITE, st.integers(-(10**9), 10**9), st.sampled_from(["19.90", "-3"]))
BAD_FLOAT = st.sampled_from([float("inf"), float("-inf"), "n/a", "1e400", True, "nan", b"1"])
GOOD_BOOL = st.sampled_from([True, False, 0, 1, "true", "FALSE", "yes", "no", 1.0])
BAD_BOOL = st.sampled_from([2, "maybe", 0.5, "", "tru"])
GOOD_TEXT = st.one_of(TEXT, st.integers(-(10**6), 10**6))
BAD_TEXT = st.one_of(SURROGATE, st.sampled_from([b"bytes", True, ("t",)]))

JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(*INT64), FINITE, TEXT)
JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)


def nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


GOOD_OBJECT = st.one_of(
    st.dictionaries(TEXT, JSON, max_size=3),
    st.dictionaries(TEXT, JSON, max_size=3).map(json.dumps),  # a JSON text
    st.just({"deep": nest(63)}),  # 64 levels: fine
)
BAD_OBJECT = st.one_of(
    st.sampled_from(['{"a": NaN}', '{"a": 1e400}', "not json", "[1, 2]", '{"a": Infinity}']),
    st.just({"a": float("nan")}),
    st.just({"deep": nest(64)}),  # 65 levels
    SURROGATE.map(lambda s: {"k": s}),
    SURROGATE.map(lambda s: {s: 1}),
    st.lists(JSON, max_size=2),  # an array is no object
)
GOOD_INT_ARRAY = st.one_of(
    st.lists(st.integers(*INT64), max_size=4),
    st.lists(st.integers(0, 50), max_size=4).map(lambda v: [float(x) for x in v]),
    st.lists(st.integers(0, 50), max_size=4).map(json.dumps),
    st.lists(st.integers(0, 50), max_size=4).map(np.array),
)
BAD_INT_ARRAY = st.sampled_from([["1"], [1.5], "[1, true]", {"a": 1}, "nope", [2**63], [None]])
CATEGORY = st.fixed_dictionaries({"id": TEXT, "name": TEXT, "parent": st.one_of(st.none(), TEXT)})
GOOD_CATEGORIES = st.one_of(
    st.lists(CATEGORY, max_size=3), st.lists(CATEGORY, max_size=2).map(json.dumps)
)
BAD_CATEGORIES = st.sampled_from(["not json", [{"id": "1"}], [1], {"id": "1", "name": "x"}])
GOOD_ARRAY = st.one_of(st.lists(JSON, max_size=3), st.lists(TEXT, max_size=3).map(json.dumps))
BAD_ARRAY = st.sampled_from([{"a": 1}, "nope", '{"a": 1}', 3])


@dataclass(frozen=True)
class Field:
    column: str
    good: st.SearchStrategy[Any]
    bad: st.SearchStrategy[Any] | None = None
    required: bool = False


def f(column, good, bad=None, required=False) -> Field:
    return Field(column, good, bad, required)


VISIT_FIELDS = {
    "conversion": [
        f("goal_id", good_int(), BAD_INT, True),
        # a missing revenue is an error, never 0: always given when good
        f("revenue", GOOD_FLOAT, st.one_of(BAD_FLOAT, st.just(None))),
        f("negative", GOOD_BOOL, BAD_BOOL),
        f("metadata", GOOD_OBJECT, BAD_OBJECT),
    ],
    "custom_data": [
        f("custom_data_index", good_int(), BAD_INT, True),
        f("value", GOOD_TEXT, st.one_of(BAD_TEXT, st.just(None)), True),
        f("count", st.integers(0, 2**40), st.sampled_from([-1, 1.5, "x", float("inf")])),
        f("overwrite", GOOD_BOOL, BAD_BOOL),
    ],
    "page": [
        f("href", st.one_of(NONEMPTY, st.integers(0, 99)), st.one_of(BAD_TEXT, st.just("")), True),
        f("title", GOOD_TEXT, BAD_TEXT),
        f("referrers_indices", GOOD_INT_ARRAY, BAD_INT_ARRAY),
    ],
    "experiment": [
        f("experiment_id", good_int(), BAD_INT, True),
        f("variation_id", good_int(), BAD_INT, True),
    ],
    "personalization": [
        f("personalization_id", good_int(), BAD_INT, True),
        f("variation_id", good_int(), BAD_INT, True),
    ],
    "geolocation": [
        f("country", NONEMPTY, st.one_of(BAD_TEXT, st.just("")), True),
        f("region", GOOD_TEXT, BAD_TEXT),
        f("city", GOOD_TEXT, BAD_TEXT),
        f("postal_code", st.one_of(TEXT, st.integers(0, 99999).map(float)), BAD_TEXT),
        f("latitude", GOOD_FLOAT, BAD_FLOAT),
        f("longitude", GOOD_FLOAT, BAD_FLOAT),
    ],
    "static_data": [
        f("visit_number", good_int(), BAD_INT),
        f("device_type", st.sampled_from(["DESKTOP", "phone", " Tablet "]), st.just("TV")),
        f(
            "browser",
            st.sampled_from(["CHROME", "safari", "INTERNET_EXPLORER", 0, 5, "3"]),
            st.sampled_from(["NETSCAPE", 6, -1, 1.5]),
        ),
        f("browser_version", GOOD_FLOAT, BAD_FLOAT),
        f("os", st.sampled_from(["WINDOWS", "mac", "WINDOWS_PHONE"]), st.just("BEOS")),
        f("time_since_previous_visit", good_int(), BAD_INT),
    ],
    "targeting_segment": [f("targeting_segment_id", good_int(), BAD_INT, True)],
}
PRODUCT_FIELDS = {
    "product_page": [
        f("name", GOOD_TEXT, BAD_TEXT),
        f("price", GOOD_FLOAT, BAD_FLOAT),
        f("old_price", GOOD_FLOAT, BAD_FLOAT),
        f("available", GOOD_BOOL, BAD_BOOL),
        f("available_quantity", good_int(), BAD_INT),
        f("brand", GOOD_TEXT, BAD_TEXT),
        f("url", GOOD_TEXT, BAD_TEXT),
        f("image_url", GOOD_TEXT, BAD_TEXT),
        f("categories", GOOD_CATEGORIES, BAD_CATEGORIES),
        f("tags", GOOD_ARRAY, BAD_ARRAY),
        f("rating", GOOD_FLOAT, BAD_FLOAT),
        f("colour", GOOD_TEXT, SURROGATE),  # an attribute the contract does not name
    ],
    "add_to_cart": [f("quantity", st.integers(1, 2**53), st.sampled_from([0, -2, 1.5, "many"]))],
    "purchase": [f("quantity", st.integers(1, 2**53), st.sampled_from([0, float("inf"), True]))],
}
BAD_IDS = st.one_of(
    st.sampled_from(["", b"bytes", ("t",), True, 1.5, None, "x" * 101, "🎉" * 101]),
    SURROGATE,
)


@dataclass
class Example:
    """A generated frame: its rows, which of them are bad, and the identifiers sent."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: set[int] = field(default_factory=set)
    ids: dict[int, str] = field(default_factory=dict)  # good row -> its identifier's text
    nullable: bool = False  # pandas' nullable dtypes (Int64, Float64, boolean, string)

    def frame(self) -> pd.DataFrame:
        # Python-held strings: pyarrow's (pandas' default where installed) cannot even hold the
        # lone surrogates this test generates as bad values.
        names = list(dict.fromkeys(name for row in self.rows for name in row))
        columns = {}
        for name in names:
            values = [row.get(name, np.nan) for row in self.rows]
            try:
                columns[name] = pd.Series(values)
            except UnicodeEncodeError:
                columns[name] = pd.Series(values, dtype=object)
        frame = pd.DataFrame(columns, index=pd.RangeIndex(len(self.rows)))
        with pd.option_context("mode.string_storage", "python"):
            return frame.convert_dtypes() if self.nullable else frame


def identifier(draw: st.DrawFn, i: int) -> tuple[Any, str]:
    """A good identifier unique to row ``i`` (text, integer or integral float), its text."""
    style = draw(st.sampled_from(["text", "text", "int", "float"]))
    if style == "int":
        return 10**9 + i, str(10**9 + i)
    if style == "float":
        return float(10**9 + i), str(10**9 + i)
    suffix = f"#{i}"
    prefix = draw(TEXT)[: 100 - len(suffix)]
    if draw(st.booleans()):
        prefix = (prefix + "é&=+%\n" * 20)[: 100 - len(suffix)]  # up to 100 characters exactly
    return prefix + suffix, prefix + suffix


@st.composite
def examples(draw: st.DrawFn, tables: dict[str, list[Field]], id_column: str) -> Example:
    out = Example(nullable=draw(st.booleans()))
    kinds = draw(st.lists(st.sampled_from(sorted(tables)), min_size=1, max_size=14))
    for i, kind in enumerate(kinds):
        fields = tables[kind]
        row: dict[str, Any] = {"kind": kind}
        value, text = identifier(draw, i)
        row[id_column] = value
        # at most one deliberately bad cell per row
        spoil = draw(st.sampled_from([None, None, id_column, *(x.column for x in fields)]))
        bad = False
        for fld in fields:
            if fld.column == spoil and fld.bad is not None:
                row[fld.column] = draw(fld.bad)
                bad = True
            elif fld.required or fld.column == "revenue" or draw(st.booleans()):
                row[fld.column] = draw(fld.good)
            else:
                row[fld.column] = None  # left out
        if spoil == id_column:
            row[id_column] = draw(BAD_IDS)
            bad = True
        if kind == "static_data" and all(row[x.column] is None for x in fields):
            bad = True  # no field given
        if bad:
            out.bad.add(i)
        else:
            out.ids[i] = text
        out.rows.append(row)
    return out


def push(push_fn, frame: pd.DataFrame, client: kp.Client, site: str) -> kp.PushReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kp.KameleoonWarning)  # columns of a kind all bad, ...
        return push_fn(frame, client=client, site_code=site, progress=False)


def check_report(report: kp.PushReport, example: Example, srv: Any, site: str) -> None:
    rejected = srv.state.rejected_lines(site)
    assert report.failed_rows == 0 and not rejected, (report.failures, rejected)
    assert set(report.invalid["index"]) == example.bad, report.invalid
    assert report.sent == len(example.ids) == len(example.rows) - len(example.bad)


@SETTINGS
@given(example=examples(VISIT_FIELDS, "visitor_code"))
def test_visit_events_strict_server_stores_every_row_sent(strict, example: Example) -> None:
    srv, client = strict
    site = f"propv{next(_sites):05d}"
    report = push(kp.push_events, example.frame(), client, site)
    check_report(report, example, srv, site)
    stored = srv.state.visitor_events(site, sorted(set(example.ids.values())))
    assert len(stored) == report.sent
    # each good row stored under its visitor code (101.0 as "101") as an event of its kind
    want = sorted(
        (text, VISIT_KINDS[example.rows[i]["kind"]].event_type) for i, text in example.ids.items()
    )
    assert sorted((code, kind) for code, _, _, kind, _ in stored) == want


@SETTINGS
@given(example=examples(PRODUCT_FIELDS, "ean"))
def test_product_events_strict_server_stores_every_row_sent(strict, example: Example) -> None:
    srv, client = strict
    site = f"propp{next(_sites):05d}"
    report = push(kp.push_product_events, example.frame(), client, site)
    check_report(report, example, srv, site)
    expected = {ean: {"v": 0, "atcq": 0, "bq": 0} for ean in example.ids.values()}
    for i, ean in example.ids.items():
        row = example.rows[i]
        quantity = row.get("quantity")
        n = 1 if quantity is None else int(quantity)
        if row["kind"] == "product_page":
            expected[ean]["v"] += 1
        elif row["kind"] == "add_to_cart":
            expected[ean]["atcq"] += n
        else:
            expected[ean]["bq"] += n
    assert srv.state.product_counters(site, list(expected), None, None) == expected
