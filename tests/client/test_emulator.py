"""Every loader against the emulator over real loopback HTTP: exact values, faults, auth, threads.

The data is pushed through the raw HTTP API first (``Client.post_*``), then read back with the
loaders and compared value by value with what was pushed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.emulator import serve
from kameleoon_pandas.frames.schemas import (
    MAP_KEYS,
    PRODUCT_ATTRIBUTES,
    PRODUCT_COUNTERS,
    VISITOR_FEED,
    conform,
)

SITE = "itestsite"
_nonce = itertools.count(1)


def nonce() -> str:
    return f"{next(_nonce):016x}"


def connect(srv, **overrides) -> kp.Client:
    settings = dict(
        site_code=SITE,
        base_url=srv.url,
        token_url=srv.token_url,
        client_id=srv.client_id,
        client_secret=srv.client_secret,
        retry_budget=30.0,
    )
    settings.update(overrides)
    return kp.Client(**settings)


VISITORS = [f"visitor{i:03d}" for i in range(40)]
EANS = [f"EAN-{i:05d}" for i in range(230)]  # more than 2 calls' worth
MAP_DATA = {
    f"user-{i:03d}": {"tier": ["gold", "silver"][i % 2], "score": i, "seen": {"n": i}}
    for i in range(210)
}


def visit_events(i: int, code: str) -> list[dict]:
    events = [
        {
            "eventType": "staticData",
            "deviceType": "PHONE",
            "browserIndex": 3,
            "os": "IOS",
            "browserVersion": 17.5,
            "visitNumber": 1 + i % 3,
        },
        {"eventType": "page", "href": f"https://shop.example/p/{i}", "title": f"Product {i}"},
        {"eventType": "geolocation", "country": "France", "region": "Bretagne", "city": "Brest"},
        {"eventType": "customData", "index": 2, "valuesCountMap": {"gold": 2, f"seg{i}": 1}},
        {"eventType": "experiment", "id": 500 + i % 2, "variationId": 900 + i},
    ]
    if i % 2 == 0:
        events.append({"eventType": "conversion", "goalId": 1001, "revenue": 10.25 * i})
    if i == 1:
        events.append({"eventType": "personalization", "id": 71, "variationId": 7101})
        events.append({"eventType": "conversion", "goalId": 1002, "negative": True})
    for e in events:
        e.update(visitorCode=code, nonce=nonce())
    if i < 5:
        events[0]["mappingValue"] = f"crm-{i}"
    return events


def expected_feed(codes: list[str]) -> pd.DataFrame:
    """The rows the pushed events must come back as (times checked separately)."""
    rows = []
    for i, code in enumerate(codes):
        base = {"site_code": SITE, "visitor_code": code, "visit": 0}
        rows.append(
            base
            | {
                "kind": "static_data",
                "device_type": "PHONE",
                "browser": "SAFARI",
                "os": "IOS",
                "browser_version": 17.5,
                "visit_number": 1 + i % 3,
            }
        )
        rows.append(
            base
            | {
                "kind": "page",
                "href": f"https://shop.example/p/{i}",
                "title": f"Product {i}",
                "referrers_indices": [],  # always in the feed, [] when none were sent
            }
        )
        rows.append(
            base
            | {"kind": "geolocation", "country": "France", "region": "Bretagne", "city": "Brest"}
        )
        for value, count in (("gold", 2), (f"seg{i}", 1)):
            rows.append(
                base
                | {
                    "kind": "custom_data",
                    "custom_data_index": 2,
                    "value": value,
                    "count": count,
                    "overwrite": True,
                }
            )
        rows.append(
            base | {"kind": "experiment", "experiment_id": 500 + i % 2, "variation_id": 900 + i}
        )
        if i % 2 == 0:
            rows.append(
                base
                | {"kind": "conversion", "goal_id": 1001, "revenue": 10.25 * i, "negative": False}
            )
        if i == 1:
            rows.append(
                base | {"kind": "personalization", "personalization_id": 71, "variation_id": 7101}
            )
            rows.append(
                base | {"kind": "conversion", "goal_id": 1002, "revenue": 0.0, "negative": True}
            )

    return conform(_lists_or_none(pd.DataFrame(rows)), VISITOR_FEED)


def _lists_or_none(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas fills the rows without referrers_indices with NaN; the loader gives None."""
    if "referrers_indices" in frame:
        frame["referrers_indices"] = [
            v if isinstance(v, list) else None for v in frame["referrers_indices"]
        ]
    return frame


TIME_COLUMNS = ["visit_started", "visit_last_event", "time"]
SORT = ["visitor_code", "kind", "goal_id", "value"]


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return (
        frame.drop(columns=TIME_COLUMNS)
        .sort_values(SORT, kind="stable", na_position="first")
        .reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def srv() -> Iterator:
    with serve(require_auth=True) as server:
        yield server


@pytest.fixture(scope="module")
def pushed(srv) -> dict:
    """Push visits, products and maps through the raw API; return what and when."""
    with connect(srv) as client:
        before = pd.Timestamp.now(tz="UTC").floor("ms")
        events = [e for i, code in enumerate(VISITORS) for e in visit_events(i, code)]
        half = len(events) // 2
        client.post_visit_events(events[:half])  # JSON
        client.post_visit_events(_as_lines(events[half:]))  # lines
        products = []
        for i, ean in enumerate(EANS):
            attributes = {
                "name": f"Item {i}",
                "price": 9.5 + i,
                "available": i % 3 != 0,
                "availableQuantity": i,
                "brand": "Nordvik",
                "categories": [{"id": 11, "name": "Shirts", "parent": 1}],
                "tags": ["new"] if i % 2 else [],
                "rating": 4.5,
                "colourName": "blue",
            }
            products.append(
                {"eventType": "productPage", "ean": ean, "nonce": nonce(), **attributes}
            )
            products += [
                {"eventType": "productPage", "ean": ean, "nonce": nonce()} for _ in range(i % 3)
            ]
            products.append(
                {
                    "eventType": "productAddToCart",
                    "ean": ean,
                    "quantity": 1 + i % 4,
                    "nonce": nonce(),
                }
            )
            if i % 5 == 0:
                products.append(
                    {"eventType": "productBuy", "ean": ean, "quantity": 2, "nonce": nonce()}
                )

        client.post_product_events(products)
        client.post_maps(MAP_DATA)
        after = pd.Timestamp.now(tz="UTC").ceil("ms")
    assert srv.state.rejected_lines(SITE) == []
    return {"before": before, "after": after}


def _as_lines(events: list[dict]) -> str:
    import json
    from urllib.parse import quote

    def encode(value: object) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return quote(json.dumps(value), safe="")
        return quote(str(value), safe="")

    return "\n".join("&".join(f"{k}={encode(v)}" for k, v in e.items()) for e in events)


# -- every loader, values compared exactly -----------------------------------------------------


def test_read_visitor_feeds_returns_what_was_pushed(srv, pushed) -> None:
    codes = [*VISITORS, "never-seen"]
    with connect(srv) as client:
        frame = kp.read_visitor_feeds(codes, client=client)
    assert dict(frame.dtypes.astype(str)) == dict(VISITOR_FEED)
    pd.testing.assert_frame_equal(comparable(frame), comparable(expected_feed(VISITORS)))
    for column in TIME_COLUMNS:
        assert frame[column].between(pushed["before"], pushed["after"]).all(), column
    assert frame["visitor_code"].unique().tolist() == VISITORS  # input order


def test_read_visitor_feeds_kinds_and_mapping_value(srv, pushed) -> None:
    with connect(srv) as client:
        pages = kp.read_visitor_feeds(VISITORS[:3], kinds=["page", "conversion"], client=client)
        mapped = kp.read_visitor_feeds(["crm-0", "crm-3"], by="mapping_value", client=client)
    assert set(pages["kind"]) == {"page", "conversion"}
    assert pages["href"].dropna().tolist() == [f"https://shop.example/p/{i}" for i in range(3)]
    assert mapped["visitor_code"].unique().tolist() == [VISITORS[0], VISITORS[3]]
    assert mapped["mapping_value"].unique().tolist() == ["crm-0", "crm-3"]
    expected = expected_feed(VISITORS)
    expected = expected[expected["visitor_code"].isin([VISITORS[0], VISITORS[3]])]
    pd.testing.assert_frame_equal(
        comparable(mapped.drop(columns="mapping_value")), comparable(expected)
    )


def test_read_product_counters_returns_what_was_pushed(srv, pushed) -> None:
    start = pushed["before"].floor("h") - pd.Timedelta(hours=2)
    end = pushed["after"].floor("h") + pd.Timedelta(hours=1)
    with connect(srv) as client:
        frame = kp.read_product_counters(EANS, start=start, end=end, freq="1h", client=client)
    assert dict(frame.dtypes.astype(str)) == dict(PRODUCT_COUNTERS)
    edges = pd.date_range(start, end, freq="1h")
    hours = len(edges) - 1
    assert len(frame) == len(EANS) * hours
    assert frame["ean"].tolist() == [e for e in EANS for _ in range(hours)]
    assert frame["window_start"].tolist() == list(edges[:-1]) * len(EANS)
    assert frame["window_end"].tolist() == list(edges[1:]) * len(EANS)
    totals = frame.groupby("ean", sort=False)[["views", "add_to_cart_quantity", "bought_quantity"]]
    totals = totals.sum()
    i = pd.Series(range(len(EANS)), index=pd.Index(EANS, name="ean"))
    assert totals["views"].tolist() == (1 + i % 3).tolist()
    assert totals["add_to_cart_quantity"].tolist() == (1 + i % 4).tolist()
    assert totals["bought_quantity"].tolist() == ((i % 5 == 0) * 2).tolist()
    # everything landed in the window holding the push time; the others are zeros
    hit = frame["window_start"].le(pushed["before"]) & frame["window_end"].gt(pushed["after"])
    if hit.sum() == len(EANS):  # the push did not straddle an hour boundary
        assert frame.loc[~hit, ["views", "add_to_cart_quantity"]].eq(0).all().all()


def test_read_product_data_returns_what_was_pushed(srv, pushed) -> None:
    with connect(srv) as client, pytest.warns(kp.KameleoonWarning, match="1 of 231 EANs"):
        frame = kp.read_product_data([*EANS, "UNKNOWN-EAN"], client=client)
    declared = [column for column, _ in PRODUCT_ATTRIBUTES.values()]
    assert frame.columns.tolist() == ["site_code", "ean", *declared, "colour_name"]
    assert frame["ean"].tolist() == EANS
    i = pd.Series(range(len(EANS)))
    assert frame["name"].tolist() == [f"Item {n}" for n in i]
    assert frame["price"].tolist() == (9.5 + i).tolist()
    assert frame["available"].tolist() == (i % 3 != 0).tolist()
    assert frame["available_quantity"].tolist() == i.tolist()
    assert frame["categories"].tolist() == [[{"id": 11, "name": "Shirts", "parent": 1}]] * len(EANS)
    assert frame["tags"].tolist() == [["new"] if n % 2 else [] for n in i]
    assert frame["colour_name"].tolist() == ["blue"] * len(EANS)
    assert str(frame["price"].dtype) == "float64" and str(frame["name"].dtype) == "string"
    assert frame["old_price"].isna().all()


def test_read_maps_returns_what_was_pushed(srv, pushed) -> None:
    keys = [*list(MAP_DATA)[::-1], "nobody"]
    with connect(srv) as client, pytest.warns(kp.KameleoonWarning, match="1 of 211 keys"):
        frame = kp.read_maps(keys, client=client)
    expected = pd.DataFrame(
        {
            "site_code": SITE,
            "key": keys[:-1],
            "tier": [MAP_DATA[k]["tier"] for k in keys[:-1]],
            "score": [MAP_DATA[k]["score"] for k in keys[:-1]],
            "seen": [MAP_DATA[k]["seen"] for k in keys[:-1]],
        }
    ).astype({"site_code": "string", "key": "string", "tier": "string", "score": "Int64"})
    pd.testing.assert_frame_equal(frame, expected)
    assert list(MAP_KEYS) == frame.columns[:2].tolist()


def test_empty_inputs_and_answers_give_empty_typed_frames(srv, pushed) -> None:
    with connect(srv) as client:
        feeds = kp.read_visitor_feeds(["never-seen"], client=client)
        none = kp.read_visitor_feeds([], client=client)
        counters = kp.read_product_counters([], client=client)
        with pytest.warns(kp.KameleoonWarning):
            maps = kp.read_maps(["nobody"], client=client)
    for frame, schema in (
        (feeds, VISITOR_FEED),
        (none, VISITOR_FEED),
        (counters, PRODUCT_COUNTERS),
        (maps, MAP_KEYS),
    ):
        assert len(frame) == 0
        assert dict(frame.dtypes.astype(str)) == dict(schema)


# -- faults: the same frames with 20% of requests failing ----------------------------------


def test_every_loader_returns_the_same_frame_under_faults(srv, pushed) -> None:
    start, end = pushed["before"] - pd.Timedelta(hours=3), pushed["after"]

    def load_all(client: kp.Client) -> list[pd.DataFrame]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", kp.KameleoonWarning)
            return [
                kp.read_visitor_feeds(VISITORS, client=client),
                kp.read_product_counters(EANS, start=start, end=end, freq="30min", client=client),
                kp.read_product_data(EANS, client=client),
                kp.read_maps(list(MAP_DATA), client=client),
            ]

    with connect(srv) as client:
        clean = load_all(client)
        assert client.async_client.attempts >= 40 + 6 * 3 + 3 + 3
    srv.options.fault_rate = 0.2
    try:
        # 0.2 ** 16: no request uses up its attempts (with the default 5, ~2% of runs did)
        with connect(srv, max_retries=15) as client:
            faulty = load_all(client)
            sent = client.async_client.attempts
    finally:
        srv.options.fault_rate = 0.0
    needed = 1 + 40 + 6 * 3 + 3 + 3  # token + requests
    assert sent > needed  # faults did happen, and were retried
    for got, want in zip(faulty, clean, strict=True):
        pd.testing.assert_frame_equal(got, want)


# -- auth ----------------------------------------------------------------------------------


def test_wrong_credentials_give_a_clear_authentication_error(srv, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "definitely-not-the-secret"
    with connect(srv, client_secret=wrong) as client, pytest.raises(kp.AuthenticationError) as info:
        kp.read_maps(["k"], client=client)
    message = str(info.value)
    assert "token endpoint refused the credentials" in message
    assert "'demo-client'" in message
    assert wrong not in message and wrong not in caplog.text
    assert srv.client_secret not in message


def test_no_credentials_on_an_auth_only_server_is_an_authentication_error(srv) -> None:
    with (
        kp.Client(SITE, base_url=srv.url) as client,
        pytest.raises(kp.AuthenticationError, match="GET /map/maps -> 401"),
    ):
        kp.read_maps(["k"], client=client)


def test_a_token_expiring_mid_run_is_refreshed_without_a_failed_call() -> None:
    with serve(require_auth=True, token_ttl=0.6, latency_ms=5) as server, connect(server) as client:
        client.post_maps({f"m{i}": {"i": i} for i in range(50)})
        provider = client.async_client._token_provider
        started = time.monotonic()
        frames = []
        # Run for several token lifetimes (~0.3 s of use each): until the third refresh, with a
        # deadline generous enough for a loaded CI machine.
        while provider.refreshes < 3 and time.monotonic() - started < 30.0:
            frames.append(kp.read_maps([f"m{i}" for i in range(50)], client=client))
        assert provider.refreshes >= 3
        assert len(frames) >= 3
        for frame in frames:
            assert frame["i"].tolist() == list(range(50))

        # The 401 path: the client still trusts its token, the server says it expired.
        token = provider._token
        token.expires_at = provider.clock() + 3600
        real_clock = server.state.clock
        server.state.clock = lambda: real_clock() + 0.7  # the server's clock jumps past expiry
        before = provider.refreshes
        assert kp.read_maps(["m1"], client=client)["i"].tolist() == [1]
        assert provider.refreshes == before + 1


# -- the sync client in a running loop and from threads, over real HTTP ---------------------


def test_loaders_from_a_running_loop_and_from_threads(srv, pushed) -> None:
    with connect(srv) as client:
        reference = kp.read_maps(list(MAP_DATA)[:30], client=client)

        async def cell() -> pd.DataFrame:
            return kp.read_maps(list(MAP_DATA)[:30], client=client)

        pd.testing.assert_frame_equal(asyncio.run(cell()), reference)
        with ThreadPoolExecutor(4) as pool:
            frames = list(
                pool.map(lambda _: kp.read_maps(list(MAP_DATA)[:30], client=client), range(8))
            )
        for frame in frames:
            pd.testing.assert_frame_equal(frame, reference)


def test_default_client_from_the_environment(srv, pushed, monkeypatch) -> None:
    from kameleoon_pandas import client as _client_module

    monkeypatch.setattr(_client_module, "_default_client", None)
    for name, value in srv.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAMELEOON_SITE_CODE", SITE)
    try:
        frame = kp.read_maps(list(MAP_DATA)[:5])
        assert frame["key"].tolist() == list(MAP_DATA)[:5]
    finally:
        if _client_module._default_client is not None:
            _client_module._default_client.close()


# -- the demo data set: several visits per visitor, against a naive reading of the raw JSON ----


def naive_feed(answers: dict[str, dict], site: str) -> pd.DataFrame:
    """A deliberately plain, row-by-row reading of raw feeds: the oracle for the loader."""
    from kameleoon_pandas.frames.schemas import FEED_FIELDS, FEED_KINDS

    rows = []
    for code, answer in answers.items():
        visits = [(0, answer["currentVisit"])] if answer.get("currentVisit") else []
        visits += list(enumerate(answer.get("previousVisits", []), start=1))
        for number, v in visits:
            for kind, key in FEED_KINDS.items():
                events = v.get(key) or []
                for event in [events] if isinstance(events, dict) else events:
                    row = {
                        "site_code": site,
                        "visitor_code": v.get("visitorCode", code),
                        "visit": number,
                        "visit_started": v["timeStarted"],
                        "visit_last_event": v["timeLastEvent"],
                        "kind": kind,
                        "time": event["time"],
                    }
                    for wire, column in FEED_FIELDS[kind].items():
                        if wire in event["data"]:
                            row[column] = event["data"][wire]
                    if kind == "custom_data":
                        for value, count in event["data"]["valuesCountMap"].items():
                            rows.append(row | {"value": value, "count": count})
                    else:
                        rows.append(row)
    frame = _lists_or_none(pd.DataFrame(rows))
    for column in TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    frame = conform(frame, VISITOR_FEED)
    return frame.sort_values(
        ["visitor_code", "visit", "time", "kind", "value", "href"], kind="stable"
    ).reset_index(drop=True)


def test_demo_visitors_with_previous_visits_match_the_raw_answers(demo_db) -> None:
    import sqlite3

    db = demo_db
    with serve(db=str(db), seed="demo") as server:
        site = server.site_codes[0]
        with sqlite3.connect(db) as conn:
            codes = [
                r[0]
                for r in conn.execute(
                    "SELECT visitor_code FROM visit_events WHERE site_code = ?"
                    " GROUP BY visitor_code HAVING COUNT(*) > 20 ORDER BY visitor_code LIMIT 30",
                    (site,),
                )
            ]
        assert len(codes) == 30
        with connect(server, site_code=site) as client:
            frame = kp.read_visitor_feeds(codes, client=client)
            raw = {code: client.get_visitor(code, previous_visits=25) for code in codes}
            two = kp.read_visitor_feeds(
                codes, previous_visits=2, current_visit=False, client=client
            )
    assert frame["visit"].max() >= 2  # the demo data has several visits per visitor
    assert frame["visitor_code"].unique().tolist() == codes
    ordered = frame.sort_values(
        ["visitor_code", "visit", "time", "kind", "value", "href"], kind="stable"
    ).reset_index(drop=True)
    pd.testing.assert_frame_equal(ordered, naive_feed(raw, site))
    assert two["visit"].between(1, 2).all()
    subset = frame[frame["visit"].between(1, 2)].reset_index(drop=True)
    pd.testing.assert_frame_equal(two.reset_index(drop=True), subset)
