"""Injected faults and latency, over real HTTP (dropped connections need a real socket)."""

from __future__ import annotations

import asyncio
import collections
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
