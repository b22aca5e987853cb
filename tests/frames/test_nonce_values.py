"""Nonce values pinned: an upgrade must never change them (a re-push would store twice).

The values below were computed by the encoder before its vectorised rewrite (issue 9, the
20x figure) and must stay byte for byte what they are, whatever the storage of the texts
(Python objects, pandas' ``str``, Arrow) and whatever path the encoder takes (one width or
many, one block of texts or several). ``test_encode.py`` checks the same scheme against a
reference written one value at a time; this file pins the results themselves.
"""

from __future__ import annotations

import hashlib
import importlib.util

import numpy as np
import pandas as pd
import pytest

from kameleoon_pandas.frames.encode import plan_product_events, plan_visit_events
from kameleoon_pandas.frames.encode import utf8 as utf8_module

#: pandas' text storages here (Arrow when pyarrow is installed)
STORAGES = ["python"] + (["pyarrow"] if importlib.util.find_spec("pyarrow") else [])


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "visitor_code": ["v1", "été 東京", "a&b=c", "x" * 40, "v1", "v1"],
            "goal_id": [7, 12, 7, 999_999, 7, 7],
            "revenue": [19.99, -0.0, 0.30000000000000004, 1e300, 19.99, 19.99],
            "negative": [False, True, False, False, False, False],
            "order_id": [101.0, 102.0, 103.0, 104.5, 105.0, 106.0],
            "store": pd.Series(["Lyon", None, "Lille", "Lyon", "Lyon", "Lyon"], dtype=object),
        }
    )


CONTENT = [
    "F8922C223820E210",
    "69F132301A88D8B8",
    "62DE015F4AE5DB0E",
    "CFCCAEAE2EC54138",
    "0FEAFA961E07D79C",  # the same row as the first: its rank tells it apart
    "EF67C604D343BE5C",
]


#: Arrow's own text dtypes (``dtype_backend="pyarrow"``): hashed as texts like the others
ARROW_DTYPES = ["utf8[pyarrow]", "large_string[pyarrow]"] if len(STORAGES) > 1 else []


@pytest.mark.parametrize("dtype", [object, *(pd.StringDtype(s) for s in STORAGES), *ARROW_DTYPES])
def test_content_nonces_are_pinned_whatever_holds_the_texts(dtype) -> None:
    df = frame().astype({"visitor_code": dtype})
    plan = plan_visit_events(df, "conversion", site_code="s1")
    assert plan.nonces_of(np.arange(6)) == CONTENT


def test_key_nonces_are_pinned() -> None:
    df = frame()
    plan = plan_visit_events(df, "conversion", site_code="s1", key="order_id")
    assert plan.nonces_of(np.arange(6)) == [
        "03D065371B382CD2",
        "5D2B388A00E47688",
        "7A2B8AB81D25DB2F",
        "B7B856836A5ED98E",
        "85BD5B8BDB7F68CF",
        "7E81261BAEF84659",
    ]
    two = df.assign(order_id=[1, 2, 3, 4, 5, 6])
    plan = plan_visit_events(two, "conversion", site_code="s1", key=["visitor_code", "order_id"])
    assert plan.nonces_of(np.arange(6)) == [
        "02A7B4E0EFA8F830",
        "920A0F095F679139",
        "FF1417E8A6D24E5D",
        "97B38C7005D773B2",
        "AE4157683E78018A",
        "DFBABCE5C0910C79",
    ]


def test_custom_data_and_product_nonces_are_pinned() -> None:
    feed = pd.DataFrame(
        {
            "visitor_code": ["v", "v", "w"],
            "kind": "custom_data",
            "custom_data_index": [3, 3, 1],
            "value": ["gold", "silver", "x"],
        }
    )
    plan = plan_visit_events(feed, site_code="s2")
    assert plan.nonces_of(np.arange(3)) == ["492632B8CFA655DD"] * 2 + ["73ABFC73B53348CC"]
    products = pd.DataFrame({"ean": ["E1", "E2"], "quantity": [1, 2]})
    plan = plan_product_events(products, "purchase", site_code="s3")
    assert plan.nonces_of(np.arange(2)) == ["51CD5B48DD0A557C", "AE19F8FE29E7A215"]


def conversions(n: int, width: int) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    codes = [f"{x:016x}"[:width] if width else f"{x:x}" for x in rng.integers(0, 2**63, n).tolist()]
    return pd.DataFrame(
        {
            "visitor_code": codes,
            "goal_id": rng.integers(1, 60, n),
            "revenue": np.round(rng.uniform(0, 500, n), 2),
            "negative": rng.random(n) < 0.05,
            "order_id": np.arange(n) + 10**9,
        }
    )


def digest(nonces: list[str]) -> str:
    return hashlib.sha256("".join(nonces).encode()).hexdigest()[:16]


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize(
    ("width", "key", "want"),
    [
        (16, None, "cdbecd7920f4d7d5"),  # one width: the texts hashed in place, by words
        (0, None, "d82effb1934a1eee"),  # many widths
        (16, "order_id", "d119d7c0a559b09b"),
        (0, "order_id", "d119d7c0a559b09b"),  # with key=, the texts do not count
    ],
)
def test_ten_thousand_nonces_are_pinned(storage, width, key, want, monkeypatch) -> None:
    monkeypatch.setattr(utf8_module, "_TEXT_BLOCK", 999)  # several blocks of Python texts
    df = conversions(10_000, width).astype({"visitor_code": pd.StringDtype(storage)})
    plan = plan_visit_events(df, "conversion", site_code="bench", key=key)
    assert digest(plan.nonces_of(np.arange(len(df)))) == want
