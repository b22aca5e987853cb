"""``to_dtype``'s direct paths (all texts via Arrow, all missing) give what the generic casts
give: the same array type, dtype and values, for every mix of JSON-like values."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from kameleoon_pandas.frames._arrays import missing_array, to_dtype
from kameleoon_pandas.frames.schemas import PRODUCT_ATTRIBUTES, VISITOR_FEED

POOL = [None, float("nan"), "a", "", "é", 1, 0, -5, 2.5, True, False, b"x", ["l"], {"d": 1}]
POOL += [10**20, "1.5", "7"]
#: Every declared dtype (the product attributes' and the feed's).
SCHEMA_DTYPES = [d for _, d in PRODUCT_ATTRIBUTES.values()] + list(VISITOR_FEED.values())


def generic(values: np.ndarray, dtype: str):
    """The casts ``to_dtype`` makes when no direct path applies."""
    try:
        if dtype == "string":
            return pd.Series(values, dtype=object).astype("string").array
        if dtype == "Int64":
            return pd.array(values, dtype="Int64")
        return pd.Series(values, dtype=object).astype("float64").to_numpy()
    except (TypeError, ValueError, OverflowError):
        return values


@pytest.mark.parametrize("dtype", ["string", "Int64", "float64"])
def test_direct_paths_match_the_generic_casts(dtype: str) -> None:
    rng = random.Random(dtype)
    for _ in range(600):
        pool = POOL if rng.random() < 0.5 else [None, float("nan"), "a", "b"]
        values = np.array(
            [rng.choice(pool[: rng.randint(1, len(pool))]) for _ in range(rng.randint(0, 6))],
            dtype=object,
        )
        want, got = generic(values.copy(), dtype), to_dtype(values.copy(), dtype)
        assert type(got) is type(want), values
        if isinstance(want, pd.api.extensions.ExtensionArray):
            pd.testing.assert_extension_array_equal(got, want)
        elif want.dtype == object:  # left as Python objects: the values themselves
            assert got.tolist() == want.tolist()
        else:
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", sorted(set(SCHEMA_DTYPES)))
@pytest.mark.parametrize("n", [0, 1, 7])
def test_missing_array_is_to_dtype_of_missing_values(dtype: str, n: int) -> None:
    want = to_dtype(np.full(n, None, dtype=object), dtype)
    got = missing_array(n, dtype)
    assert type(got) is type(want)
    if isinstance(want, pd.api.extensions.ExtensionArray):
        pd.testing.assert_extension_array_equal(got, want)
    else:
        assert got.dtype == want.dtype and pd.isna(got).all() and len(got) == n
