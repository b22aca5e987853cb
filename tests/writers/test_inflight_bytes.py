"""The push engine keeps the bodies in flight under a byte budget as well as a request cap.

A slow server (one SQLite writer) ingests queued bodies one after another: with 16 full bodies in
flight, the last ones waited past the read timeout and were reported failed although stored.
"""

from __future__ import annotations

import asyncio

import numpy as np
from tqdm import tqdm

from kameleoon_pandas import _push
from kameleoon_pandas._push import Job, Stats, send_all


def run(sizes: list[int], *, max_inflight: int, max_inflight_bytes: int) -> tuple[list, Stats]:
    """Send one job per size; return the peak (bytes, requests) in flight seen by ``post``."""
    inflight: list[int] = []
    peaks: list[tuple[int, int]] = []

    async def post(size: int) -> None:
        inflight.append(size)
        peaks.append((sum(inflight), len(inflight)))
        await asyncio.sleep(0.002)
        inflight.remove(size)

    jobs = (Job(s, np.array([i]), None, s) for i, s in enumerate(sizes))
    sent: list[np.ndarray] = []
    failed: list = []
    stats = Stats()
    with tqdm(total=len(sizes), disable=True) as bar:
        asyncio.run(
            send_all(
                jobs,
                post,
                max_inflight=max_inflight,
                max_inflight_bytes=max_inflight_bytes,
                sent=sent,
                failed=failed,
                stats=stats,
                bar=bar,
            )
        )
    assert failed == []
    assert sorted(int(r[0]) for r in sent) == list(range(len(sizes)))
    return peaks, stats


def test_bytes_in_flight_stay_under_the_budget() -> None:
    peaks, stats = run([300] * 40, max_inflight=16, max_inflight_bytes=1_000)
    assert max(b for b, _ in peaks) == 900  # three bodies of 300 fit, a fourth does not
    assert stats.requests == 40


def test_the_request_cap_still_holds_for_small_bodies() -> None:
    peaks, _ = run([10] * 40, max_inflight=5, max_inflight_bytes=1_000)
    assert max(n for _, n in peaks) == 5


def test_a_body_larger_than_the_budget_goes_alone() -> None:
    peaks, stats = run([100, 5_000, 100, 100], max_inflight=16, max_inflight_bytes=1_000)
    assert (5_000, 1) in peaks  # sent, and nothing else was in flight with it
    assert all(b <= 1_000 for b, n in peaks if n > 1)
    assert stats.requests == 4


def test_the_default_budget_is_four_full_event_bodies() -> None:
    assert _push.MAX_INFLIGHT_BYTES == 4 * _push.encode.EVENT_BODY_LIMIT
