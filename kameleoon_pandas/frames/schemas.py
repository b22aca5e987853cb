"""The declared columns and dtypes of every result kind (DESIGN.md 4).

These tables are the single source for the shaping (``feeds``, ``products``, ``maps``), for the
writers (which read the same column names), for the other backends (``backends.py`` maps each
declared dtype to Arrow, Polars and pandas' ``pyarrow`` dtypes) and for the docs. Columns are
snake_case; times are ``datetime64[ms, UTC]``; counts are nullable ``Int64``; identifiers are
``string``. An empty result has the same columns and dtypes as a full one: build it with
:func:`empty_frame`.

Nested columns (dtype ``object``: Python lists and dicts in pandas) also declare their Arrow shape
(``*_NESTED``): a list of integers, a list of texts, or JSON (any JSON value, as JSON text).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

import pandas as pd

from .._contract import FEED_KINDS as _FEED_KINDS

TIME: Final = "datetime64[ms, UTC]"
STR: Final = "string"
INT: Final = "Int64"
FLOAT: Final = "float64"
BOOL: Final = "boolean"
OBJ: Final = "object"

#: The dtypes a schema declares (literal strings, so that pandas-stubs knows what each gives).
Dtype = Literal["datetime64[ms, UTC]", "string", "Int64", "float64", "boolean", "object"]

Schema = Mapping[str, Dtype]


#: The Arrow shapes of nested columns: a list of int64, a list of strings, any JSON value.
LIST_INT: Final = "list<int64>"
LIST_STR: Final = "list<string>"
JSON: Final = "json"

Nested = Literal["list<int64>", "list<string>", "json"]

#: Nested column -> its Arrow shape; an ``object`` column not listed is JSON.
NestedTypes = Mapping[str, Nested]


def _schema(**columns: Dtype) -> Schema:
    return MappingProxyType(dict(columns))


def _nested(**columns: Nested) -> NestedTypes:
    return MappingProxyType(dict(columns))


#: One row per (ean, window).
PRODUCT_COUNTERS: Schema = _schema(
    site_code=STR,
    ean=STR,
    window_start=TIME,
    window_end=TIME,
    views=INT,
    add_to_cart_quantity=INT,
    bought_quantity=INT,
)

#: Wire names of the counter fields (data-api.md 3.5) -> column names.
COUNTER_FIELDS: Mapping[str, str] = MappingProxyType(
    {"v": "views", "atcq": "add_to_cart_quantity", "bq": "bought_quantity"}
)

#: The leading columns of product data; one column per attribute follows.
PRODUCT_DATA_KEYS: Schema = _schema(site_code=STR, ean=STR)

#: Known product attributes (data-api.md 3.4): wire name -> (column, dtype). Others keep
#: their snake_cased name and an inferred dtype.
PRODUCT_ATTRIBUTES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "name": ("name", STR),
        "price": ("price", FLOAT),
        "oldPrice": ("old_price", FLOAT),
        "available": ("available", BOOL),
        "availableQuantity": ("available_quantity", INT),
        "brand": ("brand", STR),
        "sku": ("sku", STR),
        "url": ("url", STR),
        "imageURL": ("image_url", STR),
        "description": ("description", STR),
        "categories": ("categories", OBJ),
        "tags": ("tags", OBJ),
        "rating": ("rating", FLOAT),
    }
)

#: The nested product attributes (the others inferred as ``object`` are JSON).
PRODUCT_NESTED: NestedTypes = _nested(categories=JSON, tags=LIST_STR)

#: The leading columns of maps; one column per field follows (fields keep their own names).
MAP_KEYS: Schema = _schema(site_code=STR, key=STR)

#: Event kinds of a visitor feed, as they appear in the ``kind`` column, -> the feed's wire key.
FEED_KINDS: Mapping[str, str] = _FEED_KINDS

#: One row per event (long, tidy); custom data gives one row per value with its count.
VISITOR_FEED: Schema = _schema(
    site_code=STR,
    visitor_code=STR,
    visit=INT,  # 0 = the current visit, 1 = the most recent previous one, ...
    visit_started=TIME,
    visit_last_event=TIME,
    kind=STR,
    time=TIME,
    # page
    href=STR,
    title=STR,
    referrers_indices=OBJ,
    # conversion
    goal_id=INT,
    revenue=FLOAT,
    negative=BOOL,
    metadata=OBJ,
    # custom data: one row per value of valuesCountMap
    custom_data_index=INT,
    value=STR,
    count=INT,
    overwrite=BOOL,
    # experiment / personalization
    experiment_id=INT,
    personalization_id=INT,
    variation_id=INT,
    # geolocation
    country=STR,
    region=STR,
    city=STR,
    postal_code=STR,
    latitude=FLOAT,
    longitude=FLOAT,
    # static data
    visit_number=INT,
    device_type=STR,
    browser=STR,
    browser_version=FLOAT,
    os=STR,
)

#: The nested feed columns: page referrers (indices) and conversion metadata (a JSON object).
FEED_NESTED: NestedTypes = _nested(referrers_indices=LIST_INT, metadata=JSON)

#: Wire ``data`` keys per feed kind -> column names (data-api.md 3.1).
FEED_FIELDS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "page": {"href": "href", "title": "title", "referrersIndices": "referrers_indices"},
        "conversion": {
            "goalId": "goal_id",
            "revenue": "revenue",
            "negative": "negative",
            "metadata": "metadata",
        },
        # valuesCountMap is exploded into value/count rows
        "custom_data": {"index": "custom_data_index", "overwrite": "overwrite"},
        "experiment": {"id": "experiment_id", "variationId": "variation_id"},
        "personalization": {"id": "personalization_id", "variationId": "variation_id"},
        "geolocation": {
            "country": "country",
            "region": "region",
            "city": "city",
            "postalCode": "postal_code",
            "latitude": "latitude",
            "longitude": "longitude",
        },
        "static_data": {
            "visitNumber": "visit_number",
            "deviceType": "device_type",
            "browser": "browser",
            "browserVersion": "browser_version",
            "os": "os",
        },
    }
)


#: One row per (experiment, variation, goal): the read-out of ``kp.experiment_results``. The
#: reference variation's row has no ``uplift``, ``ci_low``, ``ci_high``, ``p_value``,
#: ``chance_to_beat_reference`` or ``expected_loss`` (all missing); every other row has a
#: ``chance_to_beat_reference``.
EXPERIMENT_RESULTS: Schema = _schema(
    site_code=STR,
    experiment_id=INT,
    variation_id=INT,
    goal_id=INT,
    visitors=INT,
    converted=INT,
    conversion_rate=FLOAT,
    revenue=FLOAT,
    revenue_per_visitor=FLOAT,
    uplift=FLOAT,
    ci_low=FLOAT,
    ci_high=FLOAT,
    p_value=FLOAT,
    chance_to_beat_reference=FLOAT,
    expected_loss=FLOAT,
    srm_p_value=FLOAT,
    excluded_visitors=INT,
)


def empty_frame(schema: Schema, extra: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A frame with no rows and exactly the declared columns and dtypes."""
    columns = dict(schema) | dict(extra or {})
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in columns.items()})


def conform(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Reorder ``frame`` to the schema, add missing columns as all-missing, cast every dtype.

    Columns that are not in the schema are kept, after the declared ones, in their order.
    """
    n = len(frame)
    out = {}
    for name, dtype in schema.items():
        if name in frame.columns:
            column = frame[name]
            out[name] = column if str(column.dtype) == dtype else column.astype(dtype)
        else:
            out[name] = pd.Series(pd.array([None] * n, dtype=dtype), index=frame.index)
    for name in frame.columns:
        if name not in schema:
            out[name] = frame[name]
    return pd.DataFrame(out, index=frame.index)
