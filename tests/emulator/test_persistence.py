"""A file database keeps everything across restarts (two real servers, one after the other)."""

from __future__ import annotations

from pathlib import Path

import httpx

from kameleoon_pandas.emulator import serve

from .helpers import feed, line, post_events


def test_a_restart_on_the_same_file_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite"
    with serve(db=db) as first, httpx.Client(base_url=first.url) as http:
        post_events(http, "persist01", line(eventType="page", href="kept", visitorCode="p1"))
        http.post("/map/maps", params={"siteCode": "persist01"}, json={"key": {"a": 1}})
        http.post(
            "/product/events",
            params={"siteCode": "persist01"},
            content=line(eventType="productPage", ean="P1", name="Kept"),
        )
        post_events(http, "persist01", "eventType=bogus")
        first_port = first.port

    with serve(db=str(db)) as second, httpx.Client(base_url=second.url) as http:
        assert second.site_codes == ["persist01"]  # the stored site codes, without a seed
        pages = feed(http, "persist01", visitorCode="p1")["currentVisit"]["pageEvents"]
        assert [p["data"]["href"] for p in pages] == ["kept"]
        assert http.get("/map/map", params={"siteCode": "persist01", "key": "key"}).json() == {
            "a": 1
        }
        data = http.get("/product/productData", params={"siteCode": "persist01", "eans": '["P1"]'})
        assert data.json() == {"P1": {"name": "Kept"}}
        assert [r["line"] for r in second.state.rejected_lines("persist01")] == [1]
        # Events written after the restart still come after the old ones.
        post_events(http, "persist01", line(eventType="page", href="new", visitorCode="p1"))
        pages = feed(http, "persist01", visitorCode="p1")["currentVisit"]["pageEvents"]
        assert [p["data"]["href"] for p in pages] == ["kept", "new"]
    assert db.exists() and first_port > 0


def test_events_without_a_nonce_stay_distinct_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "nonceless.sqlite"
    # The browser engine sends product events without a nonce: each one is a new event.
    buys = "\n".join(["eventType=productBuy&ean=N1"] * 3)
    for _ in range(2):  # 3 buys, a restart, 3 more buys
        with serve(db=db) as srv, httpx.Client(base_url=srv.url) as http:
            response = http.post("/product/events", params={"siteCode": "nonce01"}, content=buys)
            assert response.status_code == 204
    with serve(db=db) as srv, httpx.Client(base_url=srv.url) as http:
        counters = http.get(
            "/product/productCounters", params={"siteCode": "nonce01", "eans": '["N1"]'}
        ).json()
    assert counters == {"N1": {"v": 0, "atcq": 0, "bq": 6}}
