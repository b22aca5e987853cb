"""The magic's syntax without a shell: times, literals, cell bodies, $variables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

from kameleoon_pandas.ipython import parse_time
from kameleoon_pandas.ipython._parsing import (
    body_items,
    expand_variables,
    split_line,
    split_literal,
    to_items,
)

NOW = pd.Timestamp("2026-11-08 12:34:56", tz="UTC")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("today", pd.Timestamp("2026-11-08", tz="UTC")),
        ("yesterday", pd.Timestamp("2026-11-07", tz="UTC")),
        ("7d", NOW - pd.Timedelta(days=7)),
        ("-7d", NOW - pd.Timedelta(days=7)),
        ("+2h", NOW + pd.Timedelta(hours=2)),
        ("24h", NOW - pd.Timedelta(hours=24)),
        ("90min", NOW - pd.Timedelta(minutes=90)),
        ("90m", NOW - pd.Timedelta(minutes=90)),
        ("30s", NOW - pd.Timedelta(seconds=30)),
        ("2w", NOW - pd.Timedelta(weeks=2)),
        ("1h30min", NOW - pd.Timedelta(minutes=90)),
        ("1.5h", NOW - pd.Timedelta(minutes=90)),
        ("3 days ago", NOW - pd.Timedelta(days=3)),
        ("2 hours", NOW - pd.Timedelta(hours=2)),
        ("2026-11-01", pd.Timestamp("2026-11-01", tz="UTC")),
        ("2026-11-01T08:00", pd.Timestamp("2026-11-01 08:00", tz="UTC")),
        ("2026-11-01T08:00+02:00", pd.Timestamp("2026-11-01 06:00", tz="UTC")),
        ("20261101", pd.Timestamp("2026-11-01", tz="UTC")),
    ],
)
def test_parse_time(text: str, expected: pd.Timestamp) -> None:
    got = parse_time(text, now=NOW)
    assert got == expected
    assert str(got.tz) == "UTC"


@pytest.mark.parametrize("text", ["", "soon", "7", "7x", "7 fortnights", "2026-13-45", "d7"])
def test_parse_time_refuses_what_is_no_time(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a time|unknown unit"):
        parse_time(text, now=NOW)


def test_parse_time_defaults_to_the_current_time() -> None:
    before = pd.Timestamp.now(tz="UTC")
    got = parse_time("1h")
    assert before - pd.Timedelta(hours=1, seconds=5) <= got <= before


def test_literals_and_cell_bodies() -> None:
    assert split_literal("a,b, c") == ["a", "b", "c"]
    assert split_literal("a b\tc") == ["a", "b", "c"]
    assert split_literal(",,") == []
    body = "\n  SKU-1  \n\nSKU-2\tShoes\t19.90\n\t\n   SKU-3\r\n"
    assert body_items(body) == ["SKU-1", "SKU-2", "SKU-3"]


def test_split_line_groups_quotes_and_refuses_an_open_one() -> None:
    assert split_line('counters "a b c" --start 7d') == ["counters", "a b c", "--start", "7d"]
    with pytest.raises(UsageError, match="cannot read the line"):
        split_line('counters "a b')


def test_expand_variables() -> None:
    ns = {
        "eans": ["a", "b"],
        "site": "demosite02",
        "n": 3,
        "since": pd.Timestamp("2026-11-01", tz="UTC"),
        "day": dt.date(2026, 11, 2),
    }
    tokens, objects = expand_variables(
        ["counters", "$eans", "--site", "$site", "${n}", "$since", "$day", "plain"], ns
    )
    assert tokens == [
        "counters",
        "$eans",
        "--site",
        "demosite02",
        "3",
        "2026-11-01T00:00:00+00:00",
        "2026-11-02",
        "plain",
    ]
    assert objects == {"$eans": ["a", "b"]}
    with pytest.raises(UsageError, match="no variable named 'missing'"):
        expand_variables(["$missing"], ns)


def test_to_items_takes_every_list_like() -> None:
    assert to_items(["a", "b"], column="ean", source="x") == ["a", "b"]
    assert to_items(("a",), column="ean", source="x") == ["a"]
    assert to_items(pd.Series(["a", "b"]), column="ean", source="x") == ["a", "b"]
    assert to_items(pd.Index(["a"]), column="ean", source="x") == ["a"]
    assert to_items(np.array(["a", "b"]), column="ean", source="x") == ["a", "b"]
    assert to_items(pd.DataFrame({"sku": ["a", "b"]}), column="ean", source="x") == ["a", "b"]
    wide = pd.DataFrame({"name": ["n1"], "ean": ["e1"]})
    assert to_items(wide, column="ean", source="x") == ["e1"]
    with pytest.raises(UsageError, match="no 'ean' column"):
        to_items(pd.DataFrame({"a": [1], "b": [2]}), column="ean", source="x")
    with pytest.raises(UsageError, match="holds a dict"):
        to_items({"a": 1}, column="ean", source="x")
    with pytest.raises(UsageError, match="2-dimensional"):
        to_items(np.zeros((2, 2)), column="ean", source="x")
