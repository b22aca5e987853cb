"""frames.products: product counters and product data answers -> typed frames (no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kameleoon_pandas.frames.products import counters_frame, product_data_frame
from kameleoon_pandas.frames.schemas import PRODUCT_ATTRIBUTES, PRODUCT_COUNTERS

T0 = 1_718_000_000_000


def ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def test_counters_frame_rows_per_ean_and_window() -> None:
    windows = [(T0, T0 + 3_600_000), (T0 + 3_600_000, T0 + 7_200_000)]
    answers = [
        {"b": {"v": 1, "atcq": 2, "bq": 3}, "a": {"v": 4, "atcq": 0, "bq": 0}},
        {"a": {"v": 5, "atcq": 6, "bq": 7}, "b": {"v": 0, "atcq": 0, "bq": 0}},
    ]
    frame, missing = counters_frame(answers, windows=windows, eans=["a", "b", "c"], site_code="s")
    assert missing == ["c"]
    assert dict(frame.dtypes.astype(str)) == dict(PRODUCT_COUNTERS)
    assert frame["ean"].tolist() == ["a", "a", "b", "b"]
    assert frame["window_start"].tolist() == [ts(T0), ts(T0 + 3_600_000)] * 2
    assert frame["window_end"].tolist() == [ts(T0 + 3_600_000), ts(T0 + 7_200_000)] * 2
    assert frame["views"].tolist() == [4, 5, 1, 0]
    assert frame["add_to_cart_quantity"].tolist() == [0, 6, 2, 0]
    assert frame["bought_quantity"].tolist() == [0, 7, 3, 0]
    empty, _ = counters_frame([{}], windows=windows[:1], eans=["a"], site_code="s")
    assert empty.empty and dict(empty.dtypes.astype(str)) == dict(PRODUCT_COUNTERS)


def test_product_data_declared_and_extra_attributes() -> None:
    answer = {
        "e2": {
            "name": "Two",
            "price": 3,
            "available": True,
            "availableQuantity": 5,
            "categories": [{"id": 1, "name": "C", "parent": None}],
            "imageURL": "u",
            "warrantyYears": 2,
            "madeIn": "FR",
        },
        "e1": {"name": "One", "oldPrice": 9.5, "tags": ["a", "b"]},
    }
    frame, missing = product_data_frame(answer, eans=["e1", "e2", "e3"], site_code="s")
    assert missing == ["e3"]
    declared = [column for column, _ in PRODUCT_ATTRIBUTES.values()]
    assert frame.columns.tolist() == ["site_code", "ean", *declared, "warranty_years", "made_in"]
    assert frame["ean"].tolist() == ["e1", "e2"]
    assert frame["price"].tolist()[1] == 3.0 and np.isnan(frame["price"].tolist()[0])
    assert str(frame["price"].dtype) == "float64"
    assert str(frame["available_quantity"].dtype) == "Int64"
    assert frame["tags"].tolist() == [["a", "b"], None]
    assert frame["categories"].tolist()[1] == [{"id": 1, "name": "C", "parent": None}]
    assert frame["image_url"].tolist()[1] == "u"
    assert str(frame["warranty_years"].dtype) == "Int64"
    assert str(frame["made_in"].dtype) == "string"
    empty, missing = product_data_frame({}, eans=["x"], site_code="s")
    assert empty.empty and missing == ["x"]
    assert empty.columns.tolist() == ["site_code", "ean", *declared]


def test_a_value_that_does_not_fit_its_dtype_keeps_the_column_as_objects() -> None:
    frame, _ = product_data_frame({"e": {"price": "n/a"}}, eans=["e"], site_code="s")
    assert frame["price"].tolist() == ["n/a"]
