"""``kp.spark.read_*``: the pandas loaders fanned out over a Spark DataFrame (or list) of keys.

Each helper checks its options on the driver (the same parser as ``spark.read.format(
"kameleoon")``), then maps every partition of the keys through the pandas loader
(``mapInArrow``): one client per task, the loader's concurrency and retries within it. The
result is a lazy Spark DataFrame with the declared schema (:mod:`.schemas`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from .._exceptions import ValidationError
from ..client import Client, validate_keys
from .options import ReadOptions, parse_read_options
from .schemas import result_schema
from .tasks import fetch, fetch_batches
from .writers import client_options

__all__ = ["read_maps", "read_product_counters", "read_product_data", "read_visitor_feeds"]

_SHARED = """\
column : str, optional
    The keys' column of a DataFrame ``keys`` (``None``: its only column).
num_partitions : int, optional
    Read tasks. ``None``: a DataFrame's own partitions (after dropping duplicate keys); one
    task per 1,000 keys of a list.
site_code : str, optional
    The site code; ``None`` leaves it to ``client``, else to ``KAMELEOON_SITE_CODE`` on the
    executors.
client : kameleoon_pandas.Client, optional
    Whose settings every task's own client copies; ``None``: the executors' environment.
options : dict of str, optional
    Further options of the format (``{"maxConcurrency": "8"}``), which win over the above.
schema : pyspark.sql.types.StructType or str, optional
    The columns to return (a DDL string works): each is taken from the pandas loader's column
    of that name, cast to the given type. ``None``: the declared schema."""


def _doc(func: Any) -> Any:
    text = "\n".join(("    " + line) if line else line for line in _SHARED.splitlines())
    func.__doc__ = func.__doc__.replace("    {shared}", text)
    return func


def _schema(schema: StructType | str | None, options: ReadOptions) -> StructType:
    if schema is None:
        return result_schema(options.what, options.by)
    if isinstance(schema, str):
        parsed = StructType.fromDDL(schema)
        assert isinstance(parsed, StructType)
        return parsed
    if not isinstance(schema, StructType):
        raise ValidationError(f"schema must be a StructType or a DDL string, got {schema!r}")
    return schema


def _fetch_positions(
    options: ReadOptions, schema: StructType, keys: list[str], batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` over ``spark.range``: the keys at those positions, in order."""
    mine: list[str] = []
    for batch in batches:
        mine.extend(keys[i] for i in batch.column(0).to_pylist())
    yield from fetch(options, mine, schema)


def _read(
    spark: SparkSession,
    keys: DataFrame | Iterable[str],
    what: str,
    loader: dict[str, str],
    *,
    column: str | None,
    num_partitions: int | None,
    site_code: str | None,
    client: Client | None,
    options: Mapping[str, Any] | None,
    schema: StructType | str | None,
    name: str,
) -> DataFrame:
    if not isinstance(spark, SparkSession):
        raise ValidationError(f"expected a SparkSession first, got {type(spark).__name__}")
    given: dict[str, str] = {"what": what, **loader, **client_options(client)}
    if site_code is not None:
        given["siteCode"] = site_code
    given.update({str(k): str(v) for k, v in (options or {}).items() if v is not None})
    parsed = parse_read_options(given)
    target = _schema(schema, parsed)
    if isinstance(keys, DataFrame):
        if column is None:
            if len(keys.columns) != 1:
                raise ValidationError(
                    f"{name}: the frame has {len(keys.columns)} columns; say which holds the "
                    "keys with column=..."
                )
            column = keys.columns[0]
        if column not in keys.columns:
            raise ValidationError(f"{name}: the frame has no column {column!r}")
        frame = keys.select(F.col(column).cast("string").alias("key")).distinct()
        if num_partitions:
            frame = frame.repartition(num_partitions)
        return frame.mapInArrow(functools.partial(fetch_batches, parsed, target), target)
    wanted = validate_keys(keys, name)
    n = num_partitions or parsed.partition_count(len(wanted))
    positions = spark.range(0, len(wanted), numPartitions=max(1, min(n, max(len(wanted), 1))))
    work = functools.partial(_fetch_positions, parsed, target, wanted)
    return positions.mapInArrow(work, target)


def _kinds(kinds: Iterable[str] | str | None) -> dict[str, str]:
    if kinds is None:
        return {}
    return {"kinds": json.dumps([kinds] if isinstance(kinds, str) else list(kinds))}


def _time(value: Any) -> str:
    stamp = pd.Timestamp(value)
    return stamp.isoformat()


@_doc
def read_visitor_feeds(
    spark: SparkSession,
    visitor_codes: DataFrame | Iterable[str],
    *,
    previous_visits: int = 25,
    current_visit: bool = True,
    kinds: Iterable[str] | None = None,
    by: str = "visitor_code",
    column: str | None = None,
    num_partitions: int | None = None,
    site_code: str | None = None,
    client: Client | None = None,
    options: Mapping[str, Any] | None = None,
    schema: StructType | str | None = None,
) -> DataFrame:
    """Read visitors' activity feeds into a Spark DataFrame, one row per event.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session.
    visitor_codes : pyspark.sql.DataFrame or iterable of str
        The visitors (or, with ``by="mapping_value"``, their mapping values): a DataFrame's
        column, or a list.
    previous_visits : int, default 25
        Previous visits (0..25) besides the current one.
    current_visit : bool, default True
        Read the current visit too.
    kinds : iterable of str, optional
        Only these event kinds; ``None``: all.
    by : {"visitor_code", "mapping_value"}, default "visitor_code"
        What the keys are; ``"mapping_value"`` adds a trailing ``mapping_value`` column.
    {shared}

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; the columns of :func:`kameleoon_pandas.read_visitor_feeds` as Spark types (times
        ``timestamp``, ids and counts ``bigint``, ``referrers_indices`` and ``metadata`` as JSON
        text). Within a task, rows come by visitor, then visit, then time.

    Raises
    ------
    ValidationError
        On the driver: a bad option, an invalid code in a list, a DataFrame without the
        column. A DataFrame's codes are checked by the tasks (a bad one fails its task).

    See Also
    --------
    kameleoon_pandas.read_visitor_feeds : The same into pandas.

    Examples
    --------
    >>> import kameleoon_pandas.spark as kps
    >>> feeds = kps.read_visitor_feeds(spark, spark.table("crm_customers").select("code"))
    ... # doctest: +SKIP
    >>> feeds.where("kind = 'conversion'").groupBy("goal_id").count().show()  # doctest: +SKIP
    """
    loader = {
        "previousVisits": str(previous_visits),
        "currentVisit": str(bool(current_visit)).lower(),
        "by": by,
        **_kinds(kinds),
    }
    if not isinstance(current_visit, bool):
        raise ValidationError(f"current_visit must be True or False, got {current_visit!r}")
    return _read(
        spark,
        visitor_codes,
        "visitorFeeds",
        loader,
        column=column,
        num_partitions=num_partitions,
        site_code=site_code,
        client=client,
        options=options,
        schema=schema,
        name="visitor_codes",
    )


@_doc
def read_product_counters(
    spark: SparkSession,
    eans: DataFrame | Iterable[str],
    *,
    start: Any = None,
    end: Any = None,
    freq: str | None = None,
    align: bool = True,
    column: str | None = None,
    num_partitions: int | None = None,
    site_code: str | None = None,
    client: Client | None = None,
    options: Mapping[str, Any] | None = None,
    schema: StructType | str | None = None,
) -> DataFrame:
    """Read views, add-to-cart and bought quantities per EAN and time window into Spark.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session.
    eans : pyspark.sql.DataFrame or iterable of str
        The products.
    start, end : str, datetime or pandas.Timestamp, optional
        ``[start, end)``; ``end`` defaults to now and ``start`` to 24 hours before, fixed once
        on the driver so that every task cuts the same windows.
    freq : str, optional
        Split the range into windows (a pandas frequency such as ``"1h"``).
    align : bool, default True
        Cut the windows on the frequency's grid (see
        :func:`kameleoon_pandas.read_product_counters`).
    {shared}

    Returns
    -------
    pyspark.sql.DataFrame
        ``site_code, ean, window_start, window_end, views, add_to_cart_quantity,
        bought_quantity``.

    Raises
    ------
    ValidationError
        On the driver: a bad time or frequency, a bad option, an invalid EAN in a list.

    See Also
    --------
    kameleoon_pandas.read_product_counters : The same into pandas.

    Examples
    --------
    >>> kps.read_product_counters(spark, eans_df, start="2026-11-01", freq="1D")  # doctest: +SKIP
    """
    loader: dict[str, str] = {"align": str(bool(align)).lower()}
    if start is not None:
        loader["start"] = _time(start)
    if end is not None:
        loader["end"] = _time(end)
    if freq is not None:
        loader["freq"] = str(freq)
    return _read(
        spark,
        eans,
        "productCounters",
        loader,
        column=column,
        num_partitions=num_partitions,
        site_code=site_code,
        client=client,
        options=options,
        schema=schema,
        name="eans",
    )


@_doc
def read_product_data(
    spark: SparkSession,
    eans: DataFrame | Iterable[str],
    *,
    column: str | None = None,
    num_partitions: int | None = None,
    site_code: str | None = None,
    client: Client | None = None,
    options: Mapping[str, Any] | None = None,
    schema: StructType | str | None = None,
) -> DataFrame:
    """Read stored product attributes into Spark, one row per known EAN.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session.
    eans : pyspark.sql.DataFrame or iterable of str
        The products.
    {shared}

    Returns
    -------
    pyspark.sql.DataFrame
        ``site_code, ean``, the declared attributes (``name``, ``price``, ``categories`` as
        JSON text, ...) and ``other_attributes``: the undeclared ones as a JSON object text.

    Raises
    ------
    ValidationError
        On the driver: a bad option, an invalid EAN in a list.

    See Also
    --------
    kameleoon_pandas.read_product_data : The same into pandas.

    Examples
    --------
    >>> kps.read_product_data(spark, ["SKU-1", "SKU-2"]).select("ean", "price")  # doctest: +SKIP
    """
    return _read(
        spark,
        eans,
        "productData",
        {},
        column=column,
        num_partitions=num_partitions,
        site_code=site_code,
        client=client,
        options=options,
        schema=schema,
        name="eans",
    )


@_doc
def read_maps(
    spark: SparkSession,
    keys: DataFrame | Iterable[str],
    *,
    column: str | None = None,
    num_partitions: int | None = None,
    site_code: str | None = None,
    client: Client | None = None,
    options: Mapping[str, Any] | None = None,
    schema: StructType | str | None = None,
) -> DataFrame:
    """Read stored maps into Spark, one row per known key.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session.
    keys : pyspark.sql.DataFrame or iterable of str
        The map keys.
    {shared}

    Returns
    -------
    pyspark.sql.DataFrame
        ``site_code, key, fields``: the map's fields as one JSON object text
        (``from_json(fields, 'tier string, points bigint')``); or, with ``schema=``, the
        fields you name as columns.

    Raises
    ------
    ValidationError
        On the driver: a bad option, an invalid key in a list.

    See Also
    --------
    kameleoon_pandas.read_maps : The same into pandas.

    Examples
    --------
    >>> kps.read_maps(spark, keys_df, schema="key string, tier string")  # doctest: +SKIP
    """
    return _read(
        spark,
        keys,
        "maps",
        {},
        column=column,
        num_partitions=num_partitions,
        site_code=site_code,
        client=client,
        options=options,
        schema=schema,
        name="keys",
    )
