"""Loaders against what a user would write, and against the raw-concurrent floor, same run.

Run:  .venv/bin/python benchmarks/bench_loaders.py [--visitors 2000] [--eans 2000] [--maps 2000]
      [--latency-ms 20] [--max-concurrency 16] [--rounds 3] [--floor-only]

The emulator runs in its own process (``python -m kameleoon_pandas.emulator --latency-ms 20``),
so every request pays 20 ms as it would over a network. The data is pushed through the API first:
``--visitors`` visitors with a mix of event kinds, ``--eans`` products with attributes, views,
add-to-cart and buy events, and ``--maps`` map keys with a few fields.

1. Against a sequential ``httpx.get`` + ``pd.json_normalize`` loop (target >= 10x), both ways in
   turn (skipped with ``--floor-only``):

   - ``kp.read_visitor_feeds(codes)``  vs  one ``httpx.get("/visit/visitor")`` per visitor,
     events flattened with ``pd.json_normalize`` per kind;
   - ``kp.read_product_counters(eans, start, end, freq="1h")`` over 24 hourly windows  vs  one
     ``httpx.get("/product/productCounters")`` per window and block of 100 EANs, then
     ``pd.json_normalize``.

   The baseline results are brought to the loaders' schema and compared with
   ``pd.testing.assert_frame_equal``: the speed-up only counts if the frames are identical.

2. Against the raw-concurrent floor (target <= 1.2x): for every loader (counters, product data,
   feeds, maps), the very requests the loader sends (checked against a recording of the
   loader's own requests, byte for byte), sent with plain aiohttp at the same concurrency on a
   warm session, bodies read and not parsed. Loader and floor alternate for ``--rounds`` rounds
   (at least enough for 2 s of floor: a loader of 20 requests takes ~60 ms, and five samples of
   that are mostly noise);
   the ratio is best loader time over best floor time.

The floor helpers (``floor_product_counters``, ``floor_product_data``, ``floor_visitor_feeds``,
``floor_maps``, and ``floor_requests`` under them) are importable: ``benchmarks/bench_scale.py``
imports them (``from bench_loaders import floor_product_counters``, the script's folder is on
``sys.path``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import numpy as np
import pandas as pd
import yarl
from httpx_aiohttp import AiohttpTransport

import kameleoon_pandas as kp
from kameleoon_pandas._contract import KIND_FLAGS, MAX_KEYS_PER_CALL
from kameleoon_pandas.frames.schemas import (
    COUNTER_FIELDS,
    FEED_FIELDS,
    FEED_KINDS,
    PRODUCT_COUNTERS,
    VISITOR_FEED,
    conform,
)
from kameleoon_pandas.loaders import time_windows

SITE = "benchsite01"
TARGET = 10.0
#: The loaders' time at most this many times the raw-concurrent floor's (issue 13).
FLOOR_TARGET = 1.2
#: Rounds of a short case: at least this many seconds of floor, at most MAX_ROUNDS rounds.
MIN_FLOOR_SECONDS = 2.0
MAX_ROUNDS = 40


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


def seed(client: kp.Client, visitors: list[str], eans: list[str], keys: list[str]) -> None:
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
    maps = {
        key: {"tier": ["gold", "silver", "bronze"][i % 3], "points": i * 10, "vip": i % 7 == 0}
        for i, key in enumerate(keys)
    }
    for start in range(0, len(keys), 500):
        client.post_maps({key: maps[key] for key in keys[start : start + 500]})


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
    frame = conform(frame, VISITOR_FEED)
    # concat fills the nested columns of the other kinds with NaN; the loader's missing is None
    for column, dtype in VISITOR_FEED.items():
        if dtype == "object":
            frame[column] = frame[column].where(frame[column].notna(), None)
    return frame


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


# -- the raw-concurrent floor: the same requests, plain aiohttp, bodies read and not parsed ----


@dataclass(frozen=True)
class Floor:
    """One floor measurement: the best of ``repeat`` timed passes over the same requests."""

    seconds: float
    requests: int
    bytes: int


def _target(path: str, params: dict[str, str]) -> str:
    """``path?query``, the query encoded by httpx exactly as the client encodes it."""
    return httpx.URL(path, params=params).raw_path.decode("ascii")


def _unique(keys: Iterable[str]) -> list[str]:
    """The keys as the loaders ask them: a single string is one key, repeats asked once."""
    return list(dict.fromkeys([keys] if isinstance(keys, str) else keys))


def _blocks(keys: list[str]) -> list[list[str]]:
    return [keys[i : i + MAX_KEYS_PER_CALL] for i in range(0, len(keys), MAX_KEYS_PER_CALL)]


def _json_array(keys: list[str]) -> str:
    return json.dumps(keys, separators=(",", ":"), ensure_ascii=False)


def counters_requests(
    eans: Iterable[str],
    *,
    site_code: str,
    start: Any,
    end: Any,
    freq: Any = None,
    align: bool = True,
) -> list[str]:
    """The ``GET /product/productCounters`` targets of ``read_product_counters`` (same args)."""
    blocks = _blocks(_unique(eans))
    return [
        _target(
            "/product/productCounters",
            {
                "siteCode": site_code,
                "eans": _json_array(block),
                "timeBegin": str(begin),
                "timeEnd": str(finish),
            },
        )
        for begin, finish in time_windows(start, end, freq, align=align)
        for block in blocks
    ]


def product_data_requests(eans: Iterable[str], *, site_code: str) -> list[str]:
    """The ``GET /product/productData`` targets of ``read_product_data``."""
    return [
        _target(
            "/product/productData",
            {"siteCode": site_code, "eans": _json_array(block), "all": "true"},
        )
        for block in _blocks(_unique(eans))
    ]


def maps_requests(keys: Iterable[str], *, site_code: str) -> list[str]:
    """The ``GET /map/maps`` targets of ``read_maps``."""
    return [
        _target("/map/maps", {"siteCode": site_code, "keys": _json_array(block)})
        for block in _blocks(_unique(keys))
    ]


def visitor_feeds_requests(
    visitor_codes: Iterable[str],
    *,
    site_code: str,
    previous_visits: int = 25,
    current_visit: bool = True,
    kinds: Sequence[str] | None = None,
    by: str = "visitor_code",
) -> list[str]:
    """The ``GET /visit/visitor`` targets of ``read_visitor_feeds`` (one per visitor)."""
    wire_key = {"visitor_code": "visitorCode", "mapping_value": "mappingValue"}[by]
    flags = {"all": "true"} if kinds is None else {KIND_FLAGS[kind]: "true" for kind in kinds}
    targets = []
    for code in _unique(visitor_codes):
        params = {"siteCode": site_code, wire_key: code}
        if previous_visits:
            params["maxNumberPreviousVisits"] = str(previous_visits)
        params |= {"version": "0", "currentVisit": "true" if current_visit else "false"}
        targets.append(_target("/visit/visitor", params | flags))
    return targets


async def _floor(base_url: str, targets: Sequence[str], max_concurrency: int, repeat: int) -> Floor:
    headers = {"User-Agent": f"kameleoon-pandas/{kp.__version__}"}
    base = base_url.rstrip("/")
    urls = [yarl.URL(base + target, encoded=True) for target in targets]
    slots = asyncio.Semaphore(max_concurrency)
    connector = aiohttp.TCPConnector(limit=max_concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(url: yarl.URL) -> int:
            async with slots, session.get(url) as response:
                body = await response.read()
                response.raise_for_status()
                return len(body)

        # Warm the pool first, as the loaders' client is warm (keep-alive connections).
        await asyncio.gather(*(one(url) for url in urls[:max_concurrency]))
        best, size = float("inf"), 0
        for _ in range(repeat):
            began = time.perf_counter()
            size = sum(await asyncio.gather(*(one(url) for url in urls)))
            best = min(best, time.perf_counter() - began)
    return Floor(seconds=best, requests=len(urls), bytes=size)


def floor_requests(
    base_url: str, targets: Sequence[str], *, max_concurrency: int = 16, repeat: int = 1
) -> Floor:
    """Send ``targets`` (``path?query``) with plain aiohttp, ``max_concurrency`` in flight.

    Each body is read and not parsed. The session is warmed first (one round of requests,
    untimed); the result is the best of ``repeat`` timed passes over all the targets.
    """
    return asyncio.run(_floor(base_url, targets, max_concurrency, repeat))


def floor_product_counters(
    base_url: str,
    eans: Iterable[str],
    *,
    site_code: str,
    start: Any,
    end: Any,
    freq: Any = None,
    align: bool = True,
    max_concurrency: int = 16,
    repeat: int = 1,
) -> Floor:
    """The floor of ``read_product_counters(eans, start=, end=, freq=, align=)``."""
    targets = counters_requests(
        eans, site_code=site_code, start=start, end=end, freq=freq, align=align
    )
    return floor_requests(base_url, targets, max_concurrency=max_concurrency, repeat=repeat)


def floor_product_data(
    base_url: str,
    eans: Iterable[str],
    *,
    site_code: str,
    max_concurrency: int = 16,
    repeat: int = 1,
) -> Floor:
    """The floor of ``read_product_data(eans)``."""
    targets = product_data_requests(eans, site_code=site_code)
    return floor_requests(base_url, targets, max_concurrency=max_concurrency, repeat=repeat)


def floor_maps(
    base_url: str,
    keys: Iterable[str],
    *,
    site_code: str,
    max_concurrency: int = 16,
    repeat: int = 1,
) -> Floor:
    """The floor of ``read_maps(keys)``."""
    targets = maps_requests(keys, site_code=site_code)
    return floor_requests(base_url, targets, max_concurrency=max_concurrency, repeat=repeat)


def floor_visitor_feeds(
    base_url: str,
    visitor_codes: Iterable[str],
    *,
    site_code: str,
    previous_visits: int = 25,
    current_visit: bool = True,
    kinds: Sequence[str] | None = None,
    by: str = "visitor_code",
    max_concurrency: int = 16,
    repeat: int = 1,
) -> Floor:
    """The floor of ``read_visitor_feeds(visitor_codes, ...)`` (one request per visitor)."""
    targets = visitor_feeds_requests(
        visitor_codes,
        site_code=site_code,
        previous_visits=previous_visits,
        current_visit=current_visit,
        kinds=kinds,
        by=by,
    )
    return floor_requests(base_url, targets, max_concurrency=max_concurrency, repeat=repeat)


class _Recording(httpx.AsyncBaseTransport):
    """The client's own transport, keeping the target of every request it sends."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.targets: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.targets.append(request.url.raw_path.decode("ascii"))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def loader_requests(settings: dict[str, Any], call: Callable[[kp.Client], object]) -> list[str]:
    """The targets ``call(client)`` sends, through a recording copy of the client."""
    recording = _Recording(AiohttpTransport())
    with kp.Client(**settings, transport=recording) as client:
        call(client)
    return recording.targets


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
    parser.add_argument("--maps", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="loader/floor rounds (best of)")
    parser.add_argument("--floor-only", action="store_true", help="skip the >= 10x comparisons")
    args = parser.parse_args(argv)

    visitors = [f"bench{i:011d}" for i in range(args.visitors)]
    eans = [f"40{i:011d}" for i in range(args.eans)]
    keys = [f"crm:{i:08d}" for i in range(args.maps)]
    proc, url = start_emulator(args.latency_ms)
    ok = True
    try:
        settings = dict(site_code=SITE, base_url=url, max_concurrency=args.max_concurrency)
        with kp.Client(**settings) as client:
            seed(client, visitors, eans, keys)
            end = pd.Timestamp.now(tz="UTC").ceil("h")
            start = end - pd.Timedelta(hours=24)
            print(
                f"loaders benchmark: emulator with {args.latency_ms:g} ms latency in its own "
                f"process, {os.cpu_count()} CPUs, max_concurrency={args.max_concurrency}"
            )
            if not args.floor_only:
                ok &= against_baselines(client, url, visitors, eans, start, end)
            ok &= against_floors(client, settings, url, visitors, eans, keys, start, end, args)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0 if ok else 1


def against_baselines(
    client: kp.Client,
    url: str,
    visitors: list[str],
    eans: list[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> bool:
    """The loaders against the sequential httpx.get + json_normalize loops (>= 10x)."""
    feeds, fast = timed(kp.read_visitor_feeds, visitors, client=client, progress=False)
    expected, slow = timed(baseline_feeds, url, visitors)
    ok = report(
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
        f"read_product_counters, {len(eans):,} EANs x 24 hourly windows ({len(counters):,} rows)",
        fast,
        slow,
        counters,
        expected,
    )
    return ok


def against_floors(
    client: kp.Client,
    settings: dict[str, Any],
    url: str,
    visitors: list[str],
    eans: list[str],
    keys: list[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    args: argparse.Namespace,
) -> bool:
    """Every loader against its raw-concurrent floor (<= 1.2x), best of ``args.rounds``."""
    concurrency = args.max_concurrency
    cases: list[tuple[str, Callable[[kp.Client], pd.DataFrame], list[str]]] = [
        (
            f"read_product_counters  {len(eans):,} EANs x 24 h",
            lambda c: kp.read_product_counters(
                eans, start=start, end=end, freq="1h", client=c, progress=False
            ),
            counters_requests(eans, site_code=SITE, start=start, end=end, freq="1h"),
        ),
        (
            f"read_product_data      {len(eans):,} EANs",
            lambda c: kp.read_product_data(eans, client=c, progress=False),
            product_data_requests(eans, site_code=SITE),
        ),
        (
            f"read_visitor_feeds     {len(visitors):,} visitors",
            lambda c: kp.read_visitor_feeds(visitors, client=c, progress=False),
            visitor_feeds_requests(visitors, site_code=SITE),
        ),
        (
            f"read_maps              {len(keys):,} keys",
            lambda c: kp.read_maps(keys, client=c, progress=False),
            maps_requests(keys, site_code=SITE),
        ),
    ]
    print(
        f"\nagainst the raw-concurrent floor (plain aiohttp, the same requests, "
        f"{concurrency} in flight, bodies read and not parsed), best of {args.rounds} or more:"
    )
    ok = True
    for what, load, targets in cases:
        # The floor only counts if it sends exactly what the loader sends.
        same = sorted(loader_requests(settings, load)) == sorted(targets)
        floors, loads = [], []
        rounds = args.rounds
        while len(floors) < rounds:
            floors.append(floor_requests(url, targets, max_concurrency=concurrency).seconds)
            loads.append(timed(load, client)[1])
            rounds = max(args.rounds, min(MAX_ROUNDS, math.ceil(MIN_FLOOR_SECONDS / floors[0])))
        ratio = min(loads) / min(floors)
        meets = ratio <= FLOOR_TARGET and same
        verdict = "meets" if meets else "MISSES"
        requests = "same requests" if same else "REQUESTS DIFFER"
        print(
            f"  {what:<36} {len(targets):5,} requests  loader {min(loads):6.3f} s  "
            f"floor {min(floors):6.3f} s  {ratio:4.2f}x ({verdict} the {FLOOR_TARGET:g}x "
            f"target, {requests}, best of {rounds})"
        )
        ok &= meets
    return ok


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
