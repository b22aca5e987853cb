"""The cluster-wide cap on requests in flight (a ``distributed.Semaphore``), counted at the
emulator: two workers together never have more than ``max_in_flight`` requests open."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from dask_helpers import dd, distributed, stored_events

import kameleoon_pandas.dask as kd
from kameleoon_pandas.dask._cap import semaphore_name

pytestmark = [pytest.mark.dask, pytest.mark.xdist_group("dask")]

CODES = [f"cap{i:04d}" for i in range(60)]


def leases_held(kp_client, cap: int) -> int:
    """Leases the scheduler holds for this API, client id and cap (give-backs are not awaited:
    wait a little for them)."""
    semaphore = distributed.Semaphore(max_leases=cap, name=semaphore_name(kp_client.settings, cap))
    deadline = time.monotonic() + 5
    while (held := semaphore.get_value()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return held


def test_reads_on_two_workers_stay_under_the_cap(cluster, srv, kp_client) -> None:
    srv.options.latency_ms = 30  # every request stays open a while: they would pile up
    feed = kd.read_visitor_feeds(CODES, npartitions=4, client=kp_client, max_in_flight=3)
    srv.reset()
    assert len(feed.compute()) == 0  # unknown visitors: no rows, one request each
    assert srv.counter.requests["GET", "/visit/visitor"] == len(CODES)
    assert 2 <= srv.peak <= 3
    assert leases_held(kp_client, 3) == 0

    # The same read with a cap the two workers' own limits never reach (16 each): the peak
    # goes past 3, so the first one was the semaphore's doing.
    srv.reset()
    kd.read_visitor_feeds(CODES, npartitions=4, client=kp_client, max_in_flight=64).compute()
    assert srv.peak > 3


def test_a_push_with_413_splits_stays_under_the_cap(cluster, srv, kp_client, site) -> None:
    srv.options.latency_ms = 10
    srv.options.max_event_body = 4_000  # every body is refused as too large and halved
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "visitor_code": [f"v{i:03d}" for i in rng.integers(0, 300, 600)],
            "goal_id": 3,
            "revenue": np.round(rng.uniform(1, 50, 600), 2),
        }
    )
    srv.reset()
    report = dd.from_pandas(frame, npartitions=4).kam.push_events(
        "conversion", client=kp_client, max_in_flight=2
    )
    assert report.ok and report.sent == 600
    assert stored_events(srv, site) == 600
    assert report.requests >= 20  # the halves of the 413s included
    assert srv.peak <= 2
    assert leases_held(kp_client, 2) == 0
