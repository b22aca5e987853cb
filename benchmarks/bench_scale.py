"""Beyond one process (issue 13): Dask (and Spark) pushes against pandas and the raw ingest, and
the loaders, on pandas and on Dask, against their raw-concurrent floors. One run, one machine.

    .venv/bin/python benchmarks/bench_scale.py                       # 2,000,000 conversions
    .venv/bin/python benchmarks/bench_scale.py --rows 200000         # scaled down
    .venv/bin/python benchmarks/bench_scale.py --spark               # + the Spark push
    .venv/bin/python benchmarks/bench_scale.py --skip-push | --skip-loaders

1. Pushes. ``--rows`` conversions (``bench_writers.conversions``: a random visitor each, a goal,
   a revenue, a flag), every measurement on a fresh emulator process (``python -m
   kameleoon_pandas.emulator``, SQLite file in WAL mode, as ``bench_emulator.py`` starts it),
   so none pays for the events another left in the table:

   - the emulator's raw ingest: the same number of lines, pre-built by the encoder into
     2.5 MiB bodies, posted one after another with plain httpx (``bench_writers.raw_ingest``);
   - ``kp.push_events`` of the whole pandas frame, in this process;
   - ``kp.dask.push_events`` of the same rows, held by 2 Dask workers (a ``LocalCluster`` of 2
     processes, 1 thread each; the partitions persisted in the workers' memory first, as a
     cached table), with the default shuffle and with ``shuffle=False`` (the rows are
     partitioned by visitor already: each partition's visitors are its own);
   - ``--spark``: ``scale_spark.push_with_spark`` (``benchmarks/scale_spark.py``, a PySpark
     ``local[2]`` push through the ``"kameleoon"`` data source), when that module is there.

   Every push is checked: the emulator's table holds exactly ``--rows`` events afterwards.
   Reported: rows/s, and each push's ratio to the raw ingest and to the pandas push.

2. Loaders, against the raw-concurrent floor (``bench_loaders``: the very requests each loader
   sends, sent with plain aiohttp at the same concurrency, bodies read and not parsed), on an
   emulator with ``--latency-ms`` of latency: the pandas loaders (at ``max_concurrency``) and
   the Dask loaders on the 2 workers (``max_in_flight`` = the same number, the cluster-wide
   cap, so the floor is the same). The pandas loaders are measured before the cluster starts
   (its idle workers would share the cores); the floors and requests come from
   ``bench_loaders.py`` (the script's folder is on ``sys.path``).

On 2 cores the emulator (one process, one SQLite writer) is the bound of every push, as the
Data API's rate limit is the bound of a real one: more workers do not make the server ingest
faster, and the cluster-wide cap (``max_in_flight``) keeps them from piling requests on it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

import kameleoon_pandas as kp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling benchmarks, imported for their helpers

from bench_emulator import start_emulator  # noqa: E402
from bench_writers import conversions, raw_ingest, vector_lines  # noqa: E402

SITE = "scalesite01"
#: The fields ``bench_loaders.seed`` writes into the maps (declared: no read to learn them).
MAP_FIELDS = {"tier": "string", "points": "Int64", "vip": "boolean"}


# -- the emulator, fresh for every measured push ---------------------------------------------


@contextlib.contextmanager
def emulator() -> Iterator[tuple[str, Callable[[str], int]]]:
    """A fresh emulator process on a fresh file: (url, events stored for a site)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "scale.sqlite")
        proc, url = start_emulator(db)

        def stored(site: str) -> int:
            with contextlib.closing(sqlite3.connect(db)) as conn:
                row = conn.execute("SELECT count(*) FROM visit_events WHERE site_code=?", (site,))
                return int(row.fetchone()[0])

        try:
            yield url, stored
        finally:
            proc.terminate()
            proc.wait(timeout=30)


# -- the data: one partition per seed, the same rows for every push ---------------------------


def partition(number: int, rows: int) -> pd.DataFrame:
    """Partition ``number``: its own visitors (random 63-bit codes), ``rows`` conversions."""
    frame = conversions(rows, seed=1_000 + number)
    frame.index = pd.RangeIndex(number * rows, (number + 1) * rows)
    return frame


def sizes(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


# -- 1. pushes ---------------------------------------------------------------------------------


def pushes(args: argparse.Namespace) -> None:
    import dask.dataframe as dd
    import distributed

    import kameleoon_pandas.dask as kd

    n, parts = args.rows, args.partitions
    print(
        f"== 1. pushing {n:,} conversions ({os.cpu_count()} CPUs; every push on a fresh "
        f"emulator process, best of {args.repeat})"
    )
    frame = pd.concat([partition(i, size) for i, size in enumerate(sizes(n, parts))])
    results: dict[str, float] = {}
    notes: dict[str, str] = {}

    def measure(label: str, push: Callable[[str, str], Any]) -> None:
        best = math.inf
        for attempt in range(args.repeat):
            with emulator() as (url, stored):
                site = f"{SITE}{attempt}"
                gc.collect()
                began = time.perf_counter()
                outcome = push(url, site)
                seconds = time.perf_counter() - began
                if isinstance(outcome, dict) and "seconds" in outcome:
                    seconds = float(outcome["seconds"])  # Spark: the save() alone, as it times
                count = stored(site)
            assert count == n, f"{label}: {count:,} events stored, not {n:,}"
            best = min(best, seconds)
            if isinstance(outcome, kp.PushReport):
                assert outcome.ok and outcome.sent == n, outcome
                notes[label] = f"{outcome.requests} requests"
        results[label] = n / best

    bodies = vector_lines(frame, f"{SITE}0")  # the nonces do not matter to the ingest

    def raw(url: str, site: str) -> None:
        raw_ingest(url, bodies, site)

    measure("emulator raw ingest (httpx, pre-built 2.5 MiB bodies)", raw)
    bodies.clear()

    def pandas_push(url: str, site: str) -> kp.PushReport:
        with kp.Client(site, base_url=url) as client:
            return kp.push_events(frame, "conversion", client=client, progress=False)

    measure("kp.push_events, pandas, this process", pandas_push)

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        meta = partition(0, 1).iloc[:0]
        ddf = dd.from_map(partition, list(range(parts)), sizes(n, parts), meta=meta)
        ddf = ddf.persist()
        distributed.wait(ddf)
        dask_client.run(gc.collect)
        for label, shuffle in (
            ("kp.dask.push_events, 2 workers, shuffle=True (default)", True),
            ("kp.dask.push_events, 2 workers, shuffle=False (by visitor)", False),
        ):

            def dask_push(url: str, site: str, shuffle: bool = shuffle) -> kp.PushReport:
                with kp.Client(site, base_url=url) as client:
                    return kd.push_events(
                        ddf, "conversion", client=client, shuffle=shuffle, progress=False
                    )

            measure(label, dask_push)

    if args.spark:
        spark = spark_push()
        if spark is not None:

            def spark_run(url: str, site: str) -> dict:
                outcome = spark(url, site, n)
                notes["spark"] = ", ".join(f"{k}={v}" for k, v in outcome.items())
                return outcome

            # Spark makes its own rows (spark.range: the same columns, an order id as key=)
            measure("Spark local[2], format('kameleoon'), key=order_id", spark_run)

    raw_rate = next(iter(results.values()))
    pandas_rate = results["kp.push_events, pandas, this process"]
    for label, rate in results.items():
        extra = f"  ({notes[label]})" if label in notes else ""
        print(
            f"   {label:58} {rate:10,.0f} rows/s   {rate / raw_rate:4.2f}x raw   "
            f"{rate / pandas_rate:4.2f}x pandas{extra}"
        )
    if "spark" in notes:
        print(f"   spark: {notes['spark']}")


def spark_push() -> Callable[..., dict] | None:
    """``scale_spark.push_with_spark`` if it is there (another engineer's module)."""
    try:
        from scale_spark import push_with_spark
    except ImportError as exc:
        print(f"   --spark: benchmarks/scale_spark.py is not importable ({exc}); skipped")
        return None
    return push_with_spark


# -- 2. loaders against their floors -------------------------------------------------------------


def loaders(args: argparse.Namespace) -> None:
    import bench_loaders as bl
    import distributed

    import kameleoon_pandas.dask as kd

    concurrency = args.max_concurrency
    visitors = [f"scale{i:011d}" for i in range(args.visitors)]
    eans = [f"41{i:011d}" for i in range(args.eans)]
    keys = [f"crm:{i:08d}" for i in range(args.maps)]
    end = pd.Timestamp.now(tz="UTC").ceil("h")
    start = end - pd.Timedelta(hours=24)
    proc, url = bl.start_emulator(args.latency_ms)
    try:
        settings = dict(site_code=SITE, base_url=url, max_concurrency=concurrency)
        with kp.Client(**settings) as client:
            bl.seed(client, visitors, eans, keys)
            # (label, floor, pandas loader, Dask loader's options -> its frame)
            cases: list[tuple[str, Callable[[], Any], Callable[[], Any], Callable[..., Any]]] = [
                (
                    f"read_product_counters {len(eans):,} EANs x 24 h",
                    lambda: bl.floor_product_counters(
                        url, eans, site_code=SITE, start=start, end=end, freq="1h",
                        max_concurrency=concurrency,
                    ),
                    lambda: kp.read_product_counters(
                        eans, start=start, end=end, freq="1h", client=client, progress=False
                    ),
                    lambda **o: kd.read_product_counters(
                        eans, start=start, end=end, freq="1h", **o
                    ),
                ),
                (
                    f"read_product_data     {len(eans):,} EANs",
                    lambda: bl.floor_product_data(
                        url, eans, site_code=SITE, max_concurrency=concurrency
                    ),
                    lambda: kp.read_product_data(eans, client=client, progress=False),
                    lambda **o: kd.read_product_data(eans, **o),
                ),
                (
                    f"read_visitor_feeds    {len(visitors):,} visitors",
                    lambda: bl.floor_visitor_feeds(
                        url, visitors, site_code=SITE, max_concurrency=concurrency
                    ),
                    lambda: kp.read_visitor_feeds(visitors, client=client, progress=False),
                    lambda **o: kd.read_visitor_feeds(visitors, **o),
                ),
                (
                    f"read_maps             {len(keys):,} keys",
                    lambda: bl.floor_maps(url, keys, site_code=SITE, max_concurrency=concurrency),
                    lambda: kp.read_maps(keys, client=client, progress=False),
                    lambda **o: kd.read_maps(keys, fields=MAP_FIELDS, **o),
                ),
            ]  # fmt: skip
            print(
                f"== 2. loaders against the raw-concurrent floor (plain aiohttp, the same "
                f"requests, {concurrency} in flight; emulator with {args.latency_ms:g} ms "
                f"latency in its own process), best of {args.rounds} or more"
            )
            # The pandas loaders first, with no cluster: its idle workers would share the two
            # cores with the client (one machine's target is the pandas loader's); then the
            # Dask loaders, with the cluster up, against floors measured beside them.
            print("   pandas, one process:")
            for what, floor, pandas_load, _ in cases:
                against_floor(args, what, floor, pandas_load, target=1.2)
            with (
                distributed.LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                distributed.Client(cluster) as dask_client,
            ):
                dask_client.run(gc.collect)
                common = dict(client=client, max_in_flight=concurrency, npartitions=2)
                print("   Dask, 2 workers (max_in_flight: the same cap, cluster-wide):")
                for what, floor, _, dask_load in cases:

                    def computed(load: Callable[..., Any] = dask_load) -> Any:
                        return load(**common).compute()

                    against_floor(args, what, floor, computed)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def against_floor(
    args: argparse.Namespace,
    what: str,
    floor: Callable[[], Any],
    load: Callable[[], Any],
    target: float | None = None,
) -> None:
    """Print ``load``'s best time against ``floor``'s, the two interleaved (a shared machine),
    and whether the ratio meets ``target``."""
    import bench_loaders as bl

    load()  # warm, as the floor's session is: connections, tokens, the workers' imports
    floor_s, load_s = math.inf, math.inf
    done, rounds = 0, args.rounds
    while done < rounds:
        floor_s = min(floor_s, floor().seconds)
        load_s = min(load_s, timed(load))
        done += 1
        # short cases (20 requests, ~60 ms) get rounds enough for 2 s of floor
        rounds = max(args.rounds, min(bl.MAX_ROUNDS, math.ceil(bl.MIN_FLOOR_SECONDS / floor_s)))
    ratio = load_s / floor_s
    verdict = "" if target is None else f"{'meets' if ratio <= target else 'misses'} {target}x, "
    print(
        f"     {what:40} floor {floor_s:6.3f} s   loader {load_s:6.3f} s "
        f"{ratio:4.2f}x ({verdict}best of {rounds})"
    )


def timed(function: Callable[[], Any]) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000, help="conversions pushed")
    ap.add_argument("--partitions", type=int, default=8, help="Dask partitions of the rows")
    ap.add_argument("--repeat", type=int, default=1, help="pushes of each kind (best of)")
    ap.add_argument("--spark", action="store_true", help="add the Spark push (scale_spark.py)")
    ap.add_argument("--skip-push", action="store_true", help="run part 2 only")
    ap.add_argument("--skip-loaders", action="store_true", help="run part 1 only")
    ap.add_argument("--visitors", type=int, default=2000)
    ap.add_argument("--eans", type=int, default=2000)
    ap.add_argument("--maps", type=int, default=2000)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--max-concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3, help="loader/floor rounds (best of)")
    args = ap.parse_args(argv)
    if not args.skip_push:
        pushes(args)
    if not args.skip_loaders:
        loaders(args)


if __name__ == "__main__":
    main()
