"""Nonces that survive re-exports (issue 9): never the position or the label; key= or content."""

from __future__ import annotations

import io
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
import pytest

from kameleoon_pandas import ValidationError
from kameleoon_pandas.frames.encode import plan_product_events, plan_visit_events
from kameleoon_pandas.frames.encode.nonces import value_hashes


def nonces(df: pd.DataFrame, kind: str = "conversion", **kw) -> dict:
    """order id (or row label) -> nonce, for the rows sent."""
    plan = plan_visit_events(df, kind, site_code="s", **kw)
    out = {}
    for batch in plan.batches():
        lines = [x for x in batch.body.decode("ascii").split("\n") if x]
        for event, line in zip(batch.events.tolist(), lines, strict=True):
            out[df["order_id"].iloc[event]] = dict(parse_qsl(line))["nonce"]
    return out


def export(n: int = 6, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"SO-{1000 + i}" for i in range(start, start + n)],
            "visitor_code": [f"cust-{i % 3}" for i in range(start, start + n)],
            "goal_id": 901,
            "revenue": np.round(np.arange(start, start + n) * 10.5 + 1, 2),
            "store": ["Lyon", "Lille"] * (n // 2) + ["Lyon"] * (n % 2),
        }
    )


@pytest.mark.parametrize("key", [None, "order_id"])
def test_prepend_append_reorder_filter_and_relabel_keep_every_nonce(key) -> None:
    today = export(6)
    first = nonces(today, key=key)
    assert len(set(first.values())) == 6
    tomorrow = pd.concat([export(1, start=6), today])  # one new row on top: labels shift
    prepended = nonces(tomorrow, key=key)
    assert {k: prepended[k] for k in first} == first
    assert prepended["SO-1006"] not in first.values()
    assert nonces(pd.concat([today, export(2, start=6)]), key=key).items() >= first.items()
    assert nonces(today.iloc[::-1], key=key) == first
    assert nonces(today.sample(frac=1, random_state=3).reset_index(drop=True), key=key) == first
    filtered = today[today["store"] == "Lyon"]
    assert nonces(filtered, key=key) == {k: first[k] for k in filtered["order_id"]}
    assert nonces(today.set_axis(list("abcdef")), key=key) == first
    assert nonces(today[today.columns[::-1]], key=key) == first  # columns by name


def test_identical_rows_get_distinct_nonces_by_rank_and_keep_them() -> None:
    row = {"visitor_code": "v", "goal_id": 1, "revenue": 5.0}
    df = pd.DataFrame([row, row, {**row, "revenue": 6.0}, row])
    plan = plan_visit_events(df, "conversion", site_code="s")
    got = [dict(parse_qsl(x))["nonce"] for b in plan.batches() for x in b.body.decode().split()]
    assert len(set(got)) == 4
    # the first of the identical rows keeps its nonce whatever comes before it
    other = pd.DataFrame([{**row, "revenue": 7.0}, row, row, row])
    again = [
        dict(parse_qsl(x))["nonce"]
        for b in plan_visit_events(other, "conversion", site_code="s").batches()
        for x in b.body.decode().split()
    ]
    assert again[1:] == [got[0], got[1], got[3]]
    assert plan.nonces_of(np.arange(4)) == got


def test_duplicate_index_labels_are_fine() -> None:
    df = export(4).set_axis([0, 0, 1, 1])
    assert len(set(nonces(df).values())) == 4


def test_with_key_the_other_columns_do_not_matter() -> None:
    a = export(4)
    b = a.assign(store="Paris", revenue=a["revenue"] + 1, extra=[1, 2, 3, 4])
    assert nonces(a, key="order_id") == nonces(b, key="order_id")
    assert nonces(a) != nonces(b)  # without: they do
    c = a.assign(visitor_code="someone-else")  # the key is all: a key identifies one event
    assert nonces(a, key="order_id") == nonces(c, key="order_id")
    # several key columns, in their order
    two = a.assign(line=[1, 1, 2, 2])
    assert nonces(two, key=["order_id", "line"]) != nonces(two, key=["line", "order_id"])
    # the site and the kind enter the nonce
    plan = plan_product_events(
        a.assign(ean=a["order_id"]), "purchase", site_code="s", key="order_id"
    )
    buy = {
        dict(parse_qsl(line))["nonce"] for b in plan.batches() for line in b.body.decode().split()
    }
    assert not buy & set(nonces(a, key="order_id").values())
    other_site = plan_visit_events(a, "conversion", site_code="t", key="order_id")
    assert (
        next(other_site.batches()).body
        != next(plan_visit_events(a, "conversion", site_code="s", key="order_id").batches()).body
    )


def test_duplicate_and_missing_keys_are_invalid_rows_not_guesses() -> None:
    df = export(5)
    df.loc[1, "order_id"] = "SO-1000"  # a duplicate of row 0
    df.loc[3, "order_id"] = None
    plan = plan_visit_events(df, "conversion", site_code="s", key="order_id")
    sent = [b for b in plan.batches()]
    assert sum(len(b.events) for b in sent) == 2
    assert plan.invalid.to_dict("records") == [
        {
            "index": 0,
            "column": "order_id",
            "reason": "duplicate key: another row of this kind has the same key",
        },
        {
            "index": 1,
            "column": "order_id",
            "reason": "duplicate key: another row of this kind has the same key",
        },
        {"index": 3, "column": "order_id", "reason": "missing key value"},
    ]
    with pytest.raises(ValidationError, match="no column 'order'"):
        plan_visit_events(df, "conversion", site_code="s", key="order")
    # one key, two kinds: two events
    both = pd.DataFrame(
        {
            "visitor_code": ["v", "v"],
            "kind": ["conversion", "page"],
            "goal_id": [1, None],
            "href": [None, "https://x.example"],
            "order_id": ["o1", "o1"],
        }
    )
    plan = plan_visit_events(both, site_code="s", key="order_id")
    assert sum(len(b.events) for b in plan.batches()) == 2 and plan.invalid.empty


def test_a_nonce_column_still_wins() -> None:
    df = export(3).assign(nonce=["00000000000000AA", None, None])
    got = nonces(df, key="order_id")
    assert got["SO-1000"] == "00000000000000AA"
    assert got["SO-1001"] == nonces(export(3), key="order_id")["SO-1001"]


def test_values_hash_by_value_so_a_csv_read_again_keeps_the_nonces() -> None:
    # an integer id column with a gap comes back as floats (101.0): it hashes like 101
    ints = pd.Series([101, 102, 103])
    assert (value_hashes(ints) == value_hashes(pd.Series([101.0, 102.0, 103.0]))).all()
    assert (value_hashes(ints) == value_hashes(pd.Series([101, 102, 103], dtype="Int64"))).all()
    assert (
        value_hashes(ints) == value_hashes(pd.Series([101, 102.0, np.int64(103)], dtype=object))
    ).all()
    assert (value_hashes(ints) != value_hashes(pd.Series(["101", "102", "103"]))).all()  # texts
    assert (value_hashes(pd.Series([True])) != value_hashes(pd.Series([1]))).all()
    assert value_hashes(pd.Series([-0.0]))[0] == value_hashes(pd.Series([0]))[0]
    missing = value_hashes(pd.Series([None, np.nan, pd.NA, pd.NaT], dtype=object))
    assert len(set(missing.tolist())) == 1
    assert (
        value_hashes(pd.Series([[1, 2], (1, 2), np.array([1, 2])], dtype=object)).tolist()
        == [value_hashes(pd.Series([[1, 2]], dtype=object))[0]] * 3
    )
    times = pd.Series(pd.to_datetime(["2026-11-01T14:07:00Z"]))
    assert value_hashes(times)[0] == value_hashes(times.dt.tz_convert("Europe/Paris"))[0]
    assert value_hashes(times)[0] == value_hashes(times.astype("datetime64[ms, UTC]"))[0]
    assert value_hashes(pd.Series(["a"], dtype="category"))[0] == value_hashes(pd.Series(["a"]))[0]
    # (object dtype: pyarrow strings, pandas' default where installed, refuse lone surrogates)
    lone = [pd.Series([c], dtype=object) for c in ("\ud800", "\udc00")]
    assert value_hashes(lone[0])[0] != value_hashes(lone[1])[0]

    csv = "order_id,visitor_code,goal_id,revenue\n101,v1,901,10.5\n102,v2,901,20\n103,v3,901,7\n"
    first = pd.read_csv(io.StringIO(csv))
    gap = "order_id,visitor_code,goal_id,revenue\n,v0,901,1\n" + csv.split("\n", 1)[1]
    again = pd.read_csv(io.StringIO(gap))  # the new row has no order id: floats
    assert again["order_id"].dtype == np.float64
    want = nonces(first.assign(order_id=first["order_id"]))
    got = nonces(again.iloc[1:].reset_index(drop=True))
    assert got == {float(k): v for k, v in want.items()}
    keyed = nonces(again.iloc[1:], key="order_id")
    assert keyed == {float(k): v for k, v in nonces(first, key="order_id").items()}


def test_a_custom_data_event_of_several_rows_changes_with_any_of_them() -> None:
    df = pd.DataFrame(
        {
            "visitor_code": ["v", "v"],
            "kind": "custom_data",
            "custom_data_index": [3, 3],
            "value": ["gold", "silver"],
        }
    )

    def one(frame):
        plan = plan_visit_events(frame, site_code="s")
        (line,) = [x for b in plan.batches() for x in b.body.decode().split()]
        return dict(parse_qsl(line))["nonce"], plan

    nonce, plan = one(df)
    assert plan.nonces_of(np.array([0, 1])) == [nonce, nonce]
    assert one(df.iloc[::-1])[0] == nonce
    changed = df.assign(value=["gold", "bronze"])
    assert one(changed)[0] != nonce
