"""The loaders' declared schemas (``frames/schemas.py``) as Spark types, and frames into Arrow.

The mapping is declared once, in :data:`SPARK_TYPES`: times are ``timestamp`` (UTC instants),
texts ``string``, counts and ids ``bigint``, numbers ``double``, flags ``boolean``, and nested
values (``metadata``, ``referrers_indices``, ``categories``) ``string`` holding their JSON text
(``from_json`` parses them). Results whose columns are open in pandas get a fixed Spark schema:
product data keeps its declared attributes and gathers the others into one JSON text column,
:data:`OTHER_ATTRIBUTES`; maps give their fields as one JSON object text, :data:`MAP_FIELDS`.
A schema of your own (``spark.read.schema(...)``, ``schema=``) takes any column of the pandas
result by name instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from ..frames import schemas as declared

__all__ = [
    "MAP_FIELDS",
    "OTHER_ATTRIBUTES",
    "SPARK_TYPES",
    "arrow_schema",
    "frame_to_batch",
    "result_schema",
    "spark_schema",
]

#: pandas dtype of a declared schema -> its Spark type.
SPARK_TYPES: Mapping[str, DataType] = {
    declared.TIME: TimestampType(),
    declared.STR: StringType(),
    declared.INT: LongType(),
    declared.FLOAT: DoubleType(),
    declared.BOOL: BooleanType(),
    declared.OBJ: StringType(),  # JSON text
}

#: Product data: the undeclared attributes of a product, as one JSON object text (or null).
OTHER_ATTRIBUTES = "other_attributes"
#: Maps: every field of a map, as one JSON object text.
MAP_FIELDS = "fields"


def spark_schema(schema: declared.Schema, extra: Mapping[str, str] | None = None) -> StructType:
    """The Spark schema of a declared pandas schema, through :data:`SPARK_TYPES`.

    Parameters
    ----------
    schema : mapping of str to str
        Column -> declared dtype, such as ``frames.schemas.VISITOR_FEED``.
    extra : mapping of str to str, optional
        Columns appended after them.

    Returns
    -------
    pyspark.sql.types.StructType
        Every column nullable, in the declared order.

    Examples
    --------
    >>> from kameleoon_pandas.frames.schemas import PRODUCT_COUNTERS
    >>> spark_schema(PRODUCT_COUNTERS)["views"].dataType
    LongType()
    """
    columns = dict(schema) | dict(extra or {})
    return StructType(
        [StructField(name, SPARK_TYPES[dtype], nullable=True) for name, dtype in columns.items()]
    )


def result_schema(what: str, by: str = "visitor_code") -> StructType:
    """The Spark schema a read of ``what`` gives by default (see the module docstring).

    Parameters
    ----------
    what : {"visitorFeeds", "productCounters", "productData", "maps"}
        The result.
    by : {"visitor_code", "mapping_value"}, default "visitor_code"
        Feeds read by mapping value have a trailing ``mapping_value`` column.

    Returns
    -------
    pyspark.sql.types.StructType

    Raises
    ------
    ValueError
        For another ``what``.

    Examples
    --------
    >>> result_schema("maps").fieldNames()
    ['site_code', 'key', 'fields']
    """
    if what == "visitorFeeds":
        extra = {"mapping_value": declared.STR} if by == "mapping_value" else None
        return spark_schema(declared.VISITOR_FEED, extra)
    if what == "productCounters":
        return spark_schema(declared.PRODUCT_COUNTERS)
    if what == "productData":
        attributes = dict(declared.PRODUCT_ATTRIBUTES.values())
        return spark_schema(
            declared.PRODUCT_DATA_KEYS, attributes | {OTHER_ATTRIBUTES: declared.STR}
        )
    if what == "maps":
        return spark_schema(declared.MAP_KEYS, {MAP_FIELDS: declared.STR})
    raise ValueError(f"unknown result {what!r}")


def arrow_schema(schema: StructType) -> pa.Schema:
    """The Arrow schema Spark exchanges for ``schema`` (timestamps in UTC)."""
    return to_arrow_schema(schema, timezone="UTC")


# --------------------------------------------------------------------------- frames -> Arrow


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return int(value.value // 1_000_000)
    return str(value)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _rest_json(frame: pd.DataFrame, columns: list[str]) -> list[str | None]:
    """Per row, the JSON object of ``columns`` that have a value (null when none has)."""
    if not columns:
        return [None] * len(frame)
    values = [frame[c].to_numpy(dtype=object) for c in columns]
    out: list[str | None] = []
    for i in range(len(frame)):
        record = {c: v[i] for c, v in zip(columns, values, strict=True) if not _missing(v[i])}
        out.append(_json_text(record) if record else None)
    return out


def _column(series: pd.Series, target: pa.DataType) -> pa.Array:
    """One pandas column as an Arrow array of ``target`` (JSON text for nested values)."""
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        if series.dtype == object:  # nested values (lists, dicts) become their JSON text
            texts = [
                v if isinstance(v, str) else None if _missing(v) else _json_text(v)
                for v in series.tolist()
            ]
            return pa.array(texts, type=target)
        return pa.array(series.astype("string"), type=target, from_pandas=True)
    if pa.types.is_timestamp(target):
        values = pd.to_datetime(series, utc=True, errors="coerce")
        return pa.array(values, type=target, from_pandas=True)
    try:
        return pa.array(series, type=target, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        # A value the type cannot hold (a server's "abc" as a price) is missing, not fatal.
        if pa.types.is_integer(target) or pa.types.is_floating(target):
            coerced = pd.to_numeric(series, errors="coerce")
            if pa.types.is_integer(target):
                coerced = coerced.where(coerced.isna() | (coerced == coerced.round()))
                return pa.array(coerced.astype("Int64"), type=target, from_pandas=True)
            return pa.array(coerced, type=target, from_pandas=True)
        cleaned = [v if isinstance(v, bool) else None for v in series.tolist()]
        return pa.array(cleaned, type=target)


def frame_to_batch(
    frame: pd.DataFrame, schema: StructType, *, rest: str | None = None, known: set[str] | None
) -> pa.RecordBatch:
    """A loader's frame as one Arrow batch of ``schema`` (Spark's Arrow types, UTC).

    Each column of ``schema`` comes from the frame's column of that name, missing ones are
    null. ``rest`` names a column that gathers, as a JSON object text per row, the frame's
    columns outside ``known`` and outside ``schema``.
    """
    target = arrow_schema(schema)
    arrays = []
    for f in target:
        if f.name == rest:
            skip = (known or set()) | set(schema.fieldNames())
            others = [str(c) for c in frame.columns if c not in skip]
            arrays.append(pa.array(_rest_json(frame, others), type=f.type))
        elif f.name in frame.columns:
            arrays.append(_column(frame[f.name], f.type))
        else:
            arrays.append(pa.nulls(len(frame), type=f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=target)
