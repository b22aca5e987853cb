"""Nothing ignored without a word (issue 9): one KameleoonWarning per push names the columns no
event sends, with a hint; a dry run says the same."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import kameleoon_pandas as kp


def caught(push) -> list[str]:
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        push()
    assert all(issubclass(w.category, kp.KameleoonWarning) for w in records)
    assert all(w.filename == __file__ for w in records), "the warning points at the caller"
    return [str(w.message) for w in records]


def purchases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["SO-1", "SO-2"],
            "visitor_code": ["c1", "c2"],
            "goal_id": [901, 901],
            "amount": [10.5, 20.0],
            "purchased_at": pd.to_datetime(["2026-11-01", "2026-11-02"], utc=True),
            "store": ["Lyon", "Lille"],
            "empty": [None, np.nan],  # nothing in it: nothing lost, not named
        }
    )


def test_one_warning_names_every_column_not_sent_with_hints() -> None:
    df = purchases()
    messages = caught(lambda: kp.push_events(df, "conversion", site_code="s", dry_run=True))
    assert messages == [
        "push_events(conversion): not sent: 'order_id' (key='order_id' if it identifies each "
        "event), 'amount' (map it with revenue='amount'), 'purchased_at' (the Data API stamps "
        "events when it receives them), 'store'"
    ]


def test_used_columns_are_not_named() -> None:
    df = purchases().drop(columns=["purchased_at", "store"])
    quiet = caught(
        lambda: kp.push_events(
            df, "conversion", key="order_id", revenue="amount", site_code="s", dry_run=True
        )
    )
    assert quiet == []
    # a kind column is not read when kind= is given; a nonce column is used
    feed_like = df.assign(kind="conversion", nonce=None)
    messages = caught(
        lambda: feed_like.kam.push_events(
            "conversion", key="order_id", revenue="amount", site_code="s", dry_run=True
        )
    )
    assert messages == ["push_events(conversion): not sent: 'kind'"]


def test_columns_of_kinds_the_frame_does_not_have_are_named() -> None:
    df = pd.DataFrame({"visitor_code": ["v"], "goal_id": [1], "href": ["https://x.example"]})
    messages = caught(lambda: kp.push_events(df, "conversion", site_code="s", dry_run=True))
    assert messages == ["push_events(conversion): not sent: 'href' (read by page events only)"]


def test_product_events_name_attributes_of_buys_and_suggest_the_quantity() -> None:
    df = pd.DataFrame({"ean": ["E1"], "qty": [2], "name": ["Lamp"], "site_code": ["x"]})
    messages = caught(lambda: kp.push_product_events(df, "purchase", site_code="s", dry_run=True))
    assert messages == [
        "push_product_events(purchase): not sent: 'qty' (map it with quantity='qty'), 'name' "
        "(product attributes go with product_page events), 'site_code' (the site comes from "
        "site_code= or the client's default, never a column)"
    ]
    pages = caught(
        lambda: kp.push_product_events(
            df.drop(columns="site_code"), "product_page", site_code="s", dry_run=True
        )
    )
    assert pages == []  # a product page sends every column as an attribute


def test_a_real_push_warns_as_its_dry_run(client, site) -> None:
    df = purchases()
    dry = caught(
        lambda: kp.push_events(df, "conversion", client=client, site_code=site, dry_run=True)
    )
    real = caught(lambda: kp.push_events(df, "conversion", client=client, site_code=site))
    assert dry == real and len(real) == 1


def test_push_maps_names_a_site_code_column_and_refuses_clashing_field_names() -> None:
    maps = pd.DataFrame({"key": ["k1"], "tier": ["gold"], "site_code": ["other"]})
    messages = caught(lambda: kp.push_maps(maps, site_code="s", dry_run=True))
    assert messages == [
        "push_maps: not sent: 'site_code' (the site comes from site_code= or the client's "
        "default, never a column)"
    ]
    clash = pd.DataFrame({"key": ["k1"], 1: ["a"], "1": ["b"]})
    with pytest.raises(kp.ValidationError, match="columns 1 and '1' would both be the map field"):
        kp.push_maps(clash, site_code="s", dry_run=True)


def test_forgetting_reads_only_the_codes_and_says_nothing_of_other_columns() -> None:
    # a frame of events is a natural list of visitors to forget: its other columns are not lost
    assert caught(lambda: purchases().kam.forget(site_code="s", dry_run=True)) == []
