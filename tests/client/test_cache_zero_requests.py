"""A re-run served from the cache makes no request at all, not even for a token (issue 11)."""

from __future__ import annotations

from pathlib import Path

import kameleoon_pandas as kp
from kameleoon_pandas.emulator import serve


def _read_everything(client: kp.Client, ids: dict) -> tuple:
    counters = kp.read_product_counters(
        ids["eans"][:3], start="2026-11-01", end="2026-11-02", client=client, progress=False
    )
    products = kp.read_product_data(ids["eans"][:3], client=client, progress=False)
    feeds = kp.read_visitor_feeds(ids["visitor_codes"][:2], client=client, progress=False)
    return counters, products, feeds


def test_a_cached_rerun_makes_zero_requests(tmp_path: Path, demo_db: Path) -> None:
    path = tmp_path / "c.sqlite"
    with serve(db=demo_db, seed="demo", require_auth=True) as srv:
        ids = srv.state.identifiers(srv.site_codes[0], visitors=2, keys=0)
        with srv.client(cache=path) as client:
            first = _read_everything(client, ids)
        asked = srv.request_counts
        # A new client (a new kernel): no token in memory, every answer on disk.
        with srv.client(cache=path) as again:
            second = _read_everything(again, ids)
            hits = again.cache.hits
        asked_again = srv.request_counts - asked
    assert asked["POST /oauth/token"] == 1 and asked["GET /product/productData"] == 1
    assert asked_again == {}
    assert hits == asked.total() - 1  # every Data API answer of the first run, no token
    for before, after in zip(first, second, strict=True):
        assert before.equals(after)


def test_a_miss_after_hits_still_fetches_a_token_and_is_cached(
    tmp_path: Path, demo_db: Path
) -> None:
    path = tmp_path / "c.sqlite"
    with serve(db=demo_db, seed="demo", require_auth=True) as srv:
        ids = srv.state.identifiers(srv.site_codes[0], visitors=0, keys=0)
        eans = ids["eans"][:2]
        with srv.client(cache=path) as client:
            kp.read_product_data(eans[:1], client=client, progress=False)
        with srv.client(cache=path) as again:
            before = srv.request_counts
            kp.read_product_data(eans[:1], client=again, progress=False)  # a hit: no token
            assert srv.request_counts - before == {}
            kp.read_product_data(eans, client=again, progress=False)  # a miss: token, then GET
            assert srv.request_counts - before == {
                "POST /oauth/token": 1,
                "GET /product/productData": 1,
            }
            assert again.cache.hits == 1 and again.cache.misses == 1
