"""The request path over httpx.MockTransport: retries, errors, batching, limits, progress."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.client import on_request

from .conftest import BASE, Recorder, keys_param


def counters_for(request: httpx.Request) -> httpx.Response:
    keys = keys_param(request)
    return httpx.Response(200, json={k: {"v": len(k), "atcq": 1, "bq": 0} for k in keys})


def flaky(failures: list[httpx.Response | Exception], then=counters_for):
    """A handler that answers ``failures`` in turn, then ``then``."""
    queue = list(failures)
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            item = queue.pop(0) if queue else None
        if isinstance(item, Exception):
            raise item
        return item if item is not None else then(request)

    return handler


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"error": "internal", "message": "boom"}),
        httpx.Response(503, text="down"),
        httpx.Response(408),
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("server disconnected"),
    ],
    ids=["500", "503", "408", "429", "connect", "dropped"],
)
def test_retryable_failures_are_retried(make_client, recorder: Recorder, failure) -> None:
    client = make_client(flaky([failure, failure]))
    answer = client.get_product_counters(["a", "bb"], time_begin=0, time_end=10)
    assert answer == {"a": {"v": 1, "atcq": 1, "bq": 0}, "bb": {"v": 2, "atcq": 1, "bq": 0}}
    assert len(recorder.requests) == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, kp.BadRequestError),
        (403, kp.PermissionDeniedError),
        (404, kp.APIStatusError),
        (413, kp.PayloadTooLargeError),
    ],
)
def test_other_4xx_fail_at_once_with_the_server_message(make_client, recorder, status, error):
    answer = httpx.Response(status, json={"error": "bad", "message": "eans: 'x' is not JSON"})
    client = make_client(lambda request: answer)
    with pytest.raises(error) as info:
        client.get_product_counters(["x"], time_begin=0, time_end=10)
    assert len(recorder.requests) == 1
    text = str(info.value)
    assert "GET /product/productCounters" in text and str(status) in text
    assert "eans: 'x' is not JSON" in text
    assert info.value.response.status_code == status


def test_the_budget_ends_the_retries_with_the_last_status(make_client, recorder) -> None:
    client = make_client(lambda r: httpx.Response(500, text="still down"), retry_budget=0.5)
    with pytest.raises(kp.ServerError, match="still down"):
        client.get_map("k")
    assert len(recorder.requests) >= 2


def test_retry_budget_zero_disables_retries(make_client, recorder) -> None:
    client = make_client(lambda r: httpx.Response(429), retry_budget=0)
    with pytest.raises(kp.RateLimitError):
        client.get_map("k")
    assert len(recorder.requests) == 1


def test_network_failure_after_retries_is_a_transport_error(make_client, recorder) -> None:
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    client = make_client(refuse, retry_budget=0.3)
    with pytest.raises(kp.TransportError, match=r"GET /map/map failed: ConnectError") as info:
        client.get_map("k")
    assert info.value.path == "/map/map" and len(recorder.requests) >= 2


def test_retry_after_is_honoured(make_client, recorder) -> None:
    seen: list[float] = []

    def handler(request):
        seen.append(time.monotonic())
        if len(seen) == 1:
            return httpx.Response(429, headers={"Retry-After": "0.4"})
        return httpx.Response(200, json={"x": 1})

    assert make_client(handler).get_map("k") == {"x": 1}
    assert seen[1] - seen[0] >= 0.4  # a lower bound only: a slow machine can only wait longer


def test_many_keys_are_split_into_calls_of_100_and_merged_in_input_order(make_client, recorder):
    keys = [f"ean-{i:04d}" for i in range(250)][::-1]

    def handler(request):
        asked = keys_param(request)
        # answer in a scrambled order: the merge must restore the input order
        return httpx.Response(200, json={k: {"v": 1} for k in sorted(asked)})

    answer = make_client(handler).get_product_counters(keys, time_begin=0, time_end=1)
    assert list(answer) == keys
    sizes = sorted(len(keys_param(r)) for r in recorder.requests)
    assert sizes == [50, 100, 100]
    asked = [k for r in recorder.requests for k in keys_param(r)]
    assert sorted(asked) == sorted(keys)


def test_concurrency_is_capped(make_client) -> None:
    active = 0
    peak = 0

    async def handler(request):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        return httpx.Response(200, json={k: {} for k in keys_param(request, "keys")})

    client = make_client(handler, max_concurrency=3)
    keys = [f"k{i}" for i in range(1000)]  # 10 calls
    assert list(client.get_maps(keys)) == keys
    assert peak == 3


def test_rate_limit_spreads_requests(make_client, recorder) -> None:
    client = make_client(lambda r: httpx.Response(200, json={}), rate_limit=10)
    keys = [f"k{i}" for i in range(1500)]  # 15 calls at 10 per second
    started = time.monotonic()
    client.get_maps(keys)
    assert time.monotonic() - started >= 0.3
    assert len(recorder.requests) == 15


def test_on_request_counts_completed_requests(make_client) -> None:
    client = make_client(lambda r: httpx.Response(200, json={}))
    counted: list[int] = []

    async def work():
        on_request.set(counted.append)
        await client.async_client.get_maps([f"k{i}" for i in range(301)])

    client.run(work())
    assert sum(counted) == 4


def test_raw_endpoints_send_the_wire_format(make_client, recorder) -> None:
    def handler(request):
        if request.url.path == "/visit/visitor":
            return httpx.Response(200, json={"currentVisit": {"visitorCode": "v"}})
        if request.url.path in ("/map/map", "/map/maps", "/product/productData"):
            return httpx.Response(200, json={})
        return httpx.Response(204)

    client = make_client(handler)
    assert client.get_visitor("v", previous_visits=3, kinds=["page", "custom_data"]) == {
        "currentVisit": {"visitorCode": "v"}
    }
    client.post_visit_events("eventType=page&href=x&nonce=0123456789abcdef", visitor_code="v")
    client.post_visit_events([{"eventType": "page", "href": "x"}], site_code="other")
    client.post_forget(["a", "b"])
    client.post_product_events([{"eventType": "productView", "ean": "e"}], ean="e")
    client.post_maps({"k": {"f": 1}}, ttl_hours=5)
    client.get_product_data(["e"])
    client.get_map("k")
    r = recorder.requests
    q = [dict(x.url.params) for x in r]
    assert q[0] == {
        "siteCode": "s1",
        "visitorCode": "v",
        "maxNumberPreviousVisits": "3",
        "version": "0",
        "currentVisit": "true",
        "page": "true",
        "customData": "true",
    }
    assert (r[1].method, r[1].url.path, r[1].content) == (
        "POST",
        "/visit/events",
        b"eventType=page&href=x&nonce=0123456789abcdef",
    )
    assert q[1] == {"siteCode": "s1", "visitorCode": "v"}
    assert q[2] == {"siteCode": "other", "json": "true"}
    assert json.loads(r[2].content) == [{"eventType": "page", "href": "x"}]
    assert (r[3].url.path, r[3].content) == ("/visit/forget", b"a\nb")
    assert q[4] == {"siteCode": "s1", "ean": "e", "json": "true"}
    assert (q[5], json.loads(r[5].content)) == (
        {"siteCode": "s1", "ttlHours": "5"},
        {"k": {"f": 1}},
    )
    assert q[6] == {"siteCode": "s1", "eans": '["e"]', "all": "true"}
    assert q[7] == {"siteCode": "s1", "key": "k"}
    assert all("authorization" not in x.headers for x in r)  # no credentials: no token
    assert r[0].url.host == "127.0.0.1" and str(r[0].url).startswith(BASE)


def test_raw_request_returns_the_response(make_client) -> None:
    client = make_client(lambda r: httpx.Response(200, json={"ok": True}))
    response = client.request("GET", "/map/map", params={"siteCode": "s1", "key": "k"})
    assert isinstance(response, httpx.Response) and response.json() == {"ok": True}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.get_product_counters([1], time_begin=0, time_end=1), r"eans\[0\] .* 1"),
        (lambda c: c.get_product_counters(["x" * 101], time_begin=0, time_end=1), "101"),
        (lambda c: c.get_product_counters(["a"], time_begin=5, time_end=5), "time_begin"),
        (lambda c: c.get_visitor("v", kinds=["pages"]), "'pages'"),
        (lambda c: c.get_visitor(), "exactly one"),
        (lambda c: c.get_visitor("v", previous_visits=26), "previous_visits"),
        (lambda c: c.get_maps(["ok", None]), r"keys\[1\]"),
        (lambda c: c.post_maps({"k": {}}, ttl_hours=0), "ttl_hours"),
        (lambda c: c.post_visit_events(42), "body"),
    ],
)
def test_bad_input_raises_before_any_request(make_client, recorder, call, message) -> None:
    client = make_client(lambda r: httpx.Response(200, json={}))
    with pytest.raises(kp.ValidationError, match=message):
        call(client)
    assert recorder.requests == []
