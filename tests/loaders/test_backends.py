"""The loaders' ``backend=`` and ``dtype_backend=`` over real loopback HTTP against the emulator:
every backend holds exactly the default frame's data, typed by the schema's mapping; bad or
unavailable backends fail before any request."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.emulator import serve
from kameleoon_pandas.frames import backends as be
from kameleoon_pandas.frames.schemas import FEED_NESTED, PRODUCT_NESTED

from .conftest import no_network

SITE = "backendsite"
VISITORS = [f"bk-visitor-{i}" for i in range(6)]
EANS = [f"bk-ean-{i}" for i in range(5)]
KEYS = [f"bk-key-{i}" for i in range(4)]


@pytest.fixture(scope="module")
def client() -> Iterator[kp.Client]:
    with serve() as srv, kp.Client(SITE, base_url=srv.url) as c:
        events = []
        for i, code in enumerate(VISITORS):
            events += [
                {"eventType": "page", "href": f"https://a/{i}", "referrersIndices": [0, i]},
                {"eventType": "conversion", "goalId": 7, "revenue": 1.5 * i, "metadata": {"n": i}},
                {"eventType": "customData", "index": 2, "valuesCountMap": {"x": 1, "y": i + 1}},
                {"eventType": "experiment", "id": 5, "variationId": 50 + i % 2},
                {"eventType": "geolocation", "country": "France", "latitude": 48.8},
                {"eventType": "staticData", "deviceType": "PHONE", "browserVersion": 12.5},
            ]
            for j, event in enumerate(events[-6:]):
                event.update(visitorCode=code, nonce=f"{i * 16 + j:016x}")
        c.post_visit_events(events)
        products = []
        for i, ean in enumerate(EANS):
            products.append(
                {
                    "eventType": "productPage",
                    "ean": ean,
                    "name": f"P{i}",
                    "price": 9.5 + i,
                    "categories": [{"id": "c1", "name": "Shoes", "parent": None}],
                    "tags": ["new", f"t{i}"],
                    "warrantyYears": i,
                }
            )
            products.append({"eventType": "productBuy", "ean": ean, "quantity": 1 + i})
        for n, event in enumerate(products):
            event["nonce"] = f"{n:016x}"
        c.post_product_events(products)
        c.post_maps(
            {
                key: {"tier": "gold", "points": i, "vip": i % 2 == 0, "nested": {"a": [i]}}
                for i, key in enumerate(KEYS)
            }
        )
        yield c


LOADERS = {
    "read_product_counters": (
        lambda c, **kw: kp.read_product_counters(
            EANS, start="2000-01-01", end="2100-01-01", client=c, progress=False, **kw
        ),
        None,
    ),
    "read_product_data": (
        lambda c, **kw: kp.read_product_data(EANS, client=c, progress=False, **kw),
        PRODUCT_NESTED,
    ),
    "read_visitor_feeds": (
        lambda c, **kw: kp.read_visitor_feeds(VISITORS, client=c, progress=False, **kw),
        FEED_NESTED,
    ),
    "read_maps": (lambda c, **kw: kp.read_maps(KEYS, client=c, progress=False, **kw), None),
}
BACKENDS = [
    pytest.param({"backend": "polars"}, id="polars"),
    pytest.param({"backend": "pyarrow"}, id="pyarrow"),
    pytest.param({"dtype_backend": "pyarrow"}, id="pandas-arrow"),
]


def mapped(frame: pd.DataFrame, nested) -> dict[str, pa.DataType]:
    """The Arrow type of each of the default frame's columns, by the schema's mapping."""
    return {str(c): be.arrow_type(str(c), str(t), nested) for c, t in frame.dtypes.items()}


def assert_typed_like(other, default: pd.DataFrame, nested, options: dict) -> None:
    """``other`` is the asked type, each column typed by the mapping of the default's dtype."""
    types = mapped(default, nested)
    if options.get("backend") == "polars":
        assert isinstance(other, pl.DataFrame)
        assert dict(other.schema) == {
            str(c): be.polars_type(str(c), str(t), nested) for c, t in default.dtypes.items()
        }
    elif options.get("backend") == "pyarrow":
        assert isinstance(other, pa.Table)
        assert dict(zip(other.schema.names, other.schema.types, strict=True)) == types
    else:
        assert isinstance(other, pd.DataFrame)
        assert {c: t.pyarrow_dtype for c, t in other.dtypes.items()} == types


@pytest.mark.parametrize("options", BACKENDS)
@pytest.mark.parametrize("name", list(LOADERS))
def test_every_backend_holds_the_default_frames_data_typed_by_the_schema(
    client, name, options
) -> None:
    load, nested = LOADERS[name]
    default = load(client)
    assert len(default) > 0
    other = load(client, **options)
    assert_typed_like(other, default, nested, options)
    # The same values: read back into pandas, it is the default frame exactly.
    pd.testing.assert_frame_equal(be.to_pandas(other), default)


def test_nested_values_in_the_arrow_backends(client) -> None:
    feed = kp.read_visitor_feeds(VISITORS[:1], client=client, progress=False, backend="polars")
    pages = feed.filter(pl.col("kind") == "page")
    assert pages["referrers_indices"].to_list() == [[0, 0]]
    conversions = feed.filter(pl.col("kind") == "conversion")
    assert conversions["metadata"].ext.storage().to_list() == ['{"n":0}']
    data = kp.read_product_data(EANS[:1], client=client, progress=False, backend="pyarrow")
    assert data["tags"].to_pylist() == [["new", "t0"]]
    assert data["categories"].type == pa.json_()
    assert data["warranty_years"].type == pa.int64()


@pytest.mark.parametrize("options", BACKENDS)
@pytest.mark.parametrize("name", list(LOADERS))
def test_empty_results_have_the_mapped_schema_and_send_nothing(
    make_client, recorder, name, options
) -> None:
    _, nested = LOADERS[name]
    client = make_client(no_network)
    loader = getattr(kp, name)
    default = loader([], client=client)
    assert len(default) == 0 and default.columns[0] == "site_code"
    other = loader([], client=client, **options)
    assert len(other) == 0
    assert_typed_like(other, default, nested, options)
    assert recorder.requests == []


@pytest.mark.parametrize("name", list(LOADERS))
def test_a_bad_backend_is_refused_before_any_request(make_client, recorder, name) -> None:
    load, _ = LOADERS[name]
    client = make_client(no_network)
    with pytest.raises(kp.ValidationError, match="backend must be one of"):
        load(client, backend="spark")
    with pytest.raises(kp.ValidationError, match="dtype_backend must be one of"):
        load(client, dtype_backend="numpy")
    assert recorder.requests == []


@pytest.mark.parametrize("name", list(LOADERS))
def test_a_missing_polars_is_an_import_error_before_any_request(
    make_client, recorder, monkeypatch, name
) -> None:
    load, _ = LOADERS[name]
    client = make_client(no_network)
    monkeypatch.setitem(sys.modules, "polars", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"kameleoon-pandas\[polars\]"):
        load(client, backend="polars")
    assert recorder.requests == []


def test_the_accessor_free_signatures_carry_the_new_options() -> None:
    import inspect

    for loader in (
        kp.read_product_counters,
        kp.read_product_data,
        kp.read_visitor_feeds,
        kp.read_maps,
    ):
        parameters = inspect.signature(loader).parameters
        assert parameters["dtype_backend"].default == "numpy_nullable"
        assert parameters["backend"].default == "pandas"
        assert parameters["backend"].kind is inspect.Parameter.KEYWORD_ONLY
