"""Writers against the emulator over loopback: read back through the loaders, compared exactly."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas import PushError, PushReport, loaders
from kameleoon_pandas.client import Client
from kameleoon_pandas.emulator import serve
from kameleoon_pandas.frames import encode
from kameleoon_pandas.frames.schemas import VISITOR_FEED, conform
from kameleoon_pandas.writers import forget_visitors, push_events, push_maps, push_product_events

FIELDS = {
    "conversion": ["goal_id", "revenue", "negative", "metadata"],
    "page": ["href", "title", "referrers_indices"],
    "custom_data": ["custom_data_index", "value", "count", "overwrite"],
    "experiment": ["experiment_id", "variation_id"],
    "personalization": ["personalization_id", "variation_id"],
    "geolocation": ["country", "region", "city", "postal_code", "latitude", "longitude"],
    "static_data": ["visit_number", "device_type", "browser", "browser_version", "os"],
}


def events(frame: pd.DataFrame, kind: str) -> list[tuple]:
    """The content of ``kind`` events per visitor, in order (times and visits left aside)."""
    rows = frame[frame["kind"] == kind]
    cols = ["visitor_code", *FIELDS[kind]]
    out = conform(rows[cols].reset_index(drop=True), {c: VISITOR_FEED[c] for c in cols})
    return [
        tuple(None if v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v for v in r)
        for r in out.astype(object).itertuples(index=False)
    ]


def feed(client: Client, codes, site: str) -> pd.DataFrame:
    return loaders.read_visitor_feeds(list(codes), client=client, site_code=site, progress=False)


def all_kinds_frame() -> pd.DataFrame:
    rows = []
    for v in ["alice", "bob&co", "zoë=\n"]:
        rows += [
            {
                "visitor_code": v,
                "kind": "static_data",
                "visit_number": 3,
                "device_type": "PHONE",
                "browser": "FIREFOX",
                "browser_version": 126.0,
                "os": "ANDROID",
            },
            {
                "visitor_code": v,
                "kind": "geolocation",
                "country": "France",
                "region": "Île-de-France",
                "city": "Paris",
                "postal_code": "75001",
                "latitude": 48.8566,
                "longitude": 2.3522,
            },
            {
                "visitor_code": v,
                "kind": "page",
                "href": "https://shop.example/search?q=a&b=c",
                "title": "Résultats & co = 100%",
                "referrers_indices": [0, 2],
            },
            {"visitor_code": v, "kind": "experiment", "experiment_id": 555, "variation_id": 777},
            {
                "visitor_code": v,
                "kind": "personalization",
                "personalization_id": 12,
                "variation_id": 34,
            },
            {
                "visitor_code": v,
                "kind": "custom_data",
                "custom_data_index": 3,
                "value": "gold & silver",
                "count": 2,
                "overwrite": True,
            },
            {
                "visitor_code": v,
                "kind": "conversion",
                "goal_id": 4321,
                "revenue": 59.9,
                "negative": False,
                "metadata": {"store": "Lyon", "note": "a=b&c"},
            },
            {
                "visitor_code": v,
                "kind": "conversion",
                "goal_id": 99,
                "revenue": 10.05,
                "negative": True,
            },
        ]
    return pd.DataFrame(rows)


def test_every_visit_kind_reads_back_exactly(client, site):
    df = all_kinds_frame()
    report = push_events(df, client=client, site_code=site, progress=False)
    assert report.ok, report.invalid
    assert (report.rows, report.sent, report.requests) == (len(df), len(df), 1)
    got = feed(client, df.visitor_code.unique(), site)
    expected = df.assign(
        negative=df["negative"].where(df["kind"] != "conversion", df["negative"].fillna(False))
    )
    for kind in FIELDS:
        assert events(got, kind) == events(expected, kind), kind


def test_accessor_column_mapping_and_targeting_segment(client, site):
    df = pd.DataFrame({"user": ["u1", "u2"], "goal": [7, 8], "amount": [1.25, 2.5]})
    report = df.kam.push_events(
        "conversion",
        client=client,
        site_code=site,
        progress=False,
        visitor_code="user",
        goal_id="goal",
        revenue="amount",
    )
    assert isinstance(report, PushReport) and report.ok
    got = feed(client, ["u1", "u2"], site)
    assert got[["visitor_code", "goal_id", "revenue"]].astype(object).values.tolist() == [
        ["u1", 7, 1.25],
        ["u2", 8, 2.5],
    ]
    seg = pd.DataFrame({"visitor_code": ["u1"], "targeting_segment_id": [42]})
    assert push_events(seg, "targeting_segment", client=client, site_code=site).sent == 1


def test_bad_input_mixed_rows_nan_revenue_and_long_codes(client, site):
    df = pd.DataFrame(
        {
            "visitor_code": ["good1", "x" * 101, "good2", "", "good3", "é&=\n+%"],
            "goal_id": [1, 2, 3, 4, "nope", 6],
            "revenue": [1.11, 2.22, np.nan, 4.44, 5.55, 6.66],
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    report = push_events(df, "conversion", client=client, site_code=site, progress=False)
    assert not report.ok
    assert (report.rows, report.valid, report.sent, report.invalid_rows) == (6, 2, 2, 4)
    assert dict(zip(report.invalid["index"], report.invalid["column"], strict=True)) == {
        11: "visitor_code",
        12: "revenue",
        13: "visitor_code",
        14: "goal_id",
    }
    got = feed(client, ["good1", "good2", "good3", "é&=\n+%"], site)
    assert got[["visitor_code", "revenue"]].astype(object).values.tolist() == [
        ["good1", 1.11],
        ["é&=\n+%", 6.66],
    ]
    with pytest.raises(PushError, match="4 invalid row"):
        report.raise_for_failures()


def test_unicode_and_separators_round_trip_unchanged(client, site):
    values = ["a&b=c", "1+1=2", "two\nlines", "東京 🎉", "100% sûr", " padded "]
    df = pd.DataFrame(
        {
            "visitor_code": [f"v{i}" for i in range(len(values))],
            "href": values,
            "title": values[::-1],
        }
    )
    assert push_events(df, "page", client=client, site_code=site).ok
    got = feed(client, df.visitor_code, site)
    assert got["href"].tolist() == values and got["title"].tolist() == values[::-1]


def test_empty_frame_and_missing_columns(client, site):
    empty = pd.DataFrame(
        {"visitor_code": pd.Series([], dtype="string"), "goal_id": pd.Series([], dtype="Int64")}
    )
    report = push_events(empty, "conversion", client=client, site_code=site)
    assert report.ok and (report.rows, report.sent, report.requests) == (0, 0, 0)
    with pytest.raises(kp.ValidationError, match="goal_id"):
        push_events(
            pd.DataFrame({"visitor_code": ["v"]}), "conversion", client=client, site_code=site
        )


def test_dry_run_sends_nothing(srv, client, site):
    df = pd.DataFrame({"visitor_code": ["d1", ""], "goal_id": [1, 2]})
    report = push_events(df, "conversion", client=client, site_code=site, dry_run=True)
    assert report.dry_run and (report.valid, report.sent, report.requests, report.batches) == (
        1,
        0,
        0,
        1,
    )
    assert len(report.invalid) == 1
    assert feed(client, ["d1"], site).empty
    offline = push_events(df, "conversion", site_code=site, dry_run=True)  # no client needed
    assert offline.valid == 1


def test_the_same_frame_pushed_twice_is_stored_once(client, site):
    df = pd.DataFrame(
        {"visitor_code": ["t1", "t1", "t2"], "goal_id": [1, 1, 2], "revenue": [5.0, 5.0, 7.5]}
    )
    for _ in range(2):
        assert push_events(df, "conversion", client=client, site_code=site).sent == 3
    got = feed(client, ["t1", "t2"], site)
    assert len(got) == 3 and got["revenue"].sum() == 17.5


def cents(series: pd.Series) -> int:
    return int(np.round(series.to_numpy(dtype=np.float64) * 100).astype(np.int64).sum())


def test_50000_conversions_under_20_percent_faults_exactly_once(srv, client, site, monkeypatch):
    n, visitors = 50_000, 500
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "visitor_code": [f"fv{i % visitors:05d}" for i in range(n)],
            "goal_id": rng.integers(1, 20, n),
            "revenue": np.round(rng.uniform(0, 500, n), 2),
        }
    )
    srv.options.fault_rate = 0.2
    # smaller bodies than the limit, so that faults hit many requests and retries overlap
    monkeypatch.setattr(encode, "EVENT_BODY_LIMIT", 64 * 1024)
    with Client(
        site,
        base_url=srv.url,
        token_url=srv.token_url,
        client_id=srv.client_id,
        client_secret=srv.client_secret,
        retry_budget=120.0,
        # 0.2 ** 5 = 3e-4 of requests would use up the default 5 attempts: ~2% of runs had a
        # row failed on the second push, which has no retry loop. 0.2 ** 16: none does.
        max_retries=15,
    ) as c:
        first = report = push_events(df, "conversion", client=c, progress=False)
        while report.failed_rows:  # what the budget could not save, re-pushed as the report says
            report = report.retry()
        again = push_events(df, "conversion", client=c, progress=False)
        first_requests = first.requests
        assert first_requests > 40
        # faults really happened and were retried: far more attempts than requests of both pushes
        assert c.async_client.attempts > 1.1 * (first_requests + again.requests)
    assert again.sent == n
    srv.options.fault_rate = 0.0
    got = loaders.read_visitor_feeds(
        [f"fv{i:05d}" for i in range(visitors)],
        kinds=["conversion"],
        client=client,
        site_code=site,
        progress=False,
    )
    assert len(got) == n
    assert cents(got["revenue"]) == cents(df["revenue"])
    assert sorted(
        map(tuple, got[["visitor_code", "goal_id"]].astype(object).values.tolist())
    ) == sorted(map(tuple, df[["visitor_code", "goal_id"]].astype(object).values.tolist()))


def test_413_splits_the_batch_and_retries_the_halves(srv, client, site):
    srv.options.max_event_body = 20_000
    df = pd.DataFrame(
        {
            "visitor_code": [f"s{i % 100:05d}" for i in range(3_000)],
            "goal_id": 5,
            "revenue": np.arange(3_000) / 100,
        }
    )
    report = push_events(df, "conversion", client=client, site_code=site, progress=False)
    assert report.ok and report.sent == 3_000
    assert report.requests > report.batches  # the halves
    srv.options.max_event_body = 3_000_000
    got = loaders.read_visitor_feeds(
        df.visitor_code.unique(),
        kinds=["conversion"],
        client=client,
        site_code=site,
        progress=False,
    )
    assert len(got) == 3_000 and cents(got.revenue) == cents(df.revenue)


def test_failed_batches_are_reported_and_retry_pushes_just_them(srv, site):
    df = pd.DataFrame(
        {"visitor_code": ["f1", "f2", ""], "goal_id": [1, 2, 3], "revenue": [1.0, 2.0, 3.0]},
        index=["a", "b", "c"],
    )
    with Client(
        site,
        base_url=srv.url,
        token_url=srv.token_url,
        client_id=srv.client_id,
        client_secret=srv.client_secret,
        retry_budget=0,
    ) as c:
        c.run(c.async_client.get_map("warm-up-token"))  # fetch the token before the faults
        srv.options.fault_rate = 1.0
        report = push_events(df, "conversion", client=c, progress=False)
        assert (report.sent, report.failed_rows, report.invalid_rows) == (0, 2, 1)
        assert report.failed.index.tolist() == ["a", "b"]
        pd.testing.assert_frame_equal(report.failed, df.loc[["a", "b"]])
        assert report.failures["reason"].str.len().gt(0).all()
        with pytest.raises(PushError, match="2 row"):
            report.raise_for_failures()
        srv.options.fault_rate = 0.0
        second = report.retry()
        assert second.ok and second.sent == 2
        assert report.retry().sent == 2  # again: the same nonces, nothing doubles
        got = feed(c, ["f1", "f2"], site)
    assert got["revenue"].tolist() == [1.0, 2.0]


def test_product_events_read_back(client, site):
    pages = pd.DataFrame(
        {
            "ean": ["EAN-1", "EAN-2"],
            "name": ["Kettle & co", "Théière"],
            "price": [29.9, 15.0],
            "available": [True, False],
            "available_quantity": [3, 0],
            "categories": [[{"id": "1", "name": "Kitchen", "parent": None}], None],
            "brand": ["Quill", None],
        }
    )
    assert pages.kam.push_product_events("product_page", client=client, site_code=site).ok
    data = loaders.read_product_data(
        ["EAN-1", "EAN-2"], client=client, site_code=site, progress=False
    )
    cols = ["ean", "name", "price", "available", "available_quantity", "brand"]
    assert data[cols].astype(object).where(data[cols].notna(), None).values.tolist() == [
        ["EAN-1", "Kettle & co", 29.9, True, 3, "Quill"],
        ["EAN-2", "Théière", 15.0, False, 0, None],
    ]
    assert data["categories"].iloc[0] == [{"id": "1", "name": "Kitchen", "parent": None}]
    moves = pd.DataFrame(
        {
            "ean": ["EAN-1", "EAN-1", "EAN-2", "EAN-1"],
            "kind": ["add_to_cart", "purchase", "purchase", "add_to_cart"],
            "quantity": [2, 1, 4, None],
        }
    )
    assert push_product_events(moves, client=client, site_code=site).ok
    counts = loaders.read_product_counters(
        ["EAN-1", "EAN-2"],
        start="2000-01-01",
        end="2100-01-01",
        client=client,
        site_code=site,
        progress=False,
    )
    assert counts[["ean", "views", "add_to_cart_quantity", "bought_quantity"]].astype(
        object
    ).values.tolist() == [["EAN-1", 1, 3, 1], ["EAN-2", 1, 0, 4]]


def test_maps_merge_and_missing_cells_are_left_out(client, site):
    first = pd.DataFrame(
        {
            "key": ["crm-1", "crm-2"],
            "tier": ["gold", "silver"],
            "score": [1.5, 2.0],
            "audiences": [{"a": [1, 2]}, None],
        }
    )
    assert push_maps(first, client=client, site_code=site, ttl_hours=24).ok
    second = pd.DataFrame(
        {"key": ["crm-1", "crm-2"], "tier": [None, "bronze"], "visits": [3, np.nan]}
    )
    assert second.kam.push_maps(client=client, site_code=site).ok
    maps = loaders.read_maps(["crm-1", "crm-2"], client=client, site_code=site, progress=False)
    got = maps.set_index("key")
    assert got.loc["crm-1", "tier"] == "gold" and got.loc["crm-2", "tier"] == "bronze"
    assert got.loc["crm-1", "audiences"] == {"a": [1, 2]}
    assert got.loc["crm-1", "visits"] == 3 and pd.isna(got.loc["crm-2", "visits"])
    assert got.loc["crm-2", "score"] == 2.0


def test_forget_visitors(client, site):
    df = pd.DataFrame({"visitor_code": ["g1", "g2", "g3"], "goal_id": [1, 2, 3]})
    push_events(df, "conversion", client=client, site_code=site)
    report = forget_visitors(["g1", "g2", "g1", "x" * 101], client=client, site_code=site)
    assert (report.sent, report.invalid_rows, report.requests) == (3, 1, 1)
    assert feed(client, ["g1", "g2", "g3"], site)["visitor_code"].tolist() == ["g3"]
    assert df.iloc[2:].kam.forget(client=client, site_code=site).ok
    assert feed(client, ["g3"], site).empty


def test_forget_splits_a_body_refused_as_too_large(srv, client, site):
    codes = [f"visitor-{i:04d}" for i in range(40)]
    push_events(
        pd.DataFrame({"visitor_code": codes, "goal_id": 1}),
        "conversion",
        client=client,
        site_code=site,
        progress=False,
    ).raise_for_failures()
    srv.options.max_small_body = 100  # about 7 codes a body
    report = forget_visitors(codes + codes[:5], client=client, site_code=site, progress=False)
    assert report.ok and report.sent == 45 and report.requests > report.batches == 1
    assert feed(client, codes, site).empty


def test_reports_never_show_secrets(srv, client, site):
    report = push_events(
        pd.DataFrame({"visitor_code": ["r1"], "goal_id": [1]}),
        "conversion",
        client=client,
        site_code=site,
    )
    text = repr(report) + str(report) + report._repr_html_()
    assert srv.client_secret not in text and "Bearer" not in text
    assert "sent=1" in repr(report) and "<table>" in report._repr_html_()


@pytest.fixture(scope="module")
def demo(_demo_template, tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    shutil.copyfile(_demo_template, db)
    with (
        serve(db=db, seed="demo") as server,
        Client(server.site_codes[0], base_url=server.url) as c,
    ):
        yield server, c


def stored(server, what: str, limit: int) -> list[str]:
    # the Data API has no "list everything" call: take some identifiers from the emulator's store
    return server.state.identifiers(server.site_codes[0], visitors=limit, keys=limit)[what][:limit]


def test_feed_round_trip_to_another_site(demo):
    server, c = demo
    source = server.site_codes[0]
    codes = sorted(stored(server, "visitor_codes", 40))
    original = feed(c, codes, source)
    assert set(original["kind"]) >= {"page", "conversion", "custom_data", "static_data"}
    # issue 9: the feed's own columns, which no event sends, are named (they were ignored)
    unsent = "not sent: 'site_code' .*'visit_started' .*'visit_last_event'"
    with pytest.warns(kp.KameleoonWarning, match=unsent):
        report = original.kam.push_events(client=c, site_code="copy-site", progress=False)
    assert report.ok and report.sent == len(original)
    copy = feed(c, codes, "copy-site")
    assert (copy["site_code"] == "copy-site").all()
    # per visitor (input order), each kind in the order it happened
    chronological = original.sort_values("time", kind="stable").sort_values(
        "visitor_code", kind="stable"
    )
    for kind in FIELDS:
        if kind == "static_data":
            continue
        assert events(copy, kind) == events(chronological, kind), kind
    # the copy lands in one visit, so its static data is the merge: the most recent visit's
    latest = (
        original[original.kind == "static_data"]
        .sort_values("visit")
        .drop_duplicates("visitor_code")
    )
    assert sorted(events(copy, "static_data")) == sorted(events(latest, "static_data"))
    # pushed again: nothing doubles
    with pytest.warns(kp.KameleoonWarning, match=unsent):
        again = original.kam.push_events(client=c, site_code="copy-site")
    assert again.sent == len(original)
    assert len(feed(c, codes, "copy-site")) == len(copy)


def test_product_data_and_maps_round_trip_to_another_site(demo):
    server, c = demo
    eans = stored(server, "eans", 30)
    data = loaders.read_product_data(eans, client=c, progress=False)
    with pytest.warns(kp.KameleoonWarning, match="not sent: 'site_code'"):  # issue 9
        assert data.kam.push_product_events("product_page", client=c, site_code="copy-site").ok
    back = loaders.read_product_data(eans, client=c, site_code="copy-site", progress=False)
    pd.testing.assert_frame_equal(data.drop(columns="site_code"), back.drop(columns="site_code"))
    keys = stored(server, "map_keys", 30)
    maps = loaders.read_maps(keys, client=c, progress=False)
    with pytest.warns(kp.KameleoonWarning, match="not sent: 'site_code'"):  # issue 9
        assert maps.kam.push_maps(client=c, site_code="copy-site").ok
    back = loaders.read_maps(keys, client=c, site_code="copy-site", progress=False)
    pd.testing.assert_frame_equal(maps.drop(columns="site_code"), back.drop(columns="site_code"))
