"""Spark: the ``"kameleoon"`` Python data source (PySpark 4) and helpers around it.

A lakehouse table is pushed where it lives: each Spark task encodes its partition with the
same encoder and posts it through the same client (retries, concurrency cap, 413 splits) as
:func:`kameleoon_pandas.push_events` on one machine, because it *is* that function, run on the
partition's rows. Reads fan a key list out over tasks and return the loaders' declared schemas
as Spark types.

>>> import kameleoon_pandas.spark as kps
>>> kps.register(spark)
>>> (orders.write.format("kameleoon")
...     .option("kind", "conversion").option("key", "order_id")
...     .option("column.goal_id", "goal").option("siteCode", "abc123site")
...     .mode("append").save())
>>> kps.last_write_report()
<SparkPushReport push_events(conversion) to abc123site committed: rows=... sent=...>
>>> report = kps.push_events(orders, "conversion", goal_id="goal")     # without key=: safe too
>>> feeds = kps.read_visitor_feeds(spark, customers.select("visitor_code"))

Exactly once rests on the nonces, never on Spark's task attempts: a task retried after dying
half-way sends the same events with the same nonces, and the Data API stores each once. See
``docs/spark.md`` for every option. Needs ``pip install 'kameleoon-pandas[spark]'`` (PySpark 4,
Java 17) on the driver and the executors; ``import kameleoon_pandas`` alone never imports
PySpark.
"""

from __future__ import annotations

try:
    import pyspark  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "kameleoon_pandas.spark needs PySpark 4: pip install 'kameleoon-pandas[spark]'"
    ) from exc

from .readers import read_maps, read_product_counters, read_product_data, read_visitor_feeds
from .report import (
    SparkPushError,
    SparkPushReport,
    last_write_report,
    read_report,
    report_dir,
)
from .schemas import SPARK_TYPES, result_schema, spark_schema
from .source import NAME, KameleoonDataSource, register
from .writers import client_options, forget_visitors, push_events, push_maps, push_product_events

__all__ = [
    "NAME",
    "SPARK_TYPES",
    "KameleoonDataSource",
    "SparkPushError",
    "SparkPushReport",
    "client_options",
    "forget_visitors",
    "last_write_report",
    "push_events",
    "push_maps",
    "push_product_events",
    "read_maps",
    "read_product_counters",
    "read_product_data",
    "read_report",
    "read_visitor_feeds",
    "register",
    "report_dir",
    "result_schema",
    "spark_schema",
]
