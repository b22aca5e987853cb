"""Spark's side of the scale benchmark (issue 13): ``n`` conversions pushed from a Spark DataFrame
on ``local[2]`` through the ``"kameleoon"`` data source. A script, and a module that
``bench_scale.py`` imports (``push_with_spark``).

    .venv/bin/python benchmarks/scale_spark.py --rows 2000000            # starts an emulator
    .venv/bin/python benchmarks/scale_spark.py --url http://127.0.0.1:8000 --site s1

The rows are made by Spark itself (``spark.range``: an order id, a visitor of 16 hex digits, a
goal, a revenue, a flag, as ``bench_writers.conversions`` has them) and cached in the
executors' memory first, as a table would be; the clock runs over the ``save()`` alone: two
tasks, each handing its partition to ``kp.push_events`` chunk by chunk. With ``key`` (the
default) the write is the plain format path, no shuffle; ``key=False`` goes through
``kp.spark.push_events`` without ``key=``, which first repartitions and sorts the rows by
visitor so that the content-derived nonces are right.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

SITE = "sparkscale01"


def _session(cores: int) -> Any:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("kameleoon-scale")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _conversions(spark: Any, n_rows: int, partitions: int) -> Any:
    return spark.range(0, n_rows, numPartitions=partitions).selectExpr(
        "id + 1000000000 AS order_id",
        "lpad(hex(xxhash64(id)), 16, '0') AS visitor_code",
        "1 + pmod(xxhash64(id, 1), 59) AS goal_id",
        "round(rand(7) * 500, 2) AS revenue",
        "rand(8) < 0.05 AS negative",
    )


def push_with_spark(
    base_url: str,
    site_code: str,
    n_rows: int,
    *,
    key: bool = True,
    cores: int = 2,
    rows_per_push: int | None = None,
    stop: bool = True,
    **settings: Any,
) -> dict:
    """Push ``n_rows`` conversions from a cached Spark DataFrame on ``local[cores]``.

    Parameters
    ----------
    base_url, site_code : str
        The Data API (an emulator) and the site to write to.
    n_rows : int
        Conversions to push.
    key : bool, default True
        Push with ``key="order_id"`` (the format, no shuffle); ``False``: content nonces
        through ``kp.spark.push_events`` (a repartition and sort by visitor first).
    cores : int, default 2
        ``local[cores]``: the tasks, one partition each.
    rows_per_push : int, optional
        The format's ``rowsPerPush``.
    stop : bool, default True
        Stop the Spark session afterwards.
    **settings
        ``kp.Client`` settings for the tasks' clients (``max_concurrency=16``, ``client_id``,
        ``client_secret``, ...).

    Returns
    -------
    dict
        ``rows_per_s``, ``seconds`` (the ``save()`` alone), ``session_seconds`` (starting Spark,
        caching the rows), and the report's ``sent``, ``invalid``, ``failed``, ``requests``,
        ``tasks``.
    """
    import kameleoon_pandas.spark as kps
    from kameleoon_pandas.spark.options import CLIENT_OPTION_NAMES

    started = time.perf_counter()
    spark = _session(cores)
    try:
        kps.register(spark)
        df = _conversions(spark, n_rows, cores).cache()
        df.count()  # generated and cached before the clock starts
        ready = time.perf_counter()
        options = {CLIENT_OPTION_NAMES[k]: str(v) for k, v in settings.items() if v is not None}
        options.update(siteCode=site_code, baseUrl=base_url)
        if rows_per_push:
            options["rowsPerPush"] = str(rows_per_push)
        t0 = time.perf_counter()
        if key:
            (
                df.write.format(kps.NAME)
                .option("kind", "conversion")
                .option("key", "order_id")
                .options(**options)
                .mode("append")
                .save()
            )
            report = kps.last_write_report()
            assert report is not None
        else:
            report = kps.push_events(df.drop("order_id"), "conversion", options=options)
        seconds = time.perf_counter() - t0
        df.unpersist()
    finally:
        if stop:
            spark.stop()
    return {
        "rows_per_s": round(report.sent / seconds) if seconds else 0,
        "seconds": round(seconds, 2),
        "session_seconds": round(ready - started, 2),
        "sent": report.sent,
        "invalid": report.invalid_rows,
        "failed": report.failed_rows,
        "requests": report.requests,
        "tasks": report.tasks,
    }


@contextlib.contextmanager
def _emulator() -> Iterator[tuple[str, Any]]:
    """A fresh emulator process on a fresh SQLite file (as ``bench_emulator.py`` starts it)."""
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_emulator import start_emulator

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "spark.sqlite")
        proc, url = start_emulator(db)
        try:
            yield url, db
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--url", help="an emulator already running (else one is started)")
    ap.add_argument("--site", default=SITE)
    ap.add_argument("--no-key", action="store_true", help="content nonces (kp.spark.push_events)")
    ap.add_argument("--rows-per-push", type=int)
    ap.add_argument("--max-concurrency", type=int, default=16)
    args = ap.parse_args()
    common = dict(
        key=not args.no_key,
        rows_per_push=args.rows_per_push,
        max_concurrency=args.max_concurrency,
    )
    if args.url:
        print(push_with_spark(args.url, args.site, args.rows, **common))
        return
    import sqlite3

    with _emulator() as (url, db):
        outcome = push_with_spark(url, args.site, args.rows, **common)
        with contextlib.closing(sqlite3.connect(db)) as conn:
            (stored,) = conn.execute(
                "SELECT COUNT(*) FROM visit_events WHERE site_code = ?", (args.site,)
            ).fetchone()
    print(outcome)
    print(f"stored: {stored:,} events (expected {args.rows:,})")


if __name__ == "__main__":
    main()
