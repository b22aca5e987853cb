"""The demo data set: deterministic, realistic in shape, readable through the API (in-process)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from kameleoon_pandas.emulator import DEMO_SITE_CODES, EmulatorState, create_app, seed_state, serve

# One worker: the demo is seeded once.
pytestmark = pytest.mark.xdist_group("demo_seed")

NOW = (time.time_ns() // 1_000_000) - 30 * 60_000  # maps must not have expired by now
DAY = 86_400_000


# Session scope: xdist may interleave other modules' tests on this worker, and a module
# fixture would be made again after each of them.
@pytest.fixture(scope="session")
def demo() -> Iterator[EmulatorState]:
    state = EmulatorState(":memory:")
    assert seed_state(state, "demo", random_seed=0, now_ms=NOW) == DEMO_SITE_CODES
    yield state
    state.close()


def rows(state: EmulatorState, sql: str, *params: object) -> list[tuple]:
    return state._conn.execute(sql, params).fetchall()


def test_volumes_per_site(demo: EmulatorState) -> None:
    for site in DEMO_SITE_CODES:
        (products,) = rows(demo, "SELECT COUNT(*) FROM product_data WHERE site_code = ?", site)[0]
        (visitors,) = rows(
            demo, "SELECT COUNT(DISTINCT visitor_code) FROM visit_events WHERE site_code = ?", site
        )[0]
        (maps,) = rows(demo, "SELECT COUNT(*) FROM maps WHERE site_code = ?", site)[0]
        kinds = dict(
            rows(
                demo,
                "SELECT kind, COUNT(*) FROM visit_events WHERE site_code = ? GROUP BY kind",
                site,
            )
        )
        assert products == 200
        assert 4_500 <= visitors <= 5_000
        assert 200 <= maps <= 400
        assert set(kinds) == {
            "page",
            "conversion",
            "customData",
            "experiment",
            "personalization",
            "geolocation",
            "staticData",
        }
        assert kinds["page"] > kinds["conversion"] > 0


def test_everything_lies_in_the_past_28_days(demo: EmulatorState) -> None:
    anchor = NOW - NOW % 3_600_000
    for table in ("visit_events", "product_events"):
        low, high = rows(demo, f"SELECT MIN(time), MAX(time) FROM {table}")[0]
        assert anchor - 28 * DAY <= low and high < anchor


def test_daily_and_weekly_rhythm_and_a_long_tail(demo: EmulatorState) -> None:
    by_hour = dict(
        rows(demo, "SELECT (time / 3600000) % 24, SUM(views) FROM product_events GROUP BY 1")
    )
    assert by_hour[20] > 3 * by_hour[3]  # evenings are busier than nights
    by_weekday = dict(
        rows(demo, "SELECT ((time / 86400000) + 3) % 7, SUM(views) FROM product_events GROUP BY 1")
    )
    assert by_weekday[6] > by_weekday[1]  # Sunday beats Tuesday
    views = sorted(
        (
            v
            for (v,) in rows(
                demo,
                "SELECT SUM(views) FROM product_events WHERE site_code = 'demosite01' GROUP BY ean",
            )
        ),
        reverse=True,
    )
    assert sum(views[:20]) > sum(views[100:])  # the top 10% outsell the bottom half
    buys = rows(demo, "SELECT SUM(views), SUM(atc), SUM(bought) FROM product_events")[0]
    assert buys[0] > buys[1] > buys[2] > 0


def snapshot(state: EmulatorState) -> list[tuple]:
    data = rows(
        state,
        "SELECT site_code, visitor_code, nonce, time, kind, data FROM visit_events"
        " ORDER BY 1, 2, 3",
    )
    data += rows(state, "SELECT * FROM product_events ORDER BY 1, 2, 3")
    data += rows(state, "SELECT site_code, key, data FROM maps ORDER BY 1, 2")
    return data


def test_the_same_seed_gives_the_same_data_another_seed_replaces_it(demo: EmulatorState) -> None:
    state = EmulatorState(":memory:")
    try:
        seed_state(state, "demo", random_seed=0, now_ms=NOW)
        first = snapshot(state)
        assert first == snapshot(demo)
        seed_state(state, "demo", random_seed=0, now_ms=NOW + DAY)  # already there: a no-op
        assert snapshot(state) == first
        seed_state(state, "demo", random_seed=1, now_ms=NOW)
        assert snapshot(state) != first
        assert state.get_meta("seed:demo") == "1"
    finally:
        state.close()
    with pytest.raises(ValueError, match="'nope'"):
        seed_state(demo, "nope")


@pytest.mark.anyio
async def test_demo_data_reads_back_through_every_endpoint(demo: EmulatorState) -> None:
    transport = httpx.ASGITransport(app=create_app(demo))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
        site = DEMO_SITE_CODES[1]
        eans = [
            e
            for (e,) in rows(
                demo, "SELECT ean FROM product_data WHERE site_code = ? LIMIT 100", site
            )
        ]
        counters = (
            await http.get(
                "/product/productCounters",
                params={
                    "siteCode": site,
                    "eans": json.dumps(eans),
                    "timeBegin": NOW - 7 * DAY,
                    "timeEnd": NOW,
                },
            )
        ).json()
        assert set(counters) == set(eans) and sum(c["v"] for c in counters.values()) > 1_000
        data = (
            await http.get(
                "/product/productData", params={"siteCode": site, "eans": json.dumps(eans[:3])}
            )
        ).json()
        product = data[eans[0]]
        assert {"name", "price", "brand", "categories", "available"} <= set(product)
        assert product["categories"][0]["parent"] is None

        mapping, visitor = rows(
            demo,
            "SELECT mapping_value, visitor_code FROM mappings WHERE site_code = ? LIMIT 1",
            site,
        )[0]
        answer = (
            await http.get(
                "/visit/visitor",
                params={
                    "siteCode": site,
                    "mappingValue": mapping,
                    "maxNumberPreviousVisits": 25,
                    "all": "true",
                },
            )
        ).json()
        visits = answer["previousVisits"]  # all historical: no visit is open
        assert "currentVisit" not in answer
        assert all(v["visitorCode"] == visitor for v in visits)
        starts = [v["timeStarted"] for v in visits]
        assert starts == sorted(starts, reverse=True)
        for visit in visits:
            static = visit["staticDataEvent"]["data"]
            assert static["browser"] in {
                "CHROME",
                "INTERNET_EXPLORER",
                "FIREFOX",
                "SAFARI",
                "OPERA",
                "OTHER",
            }
            assert static["deviceType"] in {"DESKTOP", "PHONE", "TABLET"} and "os" in static
            assert visit["pageEvents"][0]["data"]["title"] == "Home"
        numbers = [v["staticDataEvent"]["data"]["visitNumber"] for v in visits]
        assert numbers == list(range(len(visits), 0, -1))

        stored = (await http.get("/map/map", params={"siteCode": site, "key": mapping})).json()
        if stored:  # most linked CRM ids have a map
            assert "warehouseAudiences" in stored
        maps = (
            await http.get("/map/maps", params={"siteCode": site, "keys": '["config:banner"]'})
        ).json()
        assert maps["config:banner"]["active"] is True


def test_serve_on_a_seeded_state_reports_the_demo_sites(demo: EmulatorState) -> None:
    with serve(db=demo, seed="demo", random_seed=0) as srv:  # already seeded: instant
        assert srv.site_codes == ["demosite01", "demosite02"]
        assert srv.env()["KAMELEOON_SITE_CODE"] == "demosite01"
        assert srv.env()["KAMELEOON_SITE_CODES"] == "demosite01,demosite02"
        response = httpx.get(f"{srv.url}/map/maps", params={"siteCode": "demosite02", "keys": "[]"})
        assert response.json() == {}
    # The state was lent, not owned: still open after the server stopped.
    assert rows(demo, "SELECT COUNT(*) FROM sites")[0][0] == 2


def test_serve_refuses_unknown_options() -> None:
    with pytest.raises(TypeError, match="fault_rte"), serve(fault_rte=0.1):
        pass


def test_identifiers_list_what_is_stored(demo: EmulatorState) -> None:
    site = DEMO_SITE_CODES[0]
    found = demo.identifiers(site, visitors=50, keys=20)
    assert found["eans"] == sorted(
        r[0] for r in rows(demo, "SELECT ean FROM product_data WHERE site_code = ?", site)
    )
    assert len(found["visitor_codes"]) == 50 == len(set(found["visitor_codes"]))
    last_seen = dict(
        rows(
            demo,
            "SELECT visitor_code, MAX(time) FROM visit_events WHERE site_code = ? "
            "GROUP BY visitor_code",
            site,
        )
    )
    recency = [last_seen[code] for code in found["visitor_codes"]]
    assert recency == sorted(recency, reverse=True)
    assert max(last_seen.values()) == recency[0]
    assert len(found["map_keys"]) == 20 and found["map_keys"] == sorted(found["map_keys"])
    assert 0 < len(found["mapping_values"]) <= 20
    assert demo.identifiers("no-such-site") == {
        "eans": [],
        "visitor_codes": [],
        "map_keys": [],
        "mapping_values": [],
    }
