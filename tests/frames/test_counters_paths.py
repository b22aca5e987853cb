"""frames.products.CountersColumns: the JSON path (records that are dicts, counts that are ints)
and the generic path (any mapping, any value) shape an answer into the same frame."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd
import pytest

from kameleoon_pandas.frames.products import CountersColumns, counters_frame
from kameleoon_pandas.frames.schemas import PRODUCT_COUNTERS

T0 = 1_718_000_000_000
WINDOWS = [(T0, T0 + 3_600_000), (T0 + 3_600_000, T0 + 7_200_000)]
EANS = ["a", "b", "c", "d"]


def answers(*records: dict[str, Any]) -> list[dict[str, Any]]:
    """One answer per window, the same records in each (distinct views per window); the
    EANs after the records given have none."""
    named = list(zip(EANS, records, strict=False))
    return [
        {ean: {**record, "v": w * 10 + i} for i, (ean, record) in enumerate(named)}
        for w in range(len(WINDOWS))
    ]


def as_proxies(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The same answer with read-only mapping records: they take the generic path."""
    return {ean: MappingProxyType(record) for ean, record in answer.items()}


def shaped(items: list[Mapping[str, Any]]) -> tuple[pd.DataFrame, list[str]]:
    return counters_frame(items, windows=WINDOWS, eans=EANS, site_code="s")


@pytest.mark.parametrize(
    "record",
    [
        pytest.param({"atcq": 1, "bq": 2}, id="ints"),
        pytest.param({"atcq": None, "bq": 2}, id="null"),
        pytest.param({"bq": 2}, id="absent-field"),
        pytest.param({"atcq": 1.5, "bq": 2}, id="float"),
        pytest.param({"atcq": True, "bq": 2}, id="bool"),
        pytest.param({"atcq": 2**70, "bq": 2}, id="beyond-int64"),
        pytest.param({"atcq": "n/a", "bq": 2}, id="text"),
    ],
)
def test_json_and_generic_paths_give_the_same_frame(record: dict[str, Any]) -> None:
    plain = {"atcq": 3, "bq": 4}
    items = answers(plain, record, plain)
    frame, missing = shaped(items)
    generic, generic_missing = shaped([as_proxies(answer) for answer in items])
    pd.testing.assert_frame_equal(frame, generic, check_exact=True)
    assert missing == generic_missing == ["d"]
    # Every value but the odd one is kept as given, in row order (ean, then window).
    assert frame["views"].tolist() == [0, 10, 1, 11, 2, 12]
    assert frame["bought_quantity"].tolist() == [4, 4, 2, 2, 4, 4]


def test_counts_that_are_all_ints_are_int64_without_missing_values() -> None:
    frame, _ = shaped(answers({"atcq": 1, "bq": 2}, {"atcq": 3, "bq": 0}))
    assert dict(frame.dtypes.astype(str)) == dict(PRODUCT_COUNTERS)
    assert not frame[["views", "add_to_cart_quantity", "bought_quantity"]].isna().any().any()


def test_one_odd_answer_casts_its_whole_column_as_the_generic_path_does() -> None:
    items = answers({"atcq": 1, "bq": 2}, {"atcq": 3, "bq": 0})
    items[1]["b"] = {**items[1]["b"], "atcq": None}  # one null in the second window only
    frame, _ = shaped(items)
    generic, _ = shaped([as_proxies(answer) for answer in items])
    pd.testing.assert_frame_equal(frame, generic, check_exact=True)
    assert frame["add_to_cart_quantity"].isna().tolist() == [False, False, False, True]


def test_unknown_eans_and_records_that_are_not_objects_give_no_rows() -> None:
    columns = CountersColumns(windows=WINDOWS, eans=EANS, site_code="s")
    columns.add(0, {"zz": {"v": 9, "atcq": 9, "bq": 9}, "a": {"v": 1, "atcq": 0, "bq": 0}})
    columns.add(1, {"b": None, "c": [1, 2], "a": {"v": 2, "atcq": 0, "bq": 0}})
    frame = columns.frame()
    assert frame["ean"].tolist() == ["a", "a"]
    assert frame["views"].tolist() == [1, 2]
    assert columns.missing() == ["b", "c", "d"]


def test_a_window_answered_twice_keeps_the_later_answer_on_both_paths() -> None:
    first = {"a": {"v": 1, "atcq": 1, "bq": 1}, "b": {"v": 2, "atcq": 2, "bq": 2}}
    second = {"a": {"v": 5, "atcq": 5, "bq": 5}}
    for convert in (dict, as_proxies):
        columns = CountersColumns(windows=WINDOWS, eans=EANS, site_code="s")
        columns.add(0, convert(first))
        columns.add(0, convert(second))
        frame = columns.frame()
        assert frame["ean"].tolist() == ["a", "b"]
        assert frame["views"].tolist() == [5, 2]
