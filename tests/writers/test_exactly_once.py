"""Exactly once across re-exports, against the emulator (issue 9): nonces from key= or content."""

from __future__ import annotations

import io
import warnings

import pandas as pd
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas import loaders
from kameleoon_pandas.frames import encode
from kameleoon_pandas.writers import push_events, push_product_events

DAY_ONE = """order_id,customer_id,goal,amount_eur
SO-1001,cust-1,901,228.27
SO-1002,cust-2,901,161.46
SO-1003,cust-1,901,199.79
SO-1004,cust-3,901,97.28
"""
# pulled again the next day: one new order on top, the others unchanged
DAY_TWO = """order_id,customer_id,goal,amount_eur
SO-1005,cust-2,901,12.00
""" + DAY_ONE.split("\n", 1)[1]

MAPPING = {"visitor_code": "customer_id", "goal_id": "goal", "revenue": "amount_eur"}


def stored(client, site) -> pd.DataFrame:
    return loaders.read_visitor_feeds(
        ["cust-1", "cust-2", "cust-3"], kinds=["conversion"], client=client, site_code=site
    )


@pytest.mark.parametrize("key", ["order_id", None], ids=["key", "content"])
def test_the_export_pulled_again_with_a_new_row_on_top_stores_each_order_once(
    client, site, key
) -> None:
    for text in (DAY_ONE, DAY_TWO):
        export = pd.read_csv(io.StringIO(text))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = push_events(
                export, "conversion", key=key, client=client, site_code=site, **MAPPING
            )
        assert report.ok and report.sent == len(export)
        # without key=, the order id is content (and the warning suggests key='order_id')
        expected = [] if key else ["not sent: 'order_id' (key='order_id' if it identifies"]
        assert [str(w.message).split(": ", 1)[1][:53] for w in caught] == expected
    feed = stored(client, site)
    assert len(feed) == 5  # not 4 + 5 = 9
    assert round(feed["revenue"].sum(), 2) == round(228.27 + 161.46 + 199.79 + 97.28 + 12.0, 2)


def test_with_key_a_reordered_export_with_other_columns_is_stored_once(client, site) -> None:
    first = pd.read_csv(io.StringIO(DAY_ONE))
    push_events(first, "conversion", key="order_id", client=client, site_code=site, **MAPPING)
    # another system's export of the same orders: other order, an extra column, float ids
    other = first.iloc[::-1].assign(channel="pos")
    with pytest.warns(kp.KameleoonWarning, match="not sent: 'channel'"):
        again = push_events(
            other, "conversion", key="order_id", client=client, site_code=site, **MAPPING
        )
    assert again.sent == 4
    assert len(stored(client, site)) == 4


def test_duplicate_keys_are_refused_and_reported(client, site) -> None:
    export = pd.read_csv(io.StringIO(DAY_TWO))
    export.loc[0, "order_id"] = "SO-1001"  # a genuinely different event under a known key
    report = push_events(
        export, "conversion", key="order_id", client=client, site_code=site, **MAPPING
    )
    assert (report.sent, report.invalid_rows) == (3, 2)
    assert set(report.invalid["index"]) == {0, 1}
    assert set(report.invalid["column"]) == {"order_id"}


def test_retry_sends_identical_rows_with_their_first_nonces(client, site, monkeypatch) -> None:
    # two identical rows are two events (by rank); if only the second one's body fails, its
    # retry must keep rank 1's nonce, or the server would drop it as a copy of the first
    df = pd.DataFrame({"visitor_code": ["twin", "twin"], "goal_id": [7, 7], "revenue": [5.0, 5.0]})
    monkeypatch.setattr(encode, "EVENT_BODY_LIMIT", 10)  # one line per body
    real = client.async_client.post_visit_events
    calls = []

    async def flaky(body, **kwargs):
        calls.append(body)
        if len(calls) == 2:
            raise kp.KameleoonError("the second body is lost")
        return await real(body, **kwargs)

    monkeypatch.setattr(client.async_client, "post_visit_events", flaky)
    report = push_events(df, "conversion", client=client, site_code=site, progress=False)
    assert (report.sent, report.failed_rows) == (1, 1)
    pd.testing.assert_frame_equal(report.failed, df.iloc[[1]])
    second = report.retry()
    assert second.ok and second.sent == 1
    assert report.retry().sent == 1  # again: the same nonce, nothing doubles
    feed = loaders.read_visitor_feeds(["twin"], client=client, site_code=site)
    assert len(feed) == 2 and feed["revenue"].sum() == 10.0


def test_product_events_with_key_are_stored_once(client, site) -> None:
    sales = pd.DataFrame(
        {"line_id": ["r1", "r2", "r3"], "ean": ["E1", "E1", "E2"], "quantity": [2, 1, 4]}
    )
    for frame in (sales, sales.iloc[::-1]):  # the export again, in another order
        report = push_product_events(
            frame, "purchase", key="line_id", client=client, site_code=site
        )
        assert report.ok
    counts = loaders.read_product_counters(
        ["E1", "E2"], start="2000-01-01", end="2100-01-01", client=client, site_code=site
    )
    assert counts["bought_quantity"].tolist() == [3, 4]
