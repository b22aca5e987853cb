"""Against the real Data API: read-only checks, skipped without credentials.

Set ``KAMELEOON_LIVE_CLIENT_ID``, ``KAMELEOON_LIVE_CLIENT_SECRET`` and ``KAMELEOON_LIVE_SITE_CODE``
(and optionally ``KAMELEOON_LIVE_BASE_URL`` / ``KAMELEOON_LIVE_TOKEN_URL``) to run them:
``bash scripts/test.sh -m live``. They only read, with identifiers that do not exist, so they
change nothing in the account.
"""

from __future__ import annotations

import os
import uuid

import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.frames.schemas import MAP_KEYS, PRODUCT_COUNTERS

# Read at import: the autouse fixture in conftest.py clears KAMELEOON_* while tests run.
LIVE = {
    name: os.environ.get(f"KAMELEOON_LIVE_{name.upper()}")
    for name in ("client_id", "client_secret", "site_code", "base_url", "token_url")
}

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (LIVE["client_id"] and LIVE["client_secret"] and LIVE["site_code"]),
        reason="no KAMELEOON_LIVE_CLIENT_ID / _CLIENT_SECRET / _SITE_CODE",
    ),
]


@pytest.fixture(scope="module")
def client():
    settings = {name: value for name, value in LIVE.items() if value}
    with kp.Client(**settings) as live_client:
        yield live_client


def unknown(prefix: str) -> str:
    return f"{prefix}-kp-live-{uuid.uuid4().hex[:12]}"


def test_an_unknown_visitor_has_an_empty_feed(client) -> None:
    feed = kp.read_visitor_feeds([unknown("visitor")], client=client, progress=False)
    assert feed.empty and list(feed.columns)[:3] == ["site_code", "visitor_code", "visit"]


def test_unknown_products_count_zero(client) -> None:
    ean = unknown("ean")
    counters = kp.read_product_counters([ean], client=client, progress=False)
    assert list(counters.columns) == list(PRODUCT_COUNTERS)
    assert counters["views"].fillna(0).sum() == 0


def test_unknown_map_keys_are_left_out(client) -> None:
    with pytest.warns(kp.KameleoonWarning):
        maps = kp.read_maps([unknown("key")], client=client, progress=False)
    assert maps.empty and list(maps.columns)[:2] == list(MAP_KEYS)
