"""frames.backends: every declared column mapped to Arrow, Polars and pandas' Arrow dtypes, the
conversions both ways, and the clear errors (unknown backend, missing library, not a frame)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from kameleoon_pandas._exceptions import ValidationError
from kameleoon_pandas.frames import backends as be
from kameleoon_pandas.frames.schemas import (
    EXPERIMENT_RESULTS,
    FEED_NESTED,
    MAP_KEYS,
    PRODUCT_ATTRIBUTES,
    PRODUCT_COUNTERS,
    PRODUCT_DATA_KEYS,
    PRODUCT_NESTED,
    VISITOR_FEED,
    empty_frame,
)

# The product data schema as the loader builds it: the keys, then every declared attribute.
PRODUCT_DATA = dict(PRODUCT_DATA_KEYS) | dict(PRODUCT_ATTRIBUTES.values())

#: (name, schema, its nested table): every table of schemas.py that a loader or read-out returns.
SCHEMAS = [
    ("PRODUCT_COUNTERS", PRODUCT_COUNTERS, None),
    ("PRODUCT_DATA", PRODUCT_DATA, PRODUCT_NESTED),
    ("MAP_KEYS", MAP_KEYS, None),
    ("VISITOR_FEED", dict(VISITOR_FEED) | {"mapping_value": "string"}, FEED_NESTED),
    ("EXPERIMENT_RESULTS", EXPERIMENT_RESULTS, None),
]
COLUMNS = [
    pytest.param(column, dtype, nested, id=f"{name}.{column}")
    for name, schema, nested in SCHEMAS
    for column, dtype in schema.items()
]

# Written out here, independently of the module: what each declared dtype must become.
ARROW = {
    "datetime64[ms, UTC]": pa.timestamp("ms", tz="UTC"),
    "string": pa.string(),
    "Int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
}
POLARS = {
    "datetime64[ms, UTC]": pl.Datetime("ms", "UTC"),
    "string": pl.String(),
    "Int64": pl.Int64(),
    "float64": pl.Float64(),
    "boolean": pl.Boolean(),
}
NESTED_ARROW = {
    "referrers_indices": pa.list_(pa.int64()),
    "tags": pa.list_(pa.string()),
    "metadata": pa.json_(),
    "categories": pa.json_(),
}
NESTED_POLARS = {
    "referrers_indices": pl.List(pl.Int64()),
    "tags": pl.List(pl.String()),
    "metadata": pl.Extension("arrow.json", pl.String(), ""),
    "categories": pl.Extension("arrow.json", pl.String(), ""),
}


@pytest.mark.parametrize(("column", "dtype", "nested"), COLUMNS)
def test_every_schema_column_maps_to_each_backend(column, dtype, nested) -> None:
    want_arrow = NESTED_ARROW[column] if dtype == "object" else ARROW[dtype]
    want_polars = NESTED_POLARS[column] if dtype == "object" else POLARS[dtype]
    assert be.arrow_type(column, dtype, nested) == want_arrow
    assert be.polars_type(column, dtype, nested) == want_polars
    assert be.pandas_dtype(column, dtype, "pyarrow", nested) == pd.ArrowDtype(want_arrow)
    assert str(be.pandas_dtype(column, dtype, "numpy_nullable", nested)) == dtype


def test_an_undeclared_nested_column_is_json_and_an_unknown_dtype_is_refused() -> None:
    assert be.arrow_type("anything", "object") == pa.json_()
    assert be.polars_type("anything", "object") == pl.Extension("arrow.json", pl.String(), "")
    with pytest.raises(ValueError, match=r"'x'.*category"):
        be.arrow_type("x", "category")


@pytest.mark.parametrize(("name", "schema", "nested"), [s[:3] for s in SCHEMAS])
def test_empty_frames_convert_to_exactly_the_mapped_schema(name, schema, nested) -> None:
    frame = empty_frame(schema)
    table = be.to_backend(frame, backend="pyarrow", nested=nested)
    assert table.schema == pa.schema([(c, be.arrow_type(c, d, nested)) for c, d in schema.items()])
    polars = be.to_backend(frame, backend="polars", nested=nested)
    assert dict(polars.schema) == {c: be.polars_type(c, d, nested) for c, d in schema.items()}
    arrow_pandas = be.to_backend(frame, dtype_backend="pyarrow", nested=nested)
    assert dict(arrow_pandas.dtypes) == {
        c: be.pandas_dtype(c, d, "pyarrow", nested) for c, d in schema.items()
    }
    assert be.to_backend(frame) is frame  # the default is the canonical frame itself


def feed_like() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site_code": pd.array(["s", None, "s"], dtype="string"),
            "visit": pd.array([0, None, 2], dtype="Int64"),
            "time": pd.Series(
                pd.to_datetime([1_718_000_000_000, None, 1], unit="ms", utc=True)
            ).astype("datetime64[ms, UTC]"),
            "referrers_indices": pd.Series([[0, 2], None, []], dtype=object),
            "metadata": pd.Series([{"k": [1, {"x": None}]}, None, "text"], dtype=object),
            "revenue": [1.5, np.nan, 0.0],
            "negative": pd.array([True, None, False], dtype="boolean"),
        },
        index=pd.RangeIndex(3),
    )


@pytest.mark.parametrize("kind", ["polars", "pyarrow", "pandas-arrow"], ids=lambda k: f"from-{k}")
def test_round_trip_through_each_backend_gives_the_same_pandas_frame(kind) -> None:
    frame = feed_like()
    if kind == "pandas-arrow":
        other = be.to_backend(frame, dtype_backend="pyarrow", nested=FEED_NESTED)
    else:
        other = be.to_backend(frame, backend=kind, nested=FEED_NESTED)
    back = be.to_pandas(other)
    pd.testing.assert_frame_equal(back, frame)


def test_json_columns_hold_json_text_and_lists_stay_lists() -> None:
    table = be.to_backend(feed_like(), backend="pyarrow", nested=FEED_NESTED)
    assert table["metadata"].type == pa.json_()
    storage = [t for chunk in table["metadata"].chunks for t in chunk.storage.to_pylist()]
    assert storage == ['{"k":[1,{"x":null}]}', None, '"text"']
    assert table["referrers_indices"].to_pylist() == [[0, 2], None, []]
    polars = be.to_backend(feed_like(), backend="polars", nested=FEED_NESTED)
    assert polars["referrers_indices"].to_list() == [[0, 2], None, []]


def test_nested_values_that_do_not_fit_their_list_type_become_json() -> None:
    frame = pd.DataFrame({"referrers_indices": pd.Series([[1], ["a"], None], dtype=object)})
    table = be.to_backend(frame, backend="pyarrow", nested=FEED_NESTED)
    assert table["referrers_indices"].type == pa.json_()
    assert be.to_pandas(table)["referrers_indices"].tolist() == [[1], ["a"], None]


def test_a_column_whose_cast_failed_is_still_carried_as_json() -> None:
    # The pandas shaping keeps a declared float column as objects when the server sent text.
    frame = pd.DataFrame({"price": pd.Series(["n/a", None], dtype=object)})
    polars = be.to_backend(frame, backend="polars")
    assert polars.schema["price"] == pl.Extension("arrow.json", pl.String(), "")
    assert be.to_pandas(polars)["price"].tolist() == ["n/a", None]


def test_attrs_survive_the_pandas_arrow_backend() -> None:
    frame = feed_like()
    frame.attrs["metric"] = "conversion_rate"
    assert be.to_backend(frame, dtype_backend="pyarrow").attrs == {"metric": "conversion_rate"}


# -- reading other frames ----------------------------------------------------------------------


def test_polars_and_pyarrow_inputs_read_into_the_loaders_dtypes() -> None:
    source = pl.DataFrame(
        {
            "visitor_code": ["a", None],
            "goal_id": [1, None],
            "small": pl.Series([1, 2], dtype=pl.Int32),
            "revenue": [1.5, None],
            "flag": [True, None],
            "when": pl.Series([0, 1], dtype=pl.Datetime("us", "UTC")),
            "tags": [["x"], None],
            "point": [{"x": 1}, None],
        }
    )
    for obj in (source, source.to_arrow(), source.to_arrow().to_batches()[0]):
        frame = be.to_pandas(obj)
        assert {c: str(t) for c, t in frame.dtypes.items()} == {
            "visitor_code": "string",
            "goal_id": "Int64",
            "small": "Int32",
            "revenue": "float64",
            "flag": "boolean",
            "when": "datetime64[us, UTC]",
            "tags": "object",
            "point": "object",
        }
        assert frame["tags"].tolist() == [["x"], None]
        assert frame["point"].tolist() == [{"x": 1}, None]
        assert frame.index.equals(pd.RangeIndex(2))
        assert np.isnan(frame["revenue"].iloc[1]) and frame["goal_id"].isna().tolist() == [
            False,
            True,
        ]


def test_a_pandas_frame_keeps_its_index_and_only_its_arrow_columns_change() -> None:
    frame = pd.DataFrame(
        {
            "a": pd.array([1, None], dtype=pd.ArrowDtype(pa.int64())),
            "b": ["x", "y"],
            "c": pd.array([[1], None], dtype=pd.ArrowDtype(pa.list_(pa.int64()))),
        },
        index=["r1", "r2"],
    )
    out = be.to_pandas(frame)
    assert out.index.tolist() == ["r1", "r2"]
    assert str(out["a"].dtype) == "Int64" and out["c"].tolist() == [[1], None]
    assert out["b"].dtype == frame["b"].dtype
    plain = pd.DataFrame({"a": [1]})
    assert be.to_pandas(plain) is plain  # no Arrow column: no copy


def test_duplicate_column_names_are_kept_for_the_writers_to_refuse() -> None:
    table = pa.table([pa.array([1]), pa.array([2])], names=["a", "a"])
    assert be.to_pandas(table).columns.tolist() == ["a", "a"]


def test_series_inputs() -> None:
    assert be.to_pandas_series(pl.Series("codes", ["a", None])).tolist() == ["a", pd.NA]
    assert be.to_pandas_series(pa.array(["x"])).tolist() == ["x"]
    assert be.to_pandas_series(pa.chunked_array([["x"], ["y"]])).tolist() == ["x", "y"]
    assert be.to_pandas_series(["a"]) is None
    assert be.to_pandas_series(pd.Series(["a"])) is None


def test_not_a_frame_names_the_parameter_and_a_lazy_frame_says_collect() -> None:
    with pytest.raises(ValidationError, match="df must be a pandas, polars or pyarrow DataFrame"):
        be.to_pandas([1, 2], "df")
    with pytest.raises(ValidationError, match=r"LazyFrame is lazy: collect\(\) it first"):
        be.to_pandas(pl.LazyFrame({"a": [1]}), "df")
    with pytest.raises(ValidationError, match=r"feed must be .* got object"):
        be.to_pandas(object(), "feed")
    assert be.is_frame(pl.DataFrame({"a": [1]})) and be.is_frame(pa.table({"a": [1]}))
    assert not be.is_frame(pl.Series([1])) and not be.is_frame([1])


# -- errors before any work --------------------------------------------------------------------


def test_unknown_backends_are_refused_by_name() -> None:
    with pytest.raises(ValidationError, match=r"backend must be one of \['pandas', 'polars'"):
        be.check_backend("spark", "numpy_nullable")
    with pytest.raises(ValidationError, match="dtype_backend must be one of"):
        be.check_backend("pandas", "arrow")


@pytest.mark.parametrize(
    ("module", "backend", "dtype_backend", "extra"),
    [
        ("polars", "polars", "numpy_nullable", "polars"),
        ("pyarrow", "pyarrow", "numpy_nullable", "pyarrow"),
        ("pyarrow", "pandas", "pyarrow", "pyarrow"),
    ],
)
def test_a_missing_library_names_the_extra(
    monkeypatch, module, backend, dtype_backend, extra
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(ImportError, match=rf"pip install 'kameleoon-pandas\[{extra}\]'"):
        be.check_backend(backend, dtype_backend)


def test_polars_and_narwhals_are_imported_only_when_asked_for() -> None:
    code = (
        "import sys, kameleoon_pandas, kameleoon_pandas.loaders, kameleoon_pandas.writers, "
        "kameleoon_pandas.experiments, kameleoon_pandas.frames.backends;"
        "print('polars' in sys.modules, 'narwhals' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
