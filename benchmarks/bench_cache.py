"""The answer cache against no cache, and against hishel's own SQLite connection, same run.

Run:  .venv/bin/python benchmarks/bench_cache.py [--visitors 3000] [--latency-ms 0] [--rounds 3]

The emulator runs in its own process (``python -m kameleoon_pandas.emulator``), with
``--visitors`` visitors pushed through the API first. Each case reads every visitor's feed
(``kp.read_visitor_feeds``) with a new client:

- ``no cache``: every answer from the emulator;
- ``cold``: a new cache file, every answer fetched and stored;
- ``warm``: the same file again, every answer served from it (no request is made).

``cold`` and ``warm`` run twice: with the package's storage connection, which makes hishel's
SQLite calls on the event loop's thread (``_cache_sqlite.InlineConnection``), and with hishel's own
(anysqlite, a hop to a worker thread for each call), the baseline. The frames of every case
are compared with ``pd.testing.assert_frame_equal``. Printed: the best time of ``--rounds``
rounds, and the ratios. With the default ``--latency-ms 0`` the ratios show what the cache
itself costs; a real network makes ``no cache`` slower and the ``warm`` ratio smaller.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import kameleoon_pandas as kp
from kameleoon_pandas import _cache_sqlite

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loaders import SITE, seed, start_emulator


def read(url: str, visitors: list[str], cache: str | None) -> tuple[pd.DataFrame, float, int]:
    """(frame, seconds, requests the cache let through) of one read of every feed."""
    with kp.Client(site_code=SITE, base_url=url, cache=cache or False) as client:
        start = time.perf_counter()
        frame = kp.read_visitor_feeds(visitors, client=client, progress=False)
        seconds = time.perf_counter() - start
        misses = client.cache.misses if client.cache is not None else len(visitors)
    return frame, seconds, misses


def cases(url: str, visitors: list[str], folder: Path, storage: str, rounds: int) -> dict:
    """Best (cold, warm) seconds over ``rounds`` new cache files, and the last frames."""
    best = {"cold": float("inf"), "warm": float("inf")}
    frames = {}
    for n in range(rounds):
        path = str(folder / f"{storage}-{n}.sqlite")
        for case in ("cold", "warm"):
            frame, seconds, misses = read(url, visitors, path)
            want = len(visitors) if case == "cold" else 0
            assert misses == want, f"{storage} {case}: {misses} requests, expected {want}"
            best[case] = min(best[case], seconds)
            frames[case] = frame
    return {"seconds": best, "frames": frames}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per case (best of)")
    args = parser.parse_args(argv)

    visitors = [f"bench{i:011d}" for i in range(args.visitors)]
    proc, url = start_emulator(args.latency_ms)
    try:
        with kp.Client(site_code=SITE, base_url=url) as client:
            seed(client, visitors, [], [])
        print(
            f"cache benchmark: {len(visitors):,} visitor feeds, emulator with "
            f"{args.latency_ms:g} ms latency in its own process, {os.cpu_count()} CPUs"
        )
        plain = min(read(url, visitors, None)[1] for _ in range(args.rounds))
        reference = read(url, visitors, None)[0]
        with tempfile.TemporaryDirectory(prefix="kameleoon-bench-cache-") as tmp:
            ours = cases(url, visitors, Path(tmp), "inline", args.rounds)
            inline = _cache_sqlite.InlineConnection
            _cache_sqlite.InlineConnection = lambda path: None  # type: ignore[assignment,misc]
            try:  # connection=None: hishel opens its own, through anysqlite
                theirs = cases(url, visitors, Path(tmp), "anysqlite", args.rounds)
            finally:
                _cache_sqlite.InlineConnection = inline  # type: ignore[misc]
        for result in (ours, theirs):
            for frame in result["frames"].values():
                pd.testing.assert_frame_equal(frame, reference)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    print(f"  no cache                    {plain:7.2f} s")
    for case in ("cold", "warm"):
        mine, base = ours["seconds"][case], theirs["seconds"][case]
        print(
            f"  {case:4s}  inline {mine:7.2f} s   anysqlite {base:7.2f} s   "
            f"inline/anysqlite {mine / base:5.2f}x   inline/no cache {mine / plain:5.2f}x"
        )
    print("  frames identical in every case")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
