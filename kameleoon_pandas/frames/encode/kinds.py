"""The event kinds and their fields: what each wire parameter is read from and how it is typed.

:data:`VISIT_KINDS` (data-api.md 3.2) and :data:`PRODUCT_KINDS` (3.4), the enumerations some
fields take (:data:`BROWSERS`, :data:`OSES`, :data:`DEVICES`), the spellings of a kind a frame may
use, and how a product page's open set of attribute columns becomes fields. Tables only: no
encoding happens here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..schemas import PRODUCT_ATTRIBUTES


@dataclass(frozen=True)
class FieldSpec:
    """One wire parameter read from one column."""

    column: str
    wire: str
    #: ``id`` (identifier), ``str``, ``int`` (int64), ``count`` (int64 >= 1), ``float``,
    #: ``bool``, ``browser``, ``os``, ``device``, ``time_ms`` (a time as epoch milliseconds),
    #: or a JSON shape: ``json`` (any value), ``object``, ``array``, ``int_array``,
    #: ``categories`` (see :func:`.values.shaped_json`); ``text_or_json`` (a text as it is,
    #: anything else as JSON: open product attributes)
    type: str
    required: bool = False
    #: a missing cell is refused rather than left out (revenue: a lost amount is a data error)
    missing_is_error: bool = False


@dataclass(frozen=True)
class KindSpec:
    """An event kind: its wire ``eventType`` and fields (the identity field is added per plan)."""

    name: str
    event_type: str
    fields: tuple[FieldSpec, ...]
    at_least_one: bool = False  # static data: any field, but at least one


def _f(
    column: str, wire: str, type_: str, required: bool = False, missing_is_error: bool = False
) -> FieldSpec:
    return FieldSpec(column, wire, type_, required, missing_is_error)


#: Visit event kinds (data-api.md 3.2), keyed by the feed's snake_case ``kind``.
VISIT_KINDS: Mapping[str, KindSpec] = {
    "conversion": KindSpec(
        "conversion",
        "conversion",
        (
            _f("goal_id", "goalId", "int", True),
            _f("revenue", "revenue", "float", missing_is_error=True),
            _f("negative", "negative", "bool"),
            _f("metadata", "metadata", "object"),
        ),
    ),
    "custom_data": KindSpec(
        "custom_data",
        "customData",
        (
            _f("custom_data_index", "index", "int", True),
            # valuesCountMap is built from the grouped value/count rows
            _f("overwrite", "overwrite", "bool"),
            _f("mapping_identifier", "mappingIdentifier", "bool"),
        ),
    ),
    "page": KindSpec(
        "page",
        "page",
        (
            _f("href", "href", "str", True),
            _f("title", "title", "str"),
            _f("referrers_indices", "referrersIndices", "int_array"),
        ),
    ),
    "experiment": KindSpec(
        "experiment",
        "experiment",
        (_f("experiment_id", "id", "int", True), _f("variation_id", "variationId", "int", True)),
    ),
    "personalization": KindSpec(
        "personalization",
        "personalization",
        (
            _f("personalization_id", "id", "int", True),
            _f("variation_id", "variationId", "int", True),
        ),
    ),
    "geolocation": KindSpec(
        "geolocation",
        "geolocation",
        (
            _f("country", "country", "str", True),
            _f("region", "region", "str"),
            _f("city", "city", "str"),
            _f("postal_code", "postalCode", "str"),
            _f("latitude", "latitude", "float"),
            _f("longitude", "longitude", "float"),
        ),
    ),
    "static_data": KindSpec(
        "static_data",
        "staticData",
        (
            _f("visit_number", "visitNumber", "int"),
            _f("device_type", "deviceType", "device"),
            _f("browser", "browserIndex", "browser"),
            _f("browser_version", "browserVersion", "float"),
            _f("os", "os", "os"),
            _f("time_since_previous_visit", "timeSincePreviousVisit", "int"),
        ),
        at_least_one=True,
    ),
    "targeting_segment": KindSpec(
        "targeting_segment", "targetingSegment", (_f("targeting_segment_id", "id", "int", True),)
    ),
}

#: Product event kinds (data-api.md 3.4). ``product_page`` also sends every other column as an
#: attribute (see :func:`attribute_fields`).
PRODUCT_KINDS: Mapping[str, KindSpec] = {
    "product_page": KindSpec("product_page", "productPage", ()),
    "add_to_cart": KindSpec(
        "add_to_cart", "productAddToCart", (_f("quantity", "quantity", "count"),)
    ),
    "purchase": KindSpec("purchase", "productBuy", (_f("quantity", "quantity", "count"),)),
}

#: Browser names of the feed -> ``browserIndex`` (data-api.md 3.2).
BROWSERS: Mapping[str, int] = {
    "CHROME": 0,
    "INTERNET_EXPLORER": 1,
    "FIREFOX": 2,
    "SAFARI": 3,
    "OPERA": 4,
    "OTHER": 5,
}
OSES = ("WINDOWS", "MAC", "IOS", "LINUX", "ANDROID", "WINDOWS_PHONE")
DEVICES = ("DESKTOP", "PHONE", "TABLET")

#: Columns never sent as product attributes.
_PRODUCT_CONTROL = {"ean", "kind", "nonce", "quantity", "site_code"}
#: Wire names of a product event's envelope: a column that would become one is not an attribute
#: (the server would read it as the envelope, or ignore it).
_PRODUCT_ENVELOPE = {
    "ean",
    "eventType",
    "nonce",
    "quantity",
    "siteCode",
    "userAgent",
    "visitorCode",
    "json",
}

#: The contract's product attributes (data-api.md 3.4): wire name -> field type. Others are
#: typed from their column's dtype (the server keeps them as sent).
PRODUCT_ATTRIBUTE_TYPES: Mapping[str, str] = {
    "name": "str",
    "price": "float",
    "oldPrice": "float",
    "available": "bool",
    "availableQuantity": "int",
    "brand": "str",
    "sku": "str",
    "url": "str",
    "imageURL": "str",
    "description": "str",
    "categories": "categories",
    "tags": "array",
    "rating": "float",
}


def _alias_table(names: Mapping[str, KindSpec]) -> dict[str, str]:
    table = {}
    for name, spec in names.items():
        table[name] = name
        table[name.replace("_", "")] = name
        table[spec.event_type.lower()] = name
    return table


_VISIT_ALIASES = _alias_table(VISIT_KINDS)
_PRODUCT_ALIASES = _alias_table(PRODUCT_KINDS) | {"productbuy": "purchase", "buy": "purchase"}


# --------------------------------------------------------------------------- product attributes


def attribute_fields(columns: Mapping[str, pd.Series]) -> tuple[FieldSpec, ...]:
    """The fields of a ``product_page`` event: every column but the control ones, as attributes.

    A known attribute (:data:`PRODUCT_ATTRIBUTE_TYPES`) takes the contract's type whatever the
    column's dtype (``available_quantity`` read with a gap as floats is still an integer);
    others take their dtype's. Columns whose wire name is the envelope's, or is empty, are left
    out (see :func:`attribute_columns_left_out`).
    """
    out = []
    for c, s in columns.items():
        wire = _attribute_wire(c)
        if c in _PRODUCT_CONTROL or wire in _PRODUCT_ENVELOPE or not wire:
            continue
        out.append(FieldSpec(c, wire, PRODUCT_ATTRIBUTE_TYPES.get(wire) or _attribute_type(s)))
    return tuple(out)


def attribute_columns_left_out(columns: Mapping[str, pd.Series]) -> list[str]:
    """Columns no ``product_page`` sends although they are not control columns."""
    return [
        c
        for c in columns
        if c not in _PRODUCT_CONTROL
        and (not _attribute_wire(c) or _attribute_wire(c) in _PRODUCT_ENVELOPE)
    ]


def _attribute_wire(column: str) -> str:
    for wire, (col, _) in PRODUCT_ATTRIBUTES.items():
        if col == column:
            return wire
    head, *tail = column.split("_")
    return head + "".join(t[:1].upper() + t[1:] for t in tail)


def _attribute_type(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _attribute_type(series.astype(object))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "time_ms"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_string_dtype(dtype) and (
        dtype is not np.dtype(object) or pd.api.types.infer_dtype(series, skipna=True) == "string"
    ):
        return "str"
    return "text_or_json"
