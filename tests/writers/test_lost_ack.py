"""Exactly once when answers are lost: the emulator stores a request, then drops the connection
(``lost-ack``), the client retries with the same nonces, and every conversion is stored once.

Real loopback HTTP, a 30% fault rate mixing 429s, 500s, connections dropped before and after
the request was handled; bodies small enough that the push takes about 400 requests.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.emulator import serve
from kameleoon_pandas.emulator.faults import ACCESS_LOGGER

ROWS = 5_000


def test_each_conversion_is_stored_exactly_once_when_answers_are_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rng = np.random.default_rng(10)
    cents = rng.integers(1, 1_000_000, ROWS)
    frame = pd.DataFrame(
        {
            "visitor_code": [f"lost{i % 400:04d}" for i in range(ROWS)],
            "goal_id": 1001,
            "revenue": cents / 100,
        }
    )
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    with serve(
        fault_rate=0.3,
        faults=("429", "500", "drop", "lost-ack"),
        # Bodies of at most 5 kB: the client halves a body the server refuses as too large
        # (413), so the push takes about 400 requests, each one a chance for a fault.
        max_event_body=5_000,
        access_log=True,
    ) as srv:
        site = srv.site_codes[0]
        client = kp.Client(
            site,
            base_url=srv.url,
            token_url=srv.token_url,
            client_id=srv.client_id,
            client_secret=srv.client_secret,
            max_retries=25,  # 0.3 ** 26: no request runs out of retries
        )
        with client:
            report = kp.push_events(frame, "conversion", client=client)
            srv.options.fault_rate = 0.0
            codes = sorted(set(frame["visitor_code"]))
            feeds = kp.read_visitor_feeds(codes, kinds=["conversion"], client=client)
        stored = srv.state.visitor_events(site, codes)

    assert report.sent == ROWS, report
    assert len(report.failed) == 0 and len(report.invalid) == 0, report
    lost = [
        r.getMessage()
        for r in caplog.records
        if r.name == ACCESS_LOGGER and "(injected lost-ack)" in r.getMessage()
    ]
    # Answers were lost after the events were stored (204 is what the client never got).
    assert any(line.startswith("POST /visit/events 204 ") for line in lost), lost

    # Stored once each: as many events as rows, every revenue to the cent, the same multiset.
    assert len(stored) == ROWS
    conversions = feeds[feeds["kind"] == "conversion"]
    assert len(conversions) == ROWS
    got = np.sort(np.round(conversions["revenue"].to_numpy(dtype=float) * 100).astype(np.int64))
    assert np.array_equal(got, np.sort(cents))
    assert int(got.sum()) == int(cents.sum())
    per_visitor = conversions.groupby("visitor_code").size()
    assert per_visitor.to_dict() == frame.groupby("visitor_code").size().to_dict()
