"""``RecordColumns``: answers added one by one as they arrive give the frame of one merged answer.

The reference is the straightforward walk the loaders used before (merge the answers, then one
pass over the records in key order); both must agree on rows, columns, order and dtypes.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pytest

from kameleoon_pandas.frames._arrays import infer_dtype, scatter, snake_case, to_dtype
from kameleoon_pandas.frames.maps import RecordColumns
from kameleoon_pandas.frames.schemas import (
    MAP_KEYS,
    PRODUCT_ATTRIBUTES,
    PRODUCT_DATA_KEYS,
    STR,
    empty_frame,
)

FIELDS = ["name", "price", "oldPrice", "tier", "points", "vip", "x", "availableQuantity"]
FIELDS += ["available_quantity", "tags", "categories", "rating", "site_code", "key", "ean"]
SHAPES = {
    "maps": {"key_column": "key", "leading": MAP_KEYS},
    "products": {
        "key_column": "ean",
        "leading": PRODUCT_DATA_KEYS,
        "known": PRODUCT_ATTRIBUTES,
        "rename": snake_case,
    },
}


def reference(answer: Mapping[str, Any], *, keys, key_column, leading, known=None, rename=None):
    known = known or {}
    present = [key for key in keys if isinstance(answer.get(key), Mapping)]
    missing = [key for key in keys if not isinstance(answer.get(key), Mapping)]
    rows: dict[str, list[int]] = {}
    values: dict[str, list[Any]] = {}
    for index, key in enumerate(present):
        for field, value in answer[key].items():
            if value is not None:
                rows.setdefault(field, []).append(index)
                values.setdefault(field, []).append(value)
    n = len(present)
    columns: dict[str, Any] = {
        "site_code": pd.array(["s"] * n, dtype=STR),
        key_column: pd.array(present, dtype=STR),
    }
    for field, (column, dtype) in known.items():
        columns[column] = to_dtype(scatter(n, rows.get(field, ()), values.get(field, ())), dtype)
    for field in rows:
        if field in known:
            continue
        column = rename(field) if rename else field
        if column in columns:
            column = field
        while column in columns:
            column += "_"
        raw = scatter(n, rows[field], values[field])
        columns[column] = to_dtype(raw, infer_dtype(raw))
    if n == 0:
        return empty_frame(leading, dict(known.values())), missing
    return pd.DataFrame(columns), missing


def random_answer(rng: random.Random, keys: list[str]) -> dict[str, Any]:
    def value() -> Any:
        return rng.choice([None, 1, 2.5, "a", "", True, False, [1, 2], {"a": 1}, 10**20])

    answer: dict[str, Any] = {}
    if rng.random() < 0.4:  # the usual answer: every key asked for, one field order
        fields = rng.sample(FIELDS, rng.randint(0, 5))
        for key in rng.sample(keys, rng.randint(0, len(keys))):
            answer[key] = {f: value() for f in fields}
        return answer
    for key in [*keys, "not-asked-1", "not-asked-2"]:
        draw = rng.random()
        if draw < 0.2:
            continue
        if draw < 0.3:
            answer[key] = rng.choice([None, 1, "x", []])  # not a record
            continue
        answer[key] = {f: value() for f in rng.sample(FIELDS, rng.randint(0, 6))}
    items = list(answer.items())
    rng.shuffle(items)
    return dict(items)


def assert_same(got: tuple[pd.DataFrame, list[str]], want: tuple[pd.DataFrame, list[str]]) -> None:
    assert got[1] == want[1]
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
    assert list(got[0].dtypes.astype(str)) == list(want[0].dtypes.astype(str))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_answers_added_in_pieces_give_the_frame_of_the_merged_answer(shape: str) -> None:
    rng = random.Random(7)
    for _ in range(40):
        keys = [f"k{i}" for i in rng.sample(range(40), rng.randint(0, 12))]
        first, second = random_answer(rng, keys), random_answer(rng, keys)
        merged = {**first, **second}  # a key answered twice: its last answer wins
        columns = RecordColumns(keys=keys, site_code="s", **SHAPES[shape])
        columns.add(first)
        columns.add(second)
        assert_same(columns.frame(), reference(merged, keys=keys, **SHAPES[shape]))
        assert_same(
            RecordColumns(keys=keys, site_code="s", **SHAPES[shape]).frame_of(first),
            reference(first, keys=keys, **SHAPES[shape]),
        )


def test_fields_come_in_the_order_first_seen_along_the_rows() -> None:
    columns = RecordColumns(keys=["a", "b"], site_code="s", key_column="key", leading=MAP_KEYS)
    columns.add({"b": {"late": 1, "z": 2}})  # arrives first, but is the second row
    columns.add({"a": {"early": "x", "z": 3}})
    frame, missing = columns.frame()
    assert list(frame.columns) == ["site_code", "key", "early", "z", "late"]
    assert frame["z"].tolist() == [3, 2]
    assert missing == []
