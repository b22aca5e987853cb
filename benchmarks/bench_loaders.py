"""Loaders against a sequential ``httpx.get`` + ``pd.json_normalize`` loop, same data, same run.

Run:  .venv/bin/python benchmarks/bench_loaders.py [--visitors 2000] [--eans 2000] [--latency-ms 20]

The emulator runs in its own process (``python -m kameleoon_pandas.emulator --latency-ms 20``),
so every request pays 20 ms as it would over a network. The data is pushed through the API first:
``--visitors`` visitors with a mix of event kinds and ``--eans`` products with views, add-to-cart
and buy events. Then, for each of the two loads, both ways in turn:

- ``kp.read_visitor_feeds(codes)``  vs  one ``httpx.get("/visit/visitor")`` per visitor, events
  flattened with ``pd.json_normalize`` per kind;
- ``kp.read_product_counters(eans, start, end, freq="1h")`` over 24 hourly windows  vs  one
  ``httpx.get("/product/productCounters")`` per window and block of 100 EANs, then
  ``pd.json_normalize``.

The baseline results are brought to the loaders' schema and compared with
``pd.testing.assert_frame_equal``: the speed-up only counts if the frames are identical.
Target: >= 10x for each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import httpx
import numpy as np
import pandas as pd

import kameleoon_pandas as kp
from kameleoon_pandas.frames.schemas import (
    COUNTER_FIELDS,
    FEED_FIELDS,
    FEED_KINDS,
    PRODUCT_COUNTERS,
    VISITOR_FEED,
    conform,
)

SITE = "benchsite01"
TARGET = 10.0


# -- the emulator in its own process -----------------------------------------------------------


def start_emulator(latency_ms: float) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "kameleoon_pandas.emulator", "--port", "0"]
    cmd += ["--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "emulator on " in line:
            return proc, line.split("emulator on ", 1)[1].split()[0]
    proc.kill()
    raise RuntimeError("the emulator did not start")


# -- data, pushed through the API --------------------------------------------------------------


def seed(client: kp.Client, visitors: list[str], eans: list[str]) -> None:
    counter = iter(range(10**9))
    events = []
    for i, code in enumerate(visitors):
        batch = [
            {
                "eventType": "staticData",
                "deviceType": ["DESKTOP", "PHONE"][i % 2],
                "browserIndex": i % 5,
                "os": "MAC",
                "browserVersion": 120.0 + i % 7,
            },
            {"eventType": "geolocation", "country": "France", "city": "Paris"},
            {"eventType": "page", "href": f"https://shop.example/p/{i}", "title": f"P{i}"},
            {"eventType": "page", "href": "https://shop.example/cart", "title": "Cart"},
            {"eventType": "customData", "index": 2, "valuesCountMap": {"gold": 1, f"s{i % 9}": 2}},
            {"eventType": "experiment", "id": 501, "variationId": 5011 + i % 2},
        ]
        if i % 3 == 0:
            batch.append({"eventType": "conversion", "goalId": 1001, "revenue": 12.5 + i})
        for event in batch:
            event.update(visitorCode=code, nonce=f"{next(counter):016x}")
        events.extend(batch)
    for start in range(0, len(events), 5_000):
        client.post_visit_events(events[start : start + 5_000])
    products = []
    for i, ean in enumerate(eans):
        products.append(
            {
                "eventType": "productPage",
                "ean": ean,
                "name": f"Item {i}",
                "price": 10.0 + i,
                "nonce": f"{next(counter):016x}",
            }
        )
        products += [
            {
                "eventType": "productAddToCart",
                "ean": ean,
                "quantity": 1 + i % 3,
                "nonce": f"{next(counter):016x}",
            }
            for _ in range(i % 4)
        ]
        if i % 5 == 0:
            products.append(
                {
                    "eventType": "productBuy",
                    "ean": ean,
                    "quantity": 2,
                    "nonce": f"{next(counter):016x}",
                }
            )
    for start in range(0, len(products), 5_000):
        client.post_product_events(products[start : start + 5_000])


# -- the baselines: what a user would write --------------------------------------------------


def baseline_feeds(url: str, visitors: list[str]) -> pd.DataFrame:
    parts = []
    for code in visitors:
        params = {
            "siteCode": SITE,
            "visitorCode": code,
            "maxNumberPreviousVisits": 25,
            "currentVisit": "true",
            "all": "true",
            "version": 0,
        }
        feed = httpx.get(f"{url}/visit/visitor", params=params, timeout=30).raise_for_status()
        feed = feed.json()
        visits = [(0, feed["currentVisit"])] if feed.get("currentVisit") else []
        visits += list(enumerate(feed.get("previousVisits", []), start=1))
        for number, visit in visits:
            for kind, key in FEED_KINDS.items():
                events = visit.get(key)
                if not events:
                    continue
                if isinstance(events, dict):
                    events = [events]
                if kind == "custom_data":  # one row per value, as the loader does
                    events = [
                        {"time": e["time"], "data": {**e["data"], "value": v, "count": c}}
                        for e in events
                        for v, c in e["data"].get("valuesCountMap", {}).items()
                    ]
                part = pd.json_normalize(events)
                part = part.rename(
                    columns={f"data.{wire}": col for wire, col in FEED_FIELDS[kind].items()}
                )
                part = part.rename(columns={"data.value": "value", "data.count": "count"})
                part = part.drop(columns=[c for c in part.columns if c.startswith("data.")])
                part["kind"] = kind
                part["visit"] = number
                part["visitor_code"] = visit.get("visitorCode", code)
                part["visit_started"] = visit["timeStarted"]
                part["visit_last_event"] = visit["timeLastEvent"]
                parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    for column in ("time", "visit_started", "visit_last_event"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    frame["site_code"] = SITE
    return conform(frame, VISITOR_FEED)


def baseline_counters(url: str, eans: list[str], start: pd.Timestamp) -> pd.DataFrame:
    parts = []
    for hour in range(24):
        begin = start + pd.Timedelta(hours=hour)
        end = begin + pd.Timedelta(hours=1)
        for block in range(0, len(eans), 100):
            params = {
                "siteCode": SITE,
                "eans": json.dumps(eans[block : block + 100]),
                "timeBegin": begin.value // 10**6,
                "timeEnd": end.value // 10**6,
            }
            answer = httpx.get(f"{url}/product/productCounters", params=params, timeout=30)
            answer = answer.raise_for_status().json()
            part = pd.json_normalize([{"ean": ean, **counts} for ean, counts in answer.items()])
            part["window_start"], part["window_end"] = begin, end
            parts.append(part)
    frame = pd.concat(parts, ignore_index=True).rename(columns=dict(COUNTER_FIELDS))
    frame["site_code"] = SITE
    position = {ean: i for i, ean in enumerate(eans)}
    frame = frame.sort_values(["window_start"], kind="stable")
    frame = frame.iloc[np.argsort(frame["ean"].map(position).to_numpy(), kind="stable")]
    return conform(frame.reset_index(drop=True), PRODUCT_COUNTERS)


# -- the run ---------------------------------------------------------------------------------


def canonical_feed(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["visitor_code", "visit", "time", "kind", "href", "value"]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--eans", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-concurrency", type=int, default=16)
    args = parser.parse_args(argv)

    visitors = [f"bench{i:011d}" for i in range(args.visitors)]
    eans = [f"40{i:011d}" for i in range(args.eans)]
    proc, url = start_emulator(args.latency_ms)
    ok = True
    try:
        settings = dict(site_code=SITE, base_url=url, max_concurrency=args.max_concurrency)
        with kp.Client(**settings) as client:
            seed(client, visitors, eans)
            end = pd.Timestamp.now(tz="UTC").ceil("h")
            start = end - pd.Timedelta(hours=24)
            print(
                f"loaders benchmark: emulator with {args.latency_ms:g} ms latency in its own "
                f"process, {os.cpu_count()} CPUs, max_concurrency={args.max_concurrency}"
            )

            feeds, fast = timed(kp.read_visitor_feeds, visitors, client=client, progress=False)
            expected, slow = timed(baseline_feeds, url, visitors)
            ok &= report(
                f"read_visitor_feeds, {len(visitors):,} visitors ({len(feeds):,} rows)",
                fast,
                slow,
                canonical_feed(feeds),
                canonical_feed(expected),
            )

            counters, fast = timed(
                kp.read_product_counters,
                eans,
                start=start,
                end=end,
                freq="1h",
                client=client,
                progress=False,
            )
            expected, slow = timed(baseline_counters, url, eans, start)
            ok &= report(
                f"read_product_counters, {len(eans):,} EANs x 24 hourly windows "
                f"({len(counters):,} rows)",
                fast,
                slow,
                counters,
                expected,
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0 if ok else 1


def report(what: str, fast: float, slow: float, got: pd.DataFrame, want: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(got, want)
        same = "identical frames"
        identical = True
    except AssertionError as exc:
        same = f"FRAMES DIFFER: {str(exc).splitlines()[0]}"
        identical = False
    ratio = slow / fast
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"\n{what}")
    print(f"  loader                         {fast:8.2f} s")
    print(f"  httpx.get loop + json_normalize {slow:7.2f} s")
    print(f"  speed-up {ratio:.1f}x ({verdict} the {TARGET:g}x target), {same}")
    return identical


if __name__ == "__main__":
    raise SystemExit(main())
