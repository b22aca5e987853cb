"""Dask writers on a LocalCluster (2 worker processes) against the emulator over loopback:
exactly once across partitions, retried partitions, the combined report, the accessor."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
from dask_helpers import dask, dd, fail_after_first_post, restore_posts, stored_events

import kameleoon_pandas as kp
import kameleoon_pandas.dask as kd

pytestmark = [pytest.mark.dask, pytest.mark.xdist_group("dask")]


def conversions(n: int, visitors: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "visitor_code": [f"v{i % visitors:04d}" for i in range(n)],
            "goal_id": rng.integers(1, 4, n),
            "revenue": np.round(rng.uniform(1, 100, n), 2),
        }
    )


def test_identical_rows_in_different_partitions_are_all_stored(
    cluster, srv, kp_client, site
) -> None:
    # The same conversion three times (a customer bought the same thing three times), and
    # from_pandas puts the copies in three different partitions.
    frame = pd.DataFrame(
        {"visitor_code": ["v1", "v2", "v1", "v3", "v1", "v2"], "goal_id": 7, "revenue": 9.5}
    )
    ddf = dd.from_pandas(frame, npartitions=3, sort=False)
    spread = [ddf.partitions[i].compute()["visitor_code"].tolist() for i in range(3)]
    assert sum("v1" in part for part in spread) >= 2  # the trap is set

    report = ddf.kam.push_events("conversion", client=kp_client)

    assert report.ok and (report.rows, report.sent) == (6, 6), report
    assert stored_events(srv, site) == 6  # not 3: no copy collapsed into another
    # A pandas push of the same rows gives the same nonces: nothing new is stored.
    again = kp.push_events(frame, "conversion", client=kp_client)
    assert again.sent == 6 and stored_events(srv, site) == 6


def test_without_the_shuffle_identical_rows_across_partitions_collapse(
    cluster, srv, kp_client, site
) -> None:
    # What shuffle=True prevents (and what makes the test above meaningful).
    frame = pd.DataFrame({"visitor_code": ["v1", "v1"], "goal_id": 7, "revenue": 9.5})
    ddf = dd.from_pandas(frame, npartitions=2, sort=False)
    report = kd.push_events(ddf, "conversion", client=kp_client, shuffle=False)
    assert report.sent == 2
    assert stored_events(srv, site) == 1  # two events sent under one nonce: one stored


def test_a_dask_push_stores_what_a_pandas_push_of_the_whole_frame_stores(
    cluster, srv, kp_client, site
) -> None:
    frame = conversions(3_000, visitors=40)
    frame = pd.concat([frame, frame.iloc[:500]], ignore_index=True)  # identical rows, spread
    ddf = dd.from_pandas(frame, npartitions=6, sort=False)
    report = kd.push_events(ddf, "conversion", client=kp_client)
    assert report.ok and report.sent == len(frame)
    assert stored_events(srv, site) == len(frame)
    kp.push_events(frame.sample(frac=1.0, random_state=1), "conversion", client=kp_client)
    assert stored_events(srv, site) == len(frame)


def test_rows_sharing_a_key_in_different_partitions_are_all_refused(
    cluster, srv, kp_client, site
) -> None:
    orders = pd.DataFrame(
        {
            "order_id": ["A-1", "A-2", "A-3", "A-1"],  # A-1 twice, with different amounts
            "visitor_code": ["v1", "v2", "v3", "v4"],
            "goal": 5,
            "amount": [10.0, 20.0, 30.0, 40.0],
        },
        index=[10, 11, 12, 13],
    )
    ddf = dd.from_pandas(orders, npartitions=2, sort=False)
    report = ddf.kam.push_events(
        "conversion", key="order_id", client=kp_client, goal_id="goal", revenue="amount"
    )
    assert (report.sent, report.invalid_rows) == (2, 2)
    assert sorted(report.invalid["index"]) == [10, 13]  # the frame's own labels
    assert set(report.invalid["column"]) == {"order_id"}
    assert stored_events(srv, site) == 2


def test_custom_data_rows_of_one_event_in_different_partitions_are_one_event(
    cluster, srv, kp_client, site
) -> None:
    # A feed splits a custom data event into one row per value: put back together, whatever
    # the partitions, as the pandas writer does for the whole frame.
    rows = pd.DataFrame(
        {
            "visitor_code": ["v1", "v2", "v1", "v2"],
            "custom_data_index": [3, 3, 3, 3],
            "value": ["gold", "x", "silver", "y"],
            "count": [1, 1, 2, 1],
        }
    )
    ddf = dd.from_pandas(rows, npartitions=2, sort=False)
    report = kd.push_events(ddf, "custom_data", client=kp_client)
    assert report.ok and report.sent == 4
    assert stored_events(srv, site) == 2
    feed = kp.read_visitor_feeds(["v1"], kinds=["custom_data"], client=kp_client)
    assert dict(zip(feed["value"], feed["count"], strict=True)) == {"gold": 1, "silver": 2}


def test_a_partition_retried_after_its_first_request_stores_nothing_twice(
    cluster, srv, kp_client, site
) -> None:
    srv.options.max_event_body = 20_000  # small bodies: several requests per partition
    frame = conversions(4_000, visitors=200, seed=3)
    ddf = dd.from_pandas(frame, npartitions=4)
    cluster.run(fail_after_first_post)
    try:
        report = kd.push_events(ddf, "conversion", client=kp_client, retries=2)
    finally:
        cluster.run(restore_posts)
    assert report.ok and report.sent == len(frame), report
    assert stored_events(srv, site) == len(frame)
    # each worker's first body went twice (the failed attempt, then the retry): the server
    # saw more accepted bodies than the report's requests, and dropped the copies
    posts = srv.posts("/visit/events")
    assert posts > report.requests


def test_failed_rows_carry_their_nonces_and_retry_stores_each_once(cluster, srv, site) -> None:
    frame = pd.DataFrame({"visitor_code": ["v1", "v1", "v2", "v1"], "goal_id": 7, "revenue": 1.0})
    ddf = dd.from_pandas(frame, npartitions=2, sort=False)
    with kp.Client(site, retry_budget=0, **srv.settings) as fragile:
        srv.options.fault_rate = 1.0
        srv.options.faults = ("500",)
        report = kd.push_events(ddf, "conversion", client=fragile)
        srv.options.fault_rate = 0.0
        assert (report.sent, report.failed_rows) == (0, 4)
        assert report.failed["nonce"].str.fullmatch("[0-9A-F]{16}").all()
        assert report.failed["nonce"].nunique() == 4  # identical rows told apart
        assert sorted(report.failures["index"]) == [0, 1, 2, 3]
        again = report.retry()
        assert again.ok and again.sent == 4
        kd.push_events(ddf, "conversion", client=fragile)  # the whole push again: no new event
    assert stored_events(srv, site) == 4


def test_the_report_adds_the_partitions_up(cluster, srv, kp_client, site) -> None:
    frame = conversions(1_000, visitors=30, seed=5)
    frame.loc[[3, 700], "visitor_code"] = ""  # two invalid rows, in two partitions
    frame.index = frame.index + 1_000
    ddf = dd.from_pandas(frame, npartitions=4)
    report = kd.push_events(ddf, "conversion", client=kp_client)
    assert (report.rows, report.valid, report.sent, report.invalid_rows) == (1000, 998, 998, 2)
    assert sorted(report.invalid["index"]) == [1003, 1700]
    assert report.requests >= 1 and report.bytes_sent > 0 and report.elapsed > 0
    assert report.operation == "push_events(conversion)" and report.site_code == site
    assert "client_secret" not in repr(report) and srv.settings["client_secret"] not in repr(report)


def test_one_warning_names_the_columns_not_sent(cluster, srv, kp_client, site) -> None:
    frame = conversions(100).assign(amount=1.0)
    ddf = dd.from_pandas(frame, npartitions=3)
    with pytest.warns(kp.KameleoonWarning, match="not sent: 'amount'") as caught:
        kd.push_events(ddf, "conversion", client=kp_client)
    assert len([w for w in caught if issubclass(w.category, kp.KameleoonWarning)]) == 1
    assert caught[0].filename == __file__  # at the user's call


def test_the_structure_is_checked_before_anything_is_sent(cluster, srv, kp_client) -> None:
    ddf = dd.from_pandas(pd.DataFrame({"visitor_code": ["v1"], "revenue": [1.0]}), 1)
    with pytest.raises(kp.ValidationError, match="goal_id"):
        kd.push_events(ddf, "conversion", client=kp_client)
    with pytest.raises(kp.ValidationError, match="no column 'order'"):
        kd.push_events(ddf, "conversion", key="order", client=kp_client)
    with pytest.raises(kp.ValidationError, match="max_in_flight"):
        kd.push_events(ddf, "conversion", client=kp_client, max_in_flight=0)
    with pytest.raises(kp.ValidationError, match="pandas one"):
        kd.push_events(ddf.compute(), "conversion", client=kp_client)
    assert sum(srv.counter.requests.values()) == 0


def test_push_product_events_maps_and_forget(cluster, srv, kp_client, site) -> None:
    carts = pd.DataFrame({"ean": ["E1", "E2", "E1", "E1"], "quantity": [1, 2, 1, 1]})
    report = dd.from_pandas(carts, npartitions=2, sort=False).kam.push_product_events(
        "add_to_cart", client=kp_client
    )
    assert report.ok and report.sent == 4
    counters = kp.read_product_counters(["E1", "E2"], client=kp_client)
    assert counters.set_index("ean")["add_to_cart_quantity"].to_dict() == {"E1": 3, "E2": 2}

    tiers = pd.DataFrame({"key": ["k1", "k2", "k3", "k1"], "tier": ["a", "b", "c", "d"]})
    maps = kd.push_maps(dd.from_pandas(tiers, npartitions=2, sort=False), client=kp_client)
    assert (maps.sent, maps.invalid_rows) == (2, 2)  # k1 twice: both refused, as in pandas
    with pytest.warns(kp.KameleoonWarning, match="1 of 3 keys"):
        stored = kp.read_maps(["k1", "k2", "k3"], client=kp_client)
    assert stored["key"].tolist() == ["k2", "k3"]

    kp.push_events(conversions(10, visitors=3), "conversion", client=kp_client)
    codes = dd.from_pandas(pd.Series(["v0000", "v0001", "v0002", "v0000"]), npartitions=2)
    gone = kd.forget_visitors(codes, client=kp_client)
    assert gone.ok and gone.rows == 4
    assert stored_events(srv, site) == 0


def test_the_accessor_has_the_writers_signatures_without_the_frame() -> None:
    ddf = dd.from_pandas(pd.DataFrame({"visitor_code": ["v1"], "goal_id": [1]}), 1)
    for name, function in [
        ("push_events", kd.push_events),
        ("push_product_events", kd.push_product_events),
        ("push_maps", kd.push_maps),
        ("forget", kd.forget_visitors),
        ("forget_visitors", kd.forget_visitors),
    ]:
        method = getattr(ddf.kam, name)
        expected = list(inspect.signature(function).parameters)[1:]
        assert list(inspect.signature(method).parameters) == expected, name
        assert method.__doc__ == function.__doc__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas may warn about the duplicate labels
        twice = dd.from_pandas(pd.DataFrame([[1, 2]], columns=["a", "a"]), 1)
    with pytest.raises(AttributeError, match="unique column names"):
        _ = twice.kam


def test_on_a_local_scheduler_the_partitions_share_one_client(srv, kp_client, site) -> None:
    # No distributed cluster computing: the threads of this process push the partitions,
    # through one client (which caps them itself); exactly once and the warning hold the same.
    frame = pd.DataFrame(
        {"visitor_code": ["v1", "v2", "v1", "v1"], "goal_id": 7, "revenue": 1.0, "note": "x"}
    )
    ddf = dd.from_pandas(frame, npartitions=4, sort=False)
    with (
        dask.config.set(scheduler="threads"),
        pytest.warns(kp.KameleoonWarning, match="not sent: 'note'"),
    ):
        report = kd.push_events(ddf, "conversion", client=kp_client)
    assert report.ok and report.sent == 4
    assert stored_events(srv, site) == 4
