"""Injected faults and latency, over real HTTP (dropped connections need a real socket)."""

from __future__ import annotations

import asyncio
import collections
import re
import time

import httpx
import pytest

from kameleoon_pandas.emulator import EmulatorServer, EmulatorState, create_app
from kameleoon_pandas.emulator.faults import InjectedDrop

from .helpers import feed, line, post_events


def outcome(http: httpx.Client, site: str) -> str:
    try:
        response = http.get("/map/map", params={"siteCode": site, "key": "k"})
    except httpx.TransportError:
        return "drop"
    return str(response.status_code)


def test_faults_are_429_500_and_dropped_connections(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    emu.options.fault_rate = 1.0
    seen = collections.Counter(outcome(http, site) for _ in range(90))
    assert set(seen) == {"429", "500", "drop"}
    assert min(seen.values()) >= 10  # in about equal parts
    emu.options.fault_rate = 0.0
    assert outcome(http, site) == "200"


def test_a_429_carries_retry_after_and_an_error_body(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    emu.options.fault_rate = 1.0
    for _ in range(200):
        try:
            response = http.get("/map/map", params={"siteCode": site, "key": "k"})
        except httpx.TransportError:
            continue
        if response.status_code == 429:
            assert response.headers["retry-after"] == "0"
            assert response.json()["error"] == "rate_limited"
            return
    pytest.fail("no 429 in 200 faulty requests")


def test_faulted_writes_store_nothing(http: httpx.Client, emu: EmulatorServer, site: str) -> None:
    emu.options.fault_rate = 1.0
    for _ in range(20):
        try:
            response = post_events(
                http, site, line(eventType="page", href="x", visitorCode="fault")
            )
        except httpx.TransportError:
            continue
        assert response.status_code in (429, 500)
    emu.options.fault_rate = 0.0
    assert feed(http, site, visitorCode="fault") == {}


def test_the_token_endpoint_is_never_faulted(http: httpx.Client, emu: EmulatorServer) -> None:
    emu.options.fault_rate = 1.0
    for _ in range(10):
        response = http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": emu.client_id,
                "client_secret": emu.client_secret,
            },
        )
        assert response.status_code == 200


def test_the_server_survives_dropped_connections(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    emu.options.fault_rate = 1.0
    for _ in range(30):
        outcome(http, site)
    emu.options.fault_rate = 0.0
    with httpx.Client(base_url=emu.url) as fresh:
        assert fresh.get("/map/map", params={"siteCode": site, "key": "k"}).status_code == 200


@pytest.mark.anyio
async def test_latency_does_not_block_other_requests(emu: EmulatorServer, site: str) -> None:
    # A latency long against what a loaded CI machine adds, so the margins below stay wide.
    latency, requests = 1.0, 10
    emu.options.latency_ms = latency * 1000
    async with httpx.AsyncClient(base_url=emu.url) as client:
        began = time.perf_counter()
        responses = await asyncio.gather(
            *(
                client.get("/map/map", params={"siteCode": site, "key": "k"})
                for _ in range(requests)
            )
        )
        elapsed = time.perf_counter() - began
    assert all(r.status_code == 200 for r in responses)
    assert elapsed >= latency  # the latency is there
    # but ten requests waited together, not one after another (10 s): under half of that
    assert elapsed < requests * latency / 2


@pytest.mark.anyio
async def test_in_process_a_drop_raises_to_the_caller() -> None:
    state = EmulatorState(":memory:")
    from kameleoon_pandas.emulator import EmulatorOptions

    app = create_app(state, EmulatorOptions(fault_rate=1.0))
    transport = httpx.ASGITransport(app=app)
    kinds = set()
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        for _ in range(60):
            try:
                kinds.add(
                    (await client.get("/map/map", params={"siteCode": "s", "key": "k"})).status_code
                )
            except InjectedDrop:
                kinds.add("drop")
    state.close()
    assert kinds == {429, 500, "drop"}


def test_lost_ack_stores_the_request_then_drops_the_answer(
    http: httpx.Client, emu: EmulatorServer, site: str
) -> None:
    emu.options.faults = ("lost-ack",)
    emu.options.fault_rate = 1.0
    sent = line(eventType="conversion", goalId=5, revenue=2.5, visitorCode="lost")
    with pytest.raises(httpx.TransportError):  # the answer never comes
        post_events(http, site, sent)
    with pytest.raises(httpx.TransportError):
        post_events(http, site, sent)  # the client's retry, same nonce
    emu.options.fault_rate = 0.0
    conversions = feed(http, site, visitorCode="lost")["currentVisit"]["conversionEvents"]
    assert [c["data"]["revenue"] for c in conversions] == [2.5]  # stored once
    with httpx.Client(base_url=emu.url) as fresh:  # and the server is fine
        assert fresh.get("/map/map", params={"siteCode": site, "key": "k"}).status_code == 200


def test_the_fault_kinds_are_selectable(http: httpx.Client, emu: EmulatorServer, site: str) -> None:
    emu.options.fault_rate = 1.0
    emu.options.faults = ("429",)
    assert {outcome(http, site) for _ in range(20)} == {"429"}
    emu.options.faults = ("500", "lost-ack")
    seen = collections.Counter(outcome(http, site) for _ in range(60))
    assert set(seen) == {"500", "drop"} and min(seen.values()) >= 10
    emu.options.faults = ()  # no kind: no fault, whatever the rate
    assert {outcome(http, site) for _ in range(10)} == {"200"}
    with pytest.raises(ValueError, match="'nope'"):
        emu.options.faults = ("500", "nope")
    assert emu.options.faults == ()


def test_the_default_fault_kinds_never_store_anything() -> None:
    from kameleoon_pandas.emulator import EmulatorOptions

    assert EmulatorOptions().faults == ("429", "500", "drop")


@pytest.mark.anyio
async def test_in_process_a_lost_ack_stores_then_raises() -> None:
    from kameleoon_pandas.emulator import EmulatorOptions

    state = EmulatorState(":memory:")
    app = create_app(state, EmulatorOptions(fault_rate=1.0, faults=("lost-ack",)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        with pytest.raises(InjectedDrop):
            await client.post(
                "/visit/events",
                params={"siteCode": "s"},
                content=line(eventType="page", href="kept", visitorCode="in"),
            )
    assert [row[3] for row in state.visitor_events("s", ["in"])] == ["page"]
    state.close()


def test_the_access_log_names_method_path_status_and_time(
    http: httpx.Client, emu: EmulatorServer, site: str, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from kameleoon_pandas.emulator.faults import ACCESS_LOGGER

    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    http.get("/map/map", params={"siteCode": site, "key": "k"})  # off: nothing logged
    emu.options.access_log = True
    http.get("/map/map", params={"siteCode": site, "key": "k"})
    post_events(http, site, line(eventType="page", href="x", visitorCode="logged"))
    http.get("/nowhere")
    emu.options.fault_rate, emu.options.faults = 1.0, ("500",)
    http.get("/map/map", params={"siteCode": site, "key": "k"})

    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]

    # A request is logged once its answer has gone out: the last line may trail the answer.
    deadline = time.monotonic() + 5
    while len(logged()) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    lines = logged()
    assert len(lines) == 4, lines
    pattern = r"(GET|POST) /[a-z/]+ \d{3} \d+\.\d ms( \(.+\))?"
    assert all(re.fullmatch(pattern, text) for text in lines), lines
    assert lines[0].startswith("GET /map/map 200 ")
    assert lines[1].startswith("POST /visit/events 204 ")
    assert lines[2].startswith("GET /nowhere 404 ")
    assert lines[3].startswith("GET /map/map 500 ") and lines[3].endswith("(injected 500)")
